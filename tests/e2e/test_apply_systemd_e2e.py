"""The apply transaction through real systemd: a booted Debian 12 container (DOMAIN §10).

The container comes from tests/systemd_host.py: a cached debootstrap tree with systemd and the
stock ``docker.io`` package (the packaged docker.service with ``-H fd://``, docker.socket,
StartLimitBurst=3), booted as a throwaway overlay with ``systemd-nspawn --boot`` in a private
network namespace. The transaction drives it through :class:`dockwiz.services.SystemdManager`,
i.e. real ``systemctl`` inside the container; nothing of this machine's own systemd or docker is
used.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwiz import apply as ap
from dockwiz.apply import journal as jr
from dockwiz.host import Host
from dockwiz.inspect import inspect_host
from dockwiz.models.intent import Intent
from dockwiz.models.plan import Endpoint, FileChange, Plan, ServiceAction
from dockwiz.plan import build_plan, observe_material
from dockwiz.services import SystemdManager

pytestmark = pytest.mark.e2e

ADDRESS = "10.77.252.9"  # systemd_host.CONTAINER_ADDRESS, inside the container's namespace


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Host]:
    """A booted Debian 12 container from the shared helper (tests/systemd_host.py)."""
    import systemd_host as sh  # tests/ is on sys.path (rootdir conftest)

    problem = sh.prerequisites_problem()
    # fail, never skip: a skipped systemd suite would hide a CI that lost its prerequisites
    # (the suite's own rule, tests/systemd_host.py), and with it every systemd proof here
    assert problem is None, f"the systemd e2e tests need: {problem}"
    sh.build_tree()
    booted = sh.boot(sh.TREE, tmp_path / "sd")
    try:
        sh.wait_docker_active(booted.host)
        yield booted.host
    finally:
        left = sh.shutdown(booted)
        assert not left, left


def _inside(host: Host, *argv: str) -> str:
    assert isinstance(host.services, SystemdManager)
    return host.run([*host.services.prefix, *argv], timeout=30).stdout


def _sock() -> list[Endpoint]:
    return [Endpoint(url="unix:///var/run/docker.sock", security="socket")]


def _plan(host: Host, mode: str) -> Plan:
    intent = Intent(mode=mode, listen_host=ADDRESS, sans_ip=[ADDRESS])
    return build_plan(observe_material(host, inspect_host(host), intent), intent)


def _files(host: Host) -> dict[str, tuple[int, int, int, bytes]]:
    out: dict[str, tuple[int, int, int, bytes]] = {}
    for top in ("etc/docker", "etc/systemd/system", "etc/dockwiz"):
        base = host.root / top
        if not base.exists():
            continue
        for p in sorted(base.rglob("*")):
            if p.is_file() and not p.is_symlink() and p.name != "key.json":
                st = p.stat()
                out[str(p.relative_to(host.root))] = (st.st_mode, st.st_uid, st.st_gid,
                                                      p.read_bytes())
    return out


def test_systemd_mtls_apply_and_rollback_with_the_stock_unit(container: Host) -> None:
    host = container
    before = _files(host)
    plan = _plan(host, "mtls")
    assert any(f.role == "dropin" for f in plan.files)  # the stock unit's -H fd:// conflict
    result = ap.apply_plan(host, plan)
    assert result.ok, result.model_dump_json(indent=2)
    names = [s.name for s in result.steps]
    assert "systemd daemon-reload" in names and "restart dockerd" in names
    bundle = host.path(result.client_bundle or "")
    cli = host.run(["docker", "--tlsverify", f"--tlscacert={bundle / 'ca.pem'}",
                    f"--tlscert={bundle / 'cert.pem'}", f"--tlskey={bundle / 'key.pem'}",
                    "-H", f"tcp://{ADDRESS}:2376", "version", "--format", "{{.Server.Version}}"],
                   in_netns=True, timeout=30)
    assert cli.ok, cli.stderr
    rb = ap.rollback_last(host)
    assert rb.ok and rb.recovery_ok, rb.model_dump_json(indent=2)
    assert _files(host) == before
    # docker.socket hands the socket over again (-H fd://): the path answers
    ok, lines = ap.wait_endpoints(host, _sock(), None, time.monotonic() + 10)
    assert ok, lines


def _main_pid(host: Host) -> str:
    return _inside(host, "systemctl", "show", "-p", "MainPID", "--value", "docker").strip()


def test_systemd_hosts_conflict_is_refused_before_the_restart(container: Host) -> None:
    """'hosts' in daemon.json with the stock -H fd:// unit: dockwiz's own check stops it
    before dockerd is touched (20.10 has no --validate), with dockerd's own wording."""
    host = container
    before = _files(host)
    pid = _main_pid(host)
    plan = _plan(host, "mtls").model_copy(deep=True)
    plan.files = [f for f in plan.files if f.role != "dropin"]  # forget the drop-in...
    plan.actions = [a for a in plan.actions if a.kind != "daemon-reload"]
    for f in plan.files:  # ...and put the TCP host in daemon.json, as the tutorials do
        if f.path.endswith("daemon.json") and f.after is not None:
            data = json.loads(f.after)
            data["hosts"] = ["unix:///var/run/docker.sock", f"tcp://{ADDRESS}:2376"]
            f.after = json.dumps(data, indent=2) + "\n"
    result = ap.apply_plan(host, plan)
    assert not result.ok and result.rolled_back and result.recovery_ok
    assert result.failed_step == "validate"
    assert "specified both as a flag and in the configuration file: hosts (from flag: -H fd://"\
        in (result.error or ""), result.error
    assert _files(host) == before
    assert _main_pid(host) == pid  # never restarted: no downtime


def test_systemd_failed_starts_roll_back_without_hitting_the_start_limit(
    container: Host,
) -> None:
    """An option dockerd rejects, three applies in a row, through systemctl.

    docker.service has StartLimitBurst=3 and socket activation restarts it on every client
    connection, so without reset-failed (of docker.socket too) the rollback's start would be
    refused with "start request repeated too quickly" and the admin locked out.
    """
    host = container
    before = _files(host)
    # daemon.json only (no unit change, so no daemon-reload, which would reset the counter)
    plan = Plan(intent=Intent(mode="unix"), files=[FileChange(
        path="/etc/docker/daemon.json", before=None, after='{\n  "no-such-option": true\n}\n',
        role="daemon.json", reason="an option dockerd rejects")],
        actions=[ServiceAction(kind="restart", reason="test")],
        endpoints_before=_sock(), endpoints_after=_sock())
    for _ in range(3):
        result = ap.apply_plan(host, plan)
        assert not result.ok and result.rolled_back and result.recovery_ok, (
            result.model_dump_json(indent=2))
        assert result.failed_step == "restart dockerd"
        assert "no-such-option" in (result.daemon_log or ""), result.daemon_log
        assert "no-such-option" in (result.error or ""), result.error
        assert _files(host) == before
        journal = jr.load_journal(host)
        assert journal is not None and journal.step == "rolled-back"
    ok, lines = ap.wait_endpoints(host, _sock(), None, time.monotonic() + 10)
    assert ok, lines
