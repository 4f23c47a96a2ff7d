"""verify's ssh mode on sandbox roots: sshd_config as sshd reads it, the account and its socket
access from the root's own /etc/passwd and /etc/group (a real unix socket, really chowned), the
session-limit warning, the failure explanations and the hand-off. The real ``docker -H ssh://``
against a lab's sshd is in tests/e2e/test_verify_ssh_e2e.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwiz.apply.journal import JournalWriter
from dockwiz.host import Host
from dockwiz.verify import verify_host
from dockwiz.verify.context import Ctx, probe_context
from dockwiz.verify.ssh import (
    SshSetup,
    explain_ssh_failure,
    probe_docker_over_ssh,
    probe_ssh_sessions,
    probe_ssh_socket_access,
    probe_ssh_user,
    probe_sshd_listening,
    ssh_handoff,
    ssh_setup,
)
from dockwiz.verify.sshfacts import (
    last_plan,
    parse_sshd_config,
    read_sshd_config,
    sshd_listeners,
    user_allowed,
)

DOCKER_GID = 4242


def _write(root: Path, host_path: str, text: str) -> None:
    local = root / host_path.lstrip("/")
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(text)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Host]:
    """A root with accounts, an sshd_config and a real docker.sock (root:docker 0660)."""
    root = tmp_path / "root"
    _write(root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
           "alice:x:1000:1000::/home/alice:/bin/bash\n"
           "bob:x:1001:1001::/home/bob:/bin/sh\n"
           "svc:x:1002:1002::/nonexistent:/usr/sbin/nologin\n")
    _write(root, "/etc/group", f"root:x:0:\ndocker:x:{DOCKER_GID}:alice\n")
    _write(root, "/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nPort 22\n")
    (root / "run").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "run/docker.sock"))
    os.chown(root / "run/docker.sock", 0, DOCKER_GID)
    os.chmod(root / "run/docker.sock", 0o660)
    try:
        yield Host(root)
    finally:
        sock.close()


def _ctx(host: Host) -> contextlib.AbstractContextManager[Ctx]:
    return probe_context(host, None, endpoints=["unix:///run/docker.sock"], bundle_dir=None,
                         expected="ssh", former_endpoints=None, timeout=1.0)


def _setup(ctx: Ctx, user: str | None, key: Path | None = None) -> SshSetup:
    return ssh_setup(ctx, user, key)


# -- sshd_config ----------------------------------------------------------------------------------
def test_sshd_config_first_value_wins_ports_add_up_and_match_ends_it() -> None:
    cfg = parse_sshd_config(
        "# comment\nport 2222\nPort=22\nMaxSessions 4\nmaxsessions 50\n"
        "MaxStartups 3:50:10\nAllowUsers alice carol@10.0.0.*\n"
        "Match User bob\n  MaxSessions 99\nPort 9\n")
    assert cfg.ports == [2222, 22] and cfg.port == 2222
    assert cfg.max_sessions == 4 and cfg.startups_begin == 3
    assert user_allowed(cfg, "alice") is None and user_allowed(cfg, "carol") is None
    assert "AllowUsers" in (user_allowed(cfg, "bob") or "")


def test_sshd_config_include_under_the_root_comes_first(sandbox: Host) -> None:
    _write(sandbox.root, "/etc/ssh/sshd_config.d/10-docker.conf", "MaxSessions 30\n")
    _write(sandbox.root, "/etc/ssh/sshd_config.d/20-late.conf", "MaxSessions 2\nPort 2200\n")
    cfg = read_sshd_config(sandbox)
    assert cfg.found and cfg.max_sessions == 30 and cfg.ports == [2200, 22]
    missing = read_sshd_config(Host(sandbox.root / "nowhere"))
    assert not missing.found and missing.port == 22 and missing.max_sessions == 10


def test_a_sandbox_root_without_a_netns_has_no_sshd_of_its_own(sandbox: Host) -> None:
    assert sshd_listeners(sandbox) is None
    with _ctx(sandbox) as ctx:
        probe = probe_sshd_listening(ctx, _setup(ctx, "alice"))
    assert probe.outcome == "skipped" and "no sshd of its own" in probe.saw


# -- the account ----------------------------------------------------------------------------------
def test_user_probe_names_the_fix(sandbox: Host) -> None:
    with _ctx(sandbox) as ctx:
        ok = probe_ssh_user(ctx, _setup(ctx, "alice"))
        missing = probe_ssh_user(ctx, _setup(ctx, "dave"))
        nologin = probe_ssh_user(ctx, _setup(ctx, "svc"))
        nobody = probe_ssh_user(ctx, _setup(ctx, None))
    assert ok.passed and ok.saw == "uid 1000, shell /bin/bash"
    assert missing.failure_id == "ssh-user-missing"
    assert missing.fix is not None and "useradd -m -s /bin/bash dave" in missing.fix
    assert nologin.failure_id == "ssh-user-no-login" and nologin.fix == "usermod -s /bin/bash svc"
    assert nobody.outcome == "skipped" and "--ssh-user" in nobody.saw


def test_socket_access_from_the_roots_group_file(sandbox: Host) -> None:
    with _ctx(sandbox) as ctx:
        alice = probe_ssh_socket_access(ctx, _setup(ctx, "alice"))
        bob = probe_ssh_socket_access(ctx, _setup(ctx, "bob"))
        root = probe_ssh_socket_access(ctx, _setup(ctx, "root"))
    assert alice.passed and "alice is in group docker" in alice.saw
    assert root.passed
    assert not bob.passed and bob.failure_id == "ssh-user-no-socket-access"
    assert bob.saw == "bob is not root and not in group docker (socket 0660)"
    assert bob.fix is not None and bob.fix.startswith("usermod -aG docker bob")
    assert "root-equivalent" in bob.fix


# -- session limits -------------------------------------------------------------------------------
@pytest.mark.parametrize(("config", "warns"), [
    ("MaxSessions 2\n", ["MaxSessions 2 ", "MaxStartups 10:30:100"]),
    ("", ["MaxSessions 10 "]),
    ("MaxSessions 30\nMaxStartups 30:30:100\n", []),
])
def test_sessions_probe_warns_when_compose_would_run_out(
    sandbox: Host, config: str, warns: list[str]
) -> None:
    _write(sandbox.root, "/etc/ssh/sshd_config.d/x.conf", config)
    with _ctx(sandbox) as ctx:
        probe = probe_ssh_sessions(ctx, _setup(ctx, "alice"))
    assert probe.passed  # a warning, not a failure: small jobs work
    if not warns:
        assert probe.warning is None
        return
    assert probe.warning is not None
    for text in warns:
        assert text in probe.warning
    assert "raise MaxSessions to 25" in probe.warning and "ControlPersist" in probe.warning


# -- docker -H ssh:// -----------------------------------------------------------------------------
def test_docker_over_ssh_needs_a_key_and_says_so(sandbox: Host) -> None:
    with _ctx(sandbox) as ctx:
        probe = probe_docker_over_ssh(ctx, _setup(ctx, "alice"))
    assert probe.outcome == "skipped" and "--ssh-key" in probe.saw
    with _ctx(sandbox) as ctx:
        missing = probe_docker_over_ssh(ctx, _setup(ctx, "alice", sandbox.root / "no-key"))
    assert missing.failure_id == "ssh-key-missing" and "not the .pub" in (missing.fix or "")


@pytest.mark.parametrize(("stderr", "failure_id", "fix_has"), [
    ("alice@10.0.0.5: Permission denied (publickey).", "ssh-key-refused", "ssh-copy-id"),
    ("failed to open the raw stream connection: dial unix /var/run/docker.sock: connect: "
     "permission denied", "ssh-user-no-socket-access", "usermod -aG docker alice"),
    ("sh: 1: docker: not found", "ssh-no-docker-cli", "install the docker CLI"),
    ("ssh: connect to host 10.0.0.5 port 22: Connection refused", "sshd-not-listening",
     "systemctl enable --now ssh"),
    ("WARNING: UNPROTECTED PRIVATE KEY FILE!", "ssh-key-permissions", "chmod 600"),
])
def test_ssh_failures_are_explained(sandbox: Host, stderr: str, failure_id: str,
                                    fix_has: str) -> None:
    with _ctx(sandbox) as ctx:
        why = explain_ssh_failure(stderr, _setup(ctx, "alice", Path("/k")))
    assert why.failure_id == failure_id and fix_has in why.fix


# -- plan and hand-off ----------------------------------------------------------------------------
def test_the_applied_plan_gives_mode_and_user(sandbox: Host) -> None:
    writer = JournalWriter(sandbox, "tx-ssh", json.dumps({"intent": {"mode": "ssh",
                                                                     "ssh_user": "alice"}}))
    writer.commit()
    planned = last_plan(sandbox)
    assert (planned.mode, planned.ssh_user) == ("ssh", "alice")
    report = verify_host(sandbox, endpoints=["unix:///run/docker.sock"], use_docker_cli=False)
    assert report.mode == "ssh"  # no TCP and an applied ssh plan
    user = next(p for p in report.probes if p.id == "ssh-user")
    assert user.target == "user alice" and user.passed
    assert report.handoff is not None and "ssh://alice@" in report.handoff.context_create


def test_handoff_has_the_context_line_and_an_ssh_config(sandbox: Host) -> None:
    with _ctx(sandbox) as ctx:
        s = _setup(ctx, "alice")
    s.address = "10.0.0.5"
    handoff = ssh_handoff(s)
    assert handoff.context_create == (
        'docker context create 10.0.0.5-ssh --docker "host=ssh://alice@10.0.0.5"')
    assert handoff.ssh_config == (
        "# ~/.ssh/config on the client: docker -H ssh://alice@10.0.0.5 then shares one "
        "connection\nHost 10.0.0.5\n  HostName 10.0.0.5\n  User alice\n  ControlMaster auto\n"
        "  ControlPath ~/.ssh/control-%C\n  ControlPersist 10m\n")
    s.config.ports = [2222]
    assert ssh_handoff(s).endpoint == "ssh://alice@10.0.0.5:2222"
    assert "  Port 2222\n" in (ssh_handoff(s).ssh_config or "")
