"""ssh mode end to end on a real lab: apply --mode ssh, Debian's sshd in the lab's namespaces,
accounts in the lab's own /etc/passwd and /etc/group (never this machine's), and verify running
a real ``docker -H ssh://USER@ADDR version`` from this machine through the lab's network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from dockwiz.lab.lab import Lab, lab_down
from dockwiz.lab.sshd import add_lab_user, authorize_key, sshd_pid, start_sshd
from dockwiz.models.results import VerifyReport
from dockwiz.verify import verify_host

pytestmark = pytest.mark.e2e

if not Path("/usr/sbin/sshd").exists():  # pragma: no cover - install.sh --test installs it
    pytest.fail("openssh-server is not installed (scripts/install.sh --test)", pytrace=False)


def _dockwiz(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockwiz", *argv], capture_output=True,
                          text=True, timeout=180, check=False)


def _key(tmp_path: Path, name: str) -> tuple[Path, str]:
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True, timeout=30)
    return key, (tmp_path / f"{name}.pub").read_text()


def _ssh_lab(lab_factory, tmp_path: Path) -> tuple[Lab, Path]:  # type: ignore[no-untyped-def]
    """insecure-tcp (plain TCP on 0.0.0.0:2375) taken to ssh mode by the CLI's apply."""
    lab = lab_factory("insecure-tcp")
    applied = _dockwiz("apply", "--lab", str(lab.dir), "--mode", "ssh", "--ssh-user", "alice",
                       "--yes", "--json")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    lab.refresh()
    key, public = _key(tmp_path, "alice-key")
    start_sshd(lab, authorized={"alice": public})
    return lab, key



def test_ssh_mode_passes_with_a_real_docker_over_ssh(lab_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lab, key = _ssh_lab(lab_factory, tmp_path)
    out = _dockwiz("verify", "--lab", str(lab.dir), "--mode", "ssh", "--ssh-user", "alice",
                   "--ssh-key", str(key), "--json")
    report = VerifyReport.model_validate_json(out.stdout)
    assert out.returncode == 0, [p.model_dump() for p in report.failed]
    assert report.passed and report.mode == "ssh"
    probes = {p.id: p for p in report.probes}
    address = lab.info.address
    assert probes["sshd-listening"].saw.startswith(f"sshd listens on tcp://{address}:22")
    assert probes["ssh-user"].passed and "shell /bin/sh" in probes["ssh-user"].saw
    assert "alice is in group docker" in probes["ssh-socket-access"].saw
    docker = probes["docker-ssh"]
    assert docker.outcome == "succeeded" and docker.target == f"ssh://alice@{address}"
    assert docker.saw.startswith("Server: Docker Engine 20.10"), docker.saw
    # the TCP listener is gone: nothing of plain TCP is left for ssh mode
    assert probes["tcp-listeners"].saw == "no TCP listener"
    # default sshd limits (10 sessions, 10:30:100) are short of what compose opens: said so
    assert any("MaxSessions 10" in w and "ControlMaster" in w for w in report.warnings)
    handoff = report.handoff
    assert handoff is not None and handoff.ssh_config is not None
    assert handoff.context_create == (
        f'docker context create {address}-ssh --docker "host=ssh://alice@{address}"')
    for line in (f"Host {address}", "User alice", "ControlMaster auto", "ControlPersist 10m"):
        assert line in handoff.ssh_config
    # this machine's accounts were never touched: alice exists only in the lab
    assert "alice:" not in Path("/etc/passwd").read_text()
    assert "alice:" in (lab.root / "etc/passwd").read_text()


def test_ssh_user_outside_the_docker_group_fails_with_the_fix(lab_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lab, _ = _ssh_lab(lab_factory, tmp_path)
    key, public = _key(tmp_path, "bob-key")
    add_lab_user(lab, "bob", groups=())
    authorize_key(lab, "bob", public)
    report = verify_host(lab.host(), expected_mode="ssh", ssh_user="bob", ssh_key=key)
    assert not report.passed
    failed = {p.id: p for p in report.failed}
    access = failed["ssh-socket-access"]
    assert access.failure_id == "ssh-user-no-socket-access"
    assert access.fix is not None and access.fix.startswith("usermod -aG docker bob")
    # the real client agrees: sshd lets bob in, the socket does not
    docker = failed["docker-ssh"]
    assert "permission denied" in docker.saw.lower(), docker.saw
    assert docker.failure_id == "ssh-user-no-socket-access"


def test_max_sessions_2_warns_and_lab_down_stops_sshd(lab_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lab, key = _ssh_lab(lab_factory, tmp_path)
    start_sshd(lab, max_sessions=2)
    report = verify_host(lab.host(), ssh_key=key)  # mode and user found: sshd, applied plan
    assert report.mode == "ssh" and report.passed, [p.model_dump() for p in report.failed]
    sessions = next(p for p in report.probes if p.id == "ssh-sessions")
    assert sessions.saw.startswith("MaxSessions 2,")
    assert sessions.warning is not None and "MaxSessions 2 " in sessions.warning
    assert "raise MaxSessions to 25" in sessions.warning
    assert next(p for p in report.probes if p.id == "docker-ssh").outcome == "succeeded"
    pid = sshd_pid(lab)
    assert pid is not None
    lab_down(lab.dir)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_verify_without_sshd_says_how_to_start_it(lab_factory) -> None:  # type: ignore[no-untyped-def]
    lab = lab_factory("fd-socket")
    out = _dockwiz("verify", "--lab", str(lab.dir), "--mode", "ssh", "--ssh-user", "root",
                   "--json")
    assert out.returncode == 1
    probes = {p["id"]: p for p in json.loads(out.stdout)["probes"]}
    listening = probes["sshd-listening"]
    assert not listening["passed"] and listening["failure_id"] == "sshd-not-listening"
    assert "apt-get install openssh-server" in listening["fix"]
    assert probes["docker-ssh"]["outcome"] == "skipped"
