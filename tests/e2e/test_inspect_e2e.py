"""``dockwiz inspect --lab D --json`` against real dockerd labs, one per starting state.

Each test brings a lab up, runs inspect as a real subprocess (the way an admin would), checks
what a Docker expert would expect to be told, then takes the lab down and checks that no
dockerd of ours is left. Failing scenarios are compared with the daemon's *own* error from
the lab log, so inspect's explanation of why the daemon does not start is the daemon's reason.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import psutil
import pytest

from dockwiz.lab.lab import Lab, lab_down
from dockwiz.models.host_state import HostState

pytestmark = pytest.mark.e2e

LabFactory = Callable[..., Lab]


def inspect_json(lab: Lab) -> HostState:
    out = subprocess.run(
        [sys.executable, "-m", "dockwiz", "inspect", "--lab", str(lab.dir), "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return HostState.model_validate_json(out.stdout)


def ids(state: HostState) -> dict[str, str]:
    return {f.id: f.severity for f in state.findings}


def tcp_ports(state: HostState) -> set[int]:
    """Ports of observed non-loopback TCP listeners."""
    return {x.port for x in state.listeners if x.kind == "tcp" and not x.loopback and x.port}


def addresses(items: list[Any]) -> set[str]:
    return {i.address for i in items}


def down_and_check(lab: Lab) -> None:
    """lab down, then no dockerd of this lab (nor a child of it) may be left."""
    lab.refresh()
    pid = lab.info.pid
    family: list[int] = []
    if pid is not None and psutil.pid_exists(pid):
        family = [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    lab_down(lab.dir)
    alive = [p for p in family if psutil.pid_exists(p)
             and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"left running after lab down: {alive}"
    for proc in psutil.process_iter():
        try:
            if proc.name() == "dockerd" and str(lab.dir) in " ".join(proc.cmdline()):
                pytest.fail(f"dockerd {proc.pid} of lab {lab.dir} still running")
        except psutil.Error:
            continue


def test_fd_socket(lab_factory: LabFactory) -> None:
    lab = lab_factory("fd-socket")
    assert lab.info.state == "running", lab.info.error
    state = inspect_json(lab)
    assert state.daemon_running and state.process is not None
    assert state.process.pid == lab.info.pid
    assert addresses(state.configured_hosts) == {"fd://"}
    assert "unix:///run/docker.sock" in addresses(state.listeners)
    assert not [x for x in state.listeners if x.kind == "tcp"]
    assert state.version.api_server and state.version.api_version
    assert state.version.binary == state.version.api_server
    assert state.running_containers == 0
    sock = state.docker_socket
    assert sock is not None and sock.is_socket and sock.mode == 0o660 and sock.group == "docker"
    found = ids(state)
    assert not {"DW-TCP-PLAIN", "DW-TCP-NOVERIFY", "DW-V27-RULE", "DW-SOCKET-MODE"} & set(found)
    assert found["DW-NO-LIVE-RESTORE"] == "low"
    assert state.unreadable == []
    down_and_check(lab)


def test_insecure_tcp(lab_factory: LabFactory) -> None:
    lab = lab_factory("insecure-tcp", wait=40.0)
    assert lab.info.state == "running", lab.info.error
    state = inspect_json(lab)
    assert state.daemon_running
    tcp = [x for x in state.listeners if x.kind == "tcp"]
    # seen in the lab's own network namespace: psutil in ours would not see it at all
    # 0.0.0.0 is bound by Go as one dual-stack socket, which /proc shows as [::]
    assert [(x.port, x.host in ("0.0.0.0", "::"), x.loopback) for x in tcp] == [
        (2375, True, False)]
    ours = [c for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == 2375
            and c.pid == lab.info.pid]
    assert ours == []
    assert any(x.address == "tcp://0.0.0.0:2375" and x.listening for x in state.configured_hosts)
    found = ids(state)
    assert found["DW-TCP-PLAIN"] == "critical"
    v27 = next(f for f in state.findings if f.id == "DW-V27-RULE")
    assert v27.severity == ("critical" if (state.version.major or 0) >= 27 else "high")
    assert "16 s" in v27.why  # TLS not explicit: dockerd really slept (the lab took that long)
    assert "DW-UNIT-OVERRIDE" in found
    assert "DW-CONFIG-DRIFT" not in found  # [::]:2375 is what 0.0.0.0:2375 looks like
    down_and_check(lab)


def test_tls_no_verify(lab_factory: LabFactory) -> None:
    lab = lab_factory("tls-no-verify")
    assert lab.info.state == "running", lab.info.error
    state = inspect_json(lab)
    assert state.tls.enabled and not state.tls.verifies_clients
    assert tcp_ports(state) == {2376}
    found = ids(state)
    assert found["DW-TCP-NOVERIFY"] == "critical"
    assert "DW-TCP-PLAIN" not in found
    assert "16 s" not in next(f for f in state.findings if f.id == "DW-V27-RULE").why
    server = next(c for c in state.certs if c.role == "server")
    assert server.readable and server.key_matches is True and server.not_after is not None
    down_and_check(lab)


def test_tlsverify_no_ca(lab_factory: LabFactory) -> None:
    """Seed 003: tlsverify without tlscacert, TLS enabled in daemon.json only.

    The real dockerd starts (``~/.docker/ca.pem`` is only a *flag* default) and verifies client
    certificates against the system trust store; inspect must say exactly that.
    """
    lab = lab_factory("tlsverify-no-ca")
    state = inspect_json(lab)
    assert lab.info.state == "running" and state.daemon_running, lab.info.error
    assert tcp_ports(state) == {2376}
    assert [c.role for c in state.certs] == ["server"]  # no CA is loaded at all
    found = ids(state)
    assert found["DW-TLSVERIFY-NO-CA"] == "critical"
    assert "trust store" in next(f.why for f in state.findings if f.id == "DW-TLSVERIFY-NO-CA")
    assert found["DW-CERT-LEGACY-CN"] == "high"  # seed 003's cert: CN only, no SAN
    assert "DW-V27-RULE" not in found  # dockerd's own check (tlsverify set) passes
    down_and_check(lab)


def test_commented_json(lab_factory: LabFactory) -> None:
    lab = lab_factory("commented-json")
    assert lab.info.state == "failed"
    state = inspect_json(lab)
    assert not state.daemon_running and state.process is None
    dj = state.daemon_json
    assert dj.has_comments and dj.repairable and dj.error is not None
    assert dj.error.line == 2  # the first // is on line 2 of seed 001's file
    found = ids(state)
    assert found["DW-JSON-COMMENTS"] == "critical" and found["DW-JSON-INVALID"] == "critical"
    assert found["DW-DAEMON-FAILS"] == "critical"
    assert lab.info.error is not None and "invalid character '/'" in lab.info.error
    down_and_check(lab)


def test_hosts_conflict(lab_factory: LabFactory) -> None:
    lab = lab_factory("hosts-conflict")
    assert lab.info.state == "failed"
    state = inspect_json(lab)
    assert not state.daemon_running
    assert state.hosts_conflict is not None
    # inspect's explanation is, word for word, what the real dockerd said
    assert lab.info.error is not None and state.hosts_conflict in lab.info.error
    found = ids(state)
    assert found["DW-HOSTS-CONFLICT"] == "critical"
    assert {"DW-TCP-PLAIN", "DW-V27-RULE"} <= set(found)
    down_and_check(lab)


def test_mtls(lab_factory: LabFactory) -> None:
    lab = lab_factory("mtls")
    assert lab.info.state == "running", lab.info.error
    state = inspect_json(lab)
    assert state.tls.verifies_clients and state.tls.tlscacert
    assert tcp_ports(state) == {2376}
    assert {c.role for c in state.certs} == {"ca", "server"}
    assert all(c.readable and c.not_after for c in state.certs)
    found = ids(state)
    assert not {"DW-TCP-PLAIN", "DW-TCP-NOVERIFY", "DW-V27-RULE", "DW-TLSVERIFY-NO-CA",
                "DW-CERT-LEGACY-CN", "DW-CERT-EXPIRED", "DW-CERT-KEY-MISMATCH"} & set(found)
    down_and_check(lab)


def test_two_labs_side_by_side_are_told_apart(lab_factory: LabFactory) -> None:
    """Each lab's inspect reports its own daemon, never the neighbour's: not even when a
    stopped lab's pidfile names the neighbour's live dockerd (a stale pidfile, a reused PID)."""
    a = lab_factory("fd-socket")
    b = lab_factory("fd-socket")
    sa, sb = inspect_json(a), inspect_json(b)
    assert sa.process is not None and sb.process is not None
    assert (sa.process.pid, sb.process.pid) == (a.info.pid, b.info.pid)
    down_and_check(a)
    assert b.info.pid is not None
    (a.root / "run" / "docker.pid").write_text(f"{b.info.pid}\n")
    stale = inspect_json(a.refresh())
    assert not stale.daemon_running and stale.process is None
    assert inspect_json(b).daemon_running  # b itself is still seen by b
    down_and_check(b)


def test_a_lab_daemon_is_never_taken_for_the_machines(lab_factory: LabFactory) -> None:
    """On the real root, inspect falls back to scanning for dockerd: a lab's daemon (private
    mount namespace) must not be picked up. Checked on the scan itself, so the test reads
    nothing of this machine's own Docker configuration."""
    from dockwiz.inspect import _machine_daemon, _scan_for_dockerd

    lab = lab_factory("fd-socket")
    assert lab.info.pid is not None
    assert _machine_daemon(psutil.Process(lab.info.pid)) is False
    found = _scan_for_dockerd()
    assert found is None or found.pid != lab.info.pid
    down_and_check(lab)


