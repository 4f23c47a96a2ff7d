"""The systemd test host's own machinery: cache staleness, mirror choice, state restore.

The e2e suite trusts these to boot the right tree and to hand every test a pristine host; a
silent mistake here would make the systemd tests pass on the wrong thing.
"""

from __future__ import annotations

import os
from pathlib import Path

from dockwiz.host import Host
from systemd_host import (
    DEFAULT_MIRROR,
    STAMP_NAME,
    apt_mirror,
    file_state,
    recipe,
    restore_files,
    tree_is_current,
)


def test_mirror_comes_from_deb822_sources_not_the_security_archive(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n")
    assert apt_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_from_one_line_format_and_default(tmp_path: Path) -> None:
    assert apt_mirror(tmp_path) == DEFAULT_MIRROR
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [signed-by=/k.gpg] http://ftp.example/debian bookworm main\n")
    assert apt_mirror(tmp_path) == "http://ftp.example/debian"


def test_a_tree_is_current_only_with_its_exact_recipe(tmp_path: Path) -> None:
    assert not tree_is_current(tmp_path, "http://a/debian")  # no stamp: half-built or foreign
    (tmp_path / STAMP_NAME).write_text(recipe("http://a/debian"))
    assert tree_is_current(tmp_path, "http://a/debian")
    assert not tree_is_current(tmp_path, "http://b/debian")


def test_restore_brings_back_files_modes_links_and_removes_additions(tmp_path: Path) -> None:
    host = Host(tmp_path)
    etc = tmp_path / "etc/docker"
    etc.mkdir(parents=True)
    (etc / "daemon.json").write_text('{"a": 1}\n')
    (etc / "daemon.json").chmod(0o600)
    units = tmp_path / "etc/systemd/system/sockets.target.wants"
    units.mkdir(parents=True)
    os.symlink("/lib/systemd/system/docker.socket", units / "docker.socket")
    pristine = file_state(host)

    (etc / "daemon.json").write_text('{"hosts": []}\n')
    (etc / "daemon.json").chmod(0o644)
    (units / "docker.socket").unlink()
    dropin = tmp_path / "etc/systemd/system/docker.service.d"
    dropin.mkdir()
    (dropin / "dockwiz.conf").write_text("[Service]\n")
    (tmp_path / "var/lib/dockwiz").mkdir(parents=True)
    assert file_state(host) != pristine

    changed = restore_files(host, pristine)

    assert file_state(host) == pristine
    assert not dropin.exists() and not (tmp_path / "var/lib/dockwiz").exists()
    assert os.readlink(units / "docker.socket") == "/lib/systemd/system/docker.socket"
    assert "/etc/docker/daemon.json" in changed
    assert restore_files(host, pristine) == []
