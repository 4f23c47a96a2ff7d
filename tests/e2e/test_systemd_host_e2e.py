"""dockwiz against real systemd: a booted Debian 12 container with the stock docker.io unit.

The packaged docker.service runs ``dockerd -H fd://`` with docker.socket activation, which is
exactly what makes ``hosts`` in daemon.json fatal (DOMAIN §3). These tests drive the plan, the
apply transaction, verify and rollback through ``systemctl`` inside the container
(tests/systemd_host.py) and check the host the way the admin would: the unit's state, the
journal's words, the files byte for byte, the daemon answering over mTLS.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import systemd_host as sh
from dockwiz import apply as ap
from dockwiz.apply import journal as jr
from dockwiz.dockerapi import ClientFiles, ping_endpoint
from dockwiz.inspect import inspect_host
from dockwiz.models.intent import Intent
from dockwiz.models.plan import Plan
from dockwiz.netns import run_in_netns
from dockwiz.plan import plan_for_host
from dockwiz.verify import verify_host
from systemd_host import CONTAINER_ADDRESS, SessionContainer, SystemdContainerHost, file_state

pytestmark = pytest.mark.e2e
# one boot per session; every test gets the container back in its stock state
systemd_container = sh.systemd_container
systemd_host = sh.systemd_host

PORT = 2376
TCP_URL = f"tcp://{CONTAINER_ADDRESS}:{PORT}"
CONFLICT = ("the following directives are specified both as a flag and in the configuration "
            "file: hosts: (from flag: [fd://], from file: [unix:///var/run/docker.sock])")


def _mtls_plan(host: SystemdContainerHost) -> Plan:
    intent = Intent(mode="mtls", listen_host=CONTAINER_ADDRESS, listen_port=PORT,
                    sans_ip=[CONTAINER_ADDRESS])
    _state, plan = plan_for_host(host, intent)
    return plan


def _show(host: SystemdContainerHost, prop: str, unit: str = "docker.service") -> str:
    return host.systemctl("show", "-p", prop, "--value", unit).stdout.strip()


def _daemon_argv(host: SystemdContainerHost) -> list[str]:
    """The running dockerd's command line, as systemd started it (/proc inside the container)."""
    pid = _show(host, "MainPID")
    shown = host.inside(["cat", f"/proc/{pid}/cmdline"])
    return [a for a in shown.stdout.split("\0") if a]


def _assert_stock_daemon(host: SystemdContainerHost) -> None:
    """The packaged setup works again: -H fd://, docker.socket hands the socket over and
    starts the daemon on demand after a stop."""
    assert host.systemctl("is-active", "--quiet", "docker.service").ok, host.journal()
    assert host.systemctl("is-active", "--quiet", "docker.socket").ok
    assert _daemon_argv(host)[1:3] == ["-H", "fd://"], _daemon_argv(host)
    assert host.systemctl("stop", "docker.service").ok
    assert _show(host, "ActiveState") == "inactive"
    # a client connecting to the socket unit's listener starts docker.service again
    version = host.inside(["docker", "version", "--format", "{{.Server.Version}}"], timeout=60)
    assert version.ok and version.stdout.strip(), version.stderr
    assert host.systemctl("is-active", "--quiet", "docker.service").ok


@contextlib.contextmanager
def port_taken(host: SystemdContainerHost) -> Iterator[socket.socket]:
    """Something else listening on the container's 2376: a socket made inside its namespace.

    A socket keeps the namespace it was created in, so this process holds a listener inside
    the container (never on this machine's interfaces) until the block ends.
    """
    assert host.netns is not None

    def listen() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # earlier tests' probes leave TIME_WAIT connections on the port (dockerd sets it too)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((CONTAINER_ADDRESS, PORT))
        sock.listen(1)
        return sock

    sock = run_in_netns(host.netns, listen)
    try:
        yield sock
    finally:
        sock.close()


def test_container_is_a_stock_systemd_docker_host(
    systemd_container: SessionContainer, systemd_host: SystemdContainerHost,
) -> None:
    """The fixture's host is what a Debian 12 admin has: inspect sees it as such."""
    host = systemd_host
    assert host.inside(["systemctl", "is-system-running"]).stdout.strip() in (
        "running", "degraded")
    _assert_stock_daemon(host)
    state = inspect_host(host)
    assert state.unit.exec_start is not None and "fd://" in state.unit.exec_start
    assert state.socket_unit is not None and state.socket_unit.listen_stream == [
        "/run/docker.sock"]
    assert not host.path("/etc/docker/daemon.json").exists()
    assert systemd_container.boot_s < 30, f"boot took {systemd_container.boot_s:.1f} s"


def test_inspect_finds_the_daemon_systemd_started(systemd_host: SystemdContainerHost) -> None:
    host = systemd_host
    inner = int(host.path("/var/run/docker.pid").read_text().strip())
    outer = host.resolve_pid(inner)
    assert outer != inner and Path(f"/proc/{outer}/exe").name == "exe"
    assert _show(host, "MainPID") == str(inner)
    state = inspect_host(host)
    assert state.daemon_running and state.process is not None, state.unreadable
    assert state.process.pid == outer
    assert state.version.api_server == "20.10.24+dfsg1"


def test_hosts_in_daemon_json_without_a_dropin_stops_docker(
    systemd_host: SystemdContainerHost,
) -> None:
    """DOMAIN §3 on the real thing: the stock -H fd:// unit plus 'hosts' in daemon.json."""
    host = systemd_host
    daemon_json = host.path("/etc/docker/daemon.json")
    daemon_json.write_text(json.dumps({"hosts": ["unix:///var/run/docker.sock"]}) + "\n")
    daemon_json.chmod(0o644)
    state = inspect_host(host)
    assert state.hosts_conflict is not None  # dockwiz sees it coming before any restart

    restarted = host.systemctl("restart", "docker.service", timeout=90)
    assert not restarted.ok
    assert "docker.service failed" in restarted.stderr, restarted.stderr
    assert _show(host, "ActiveState") in ("failed", "activating"), _show(host, "ActiveState")
    deadline = time.monotonic() + 20
    while CONFLICT not in host.journal() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert CONFLICT in host.journal(), host.journal()


