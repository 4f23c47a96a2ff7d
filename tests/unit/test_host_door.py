"""The Host is the one door to paths: reads follow links inside the root, writes never leave it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dockwiz.host import Host, HostPathError


@pytest.fixture
def root_and_outside(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "etc" / "docker").mkdir(parents=True)
    outside.mkdir()
    return root, outside


def test_write_through_a_link_out_of_the_root_is_refused_naming_the_link(
    root_and_outside: tuple[Path, Path],
) -> None:
    root, outside = root_and_outside
    (root / "etc" / "docker" / "tls").symlink_to(outside)
    host = Host(root)
    with pytest.raises(HostPathError) as err:
        host.writable("/etc/docker/tls/server-key.pem")
    assert "/etc/docker/tls is a symlink to" in str(err.value)
    assert str(outside) in str(err.value)


def test_a_final_component_linking_out_is_refused(root_and_outside: tuple[Path, Path]) -> None:
    root, outside = root_and_outside
    (outside / "daemon.json").write_text("{}")
    (root / "etc" / "docker" / "daemon.json").symlink_to(outside / "daemon.json")
    with pytest.raises(HostPathError):
        Host(root).writable("/etc/docker/daemon.json")


def test_links_that_stay_inside_the_root_are_fine(root_and_outside: tuple[Path, Path]) -> None:
    root, _ = root_and_outside
    (root / "srv").mkdir()
    (root / "etc" / "docker" / "tls").symlink_to("../../srv")
    host = Host(root)
    assert host.writable("/etc/docker/tls/x.pem") == root / "etc" / "docker" / "tls" / "x.pem"


def test_reads_follow_absolute_links_inside_the_root(root_and_outside: tuple[Path, Path]) -> None:
    root, _ = root_and_outside
    (root / "srv").mkdir()
    (root / "srv" / "cfg.json").write_text('{"debug": true}')
    (root / "etc" / "docker" / "daemon.json").symlink_to("/srv/cfg.json")
    host = Host(root)
    assert host.resolve_host_path("/etc/docker/daemon.json") == "/srv/cfg.json"
    assert host.resolve("/etc/docker/daemon.json").read_text() == '{"debug": true}'


@pytest.mark.parametrize("linked", ["etc/docker/tls", "etc/dockwiz"])
def test_certs_init_writes_nothing_outside_the_root(
    root_and_outside: tuple[Path, Path], linked: str
) -> None:
    """Issue 12 §2: a symlinked tls or dockwiz dir used to receive the CA and server keys."""
    root, outside = root_and_outside
    (root / linked).parent.mkdir(parents=True, exist_ok=True)
    (root / linked).symlink_to(outside)
    out = subprocess.run(
        [sys.executable, "-m", "dockwiz", "certs", "init", "--root", str(root),
         "--san", "docker.example.com"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "symlink" in out.stderr and "outside the host root" in out.stderr
    assert list(outside.rglob("*")) == []