# -- the daemon's own view: GET /info Warnings, quoted by the finding they support ------------
# Docker 28 warns "[DEPRECATION NOTICE]: API is accessible on https://... without TLS client
# verification."; measured here, 20.10.24 warns too, in other words ("WARNING: API is
# accessible on https://... without TLS client verification."), so the finding quotes
# whichever the daemon says.
def test_docker_28_warning_is_kept_and_quoted_by_the_finding(lab_factory: LabFactory) -> None:
    lab = lab_factory("tls-no-verify", docker="28.5")
    assert lab.info.state == "running", lab.info.error
    state = inspect_json(lab)
    assert state.version.major == 28
    ours = [w for w in state.daemon_warnings
            if "without TLS client verification" in w and "https://" in w]
    assert ours, state.daemon_warnings
    first_line = ours[0].strip().splitlines()[0].strip()
    assert first_line.startswith("[DEPRECATION NOTICE]: API is accessible on https://")
    finding = next(f for f in state.findings if f.id == "DW-TCP-NOVERIFY")
    assert f'"{first_line}"' in (finding.evidence or "")
    assert "the daemon itself warns" in (finding.evidence or "")
    assert state.running_containers == 0  # /info's ContainersRunning, as /containers/json said


def test_docker_20_warns_in_its_own_words_and_is_quoted_too(lab_factory: LabFactory) -> None:
    """Measured: 20.10.24 says "WARNING: API is accessible on https://0.0.0.0:2376 without TLS
    client verification." (no deprecation notice); inspect keeps it and quotes it the same."""
    lab = lab_factory("tls-no-verify", docker="20.10")
    assert lab.info.state == "running", lab.info.error
    state = inspect_json(lab)
    assert state.version.major == 20
    ours = [w for w in state.daemon_warnings if "without TLS client verification" in w]
    assert ours, state.daemon_warnings
    first_line = ours[0].strip().splitlines()[0].strip()
    assert first_line.startswith("WARNING: API is accessible on https://")
    assert "DEPRECATION" not in ours[0]
    finding = next(f for f in state.findings if f.id == "DW-TCP-NOVERIFY")
    assert finding.severity == "critical"
    assert f'"{first_line}"' in (finding.evidence or "")
    assert state.running_containers == 0
    assert not [u for u in state.unreadable if "API at" in u]