def test_mtls_apply_through_systemd_writes_the_dropin_and_verifies(
    systemd_host: SystemdContainerHost,
) -> None:
    host = systemd_host
    plan = _mtls_plan(host)
    dropins = [f for f in plan.files if f.role == "dropin"]
    assert [f.path for f in dropins] == ["/etc/systemd/system/docker.service.d/dockwiz.conf"]
    assert [a.kind for a in plan.actions] == ["daemon-reload", "restart"]
    old_pid = _show(host, "MainPID")

    result = ap.apply_plan(host, plan)

    assert result.ok, result.model_dump_json(indent=2)
    names = [s.name for s in result.steps]
    assert "systemd daemon-reload" in names and "restart dockerd" in names, names
    # systemd itself runs the drop-in's command line: socket activation kept (-H fd://, so
    # clients wait instead of failing during restarts), the TCP host beside it, a new process
    assert dropins[0].path in _show(host, "DropInPaths")
    assert _show(host, "ActiveState") == "active"
    assert _show(host, "MainPID") != old_pid
    argv = _daemon_argv(host)
    assert "fd://" in argv and TCP_URL in argv, argv
    assert host.path(dropins[0].path).read_text() == dropins[0].after

    assert result.client_bundle is not None
    bundle = ClientFiles.from_dir(host.path(result.client_bundle))
    pong = ping_endpoint(host, TCP_URL, bundle, timeout=5)
    assert pong.ok, pong
    anonymous = ping_endpoint(host, TCP_URL, ClientFiles(ca=bundle.ca), timeout=5)
    assert not anonymous.ok  # mTLS: no client certificate, no API
    local = ping_endpoint(host, "unix:///var/run/docker.sock", None, timeout=5)
    assert local.ok, local



def test_verify_passes_after_the_mtls_apply(systemd_host: SystemdContainerHost) -> None:
    host = systemd_host
    result = ap.apply_plan(host, _mtls_plan(host))
    assert result.ok and result.client_bundle is not None, result.model_dump_json(indent=2)
    report = verify_host(host, expected_mode="mtls", bundle_dir=host.path(result.client_bundle))
    assert report.detected_mode == "mtls"
    failed = [(p.id, p.saw, p.cause) for p in report.probes if not p.passed]
    assert report.passed and not failed, failed


def test_failed_starts_through_systemd_roll_back_without_hitting_the_rate_limit(
    systemd_host: SystemdContainerHost,
) -> None:
    """dockerd cannot bind 2376 (taken after planning): systemd reports the failed start,
    the transaction restores every file and brings the stock daemon back. Three times in a
    row: docker.service's StartLimitBurst is 3, so only reset-failed keeps the rollback's
    start from being refused ("start request repeated too quickly")."""
    host = systemd_host
    before = file_state(host, ("/etc/docker", "/etc/systemd/system", "/etc/dockwiz"))
    # the packaged limit: 3 starts per 60 s; each attempt below costs two (new, then old)
    assert _show(host, "StartLimitBurst") == "3"
    plan = _mtls_plan(host)  # planned while the port was free: the plan would refuse it
    for attempt in range(3):
        with port_taken(host):
            result = ap.apply_plan(host, plan)
        assert not result.ok, f"attempt {attempt}: the port was taken, yet the apply passed"
        assert result.rolled_back and result.recovery_ok, result.model_dump_json(indent=2)
        assert result.failed_step == "restart dockerd", result.model_dump_json(indent=2)
        assert "address already in use" in (result.daemon_log or ""), result.daemon_log
        after = file_state(host, ("/etc/docker", "/etc/systemd/system", "/etc/dockwiz"))
        assert after == before, sorted(set(after.items()) ^ set(before.items()))
        journal = jr.load_journal(host)
        assert journal is not None and journal.step == "rolled-back"
        assert _show(host, "ActiveState") == "active"
        assert "start-limit-hit" not in _show(host, "Result")
        assert _daemon_argv(host)[1:3] == ["-H", "fd://"]
    _assert_stock_daemon(host)


def test_rollback_after_success_restores_the_stock_unit_and_socket_activation(
    systemd_container: SessionContainer, systemd_host: SystemdContainerHost,
) -> None:
    """Everything dockwiz wrote goes (the CA in /etc/dockwiz included), everything it changed
    comes back byte for byte, and the packaged -H fd:// + docker.socket setup works again."""
    host = systemd_host
    watched = ("/etc/docker", "/etc/systemd/system", "/etc/dockwiz")
    before = file_state(host, watched)
    applied = ap.apply_plan(host, _mtls_plan(host))
    assert applied.ok, applied.model_dump_json(indent=2)
    assert file_state(host, watched) != before

    undone = ap.rollback_last(host)

    assert undone.ok and undone.recovery_ok, undone.model_dump_json(indent=2)
    assert file_state(host, watched) == before
    journal = jr.load_journal(host)  # only dockwiz's own record of it stays, under STATE_DIR
    assert journal is not None and journal.step == "rolled-back", journal
    assert "dockwiz.conf" not in _show(host, "DropInPaths")
    assert not ping_endpoint(host, TCP_URL, None, timeout=2).ok  # the TCP listener is gone
    assert ping_endpoint(host, "unix:///var/run/docker.sock", None, timeout=5).ok
    _assert_stock_daemon(host)
