"""Plans against real dockerd labs: the daemon must accept what the plan writes.

Docker 20.10 (Debian 12) has no ``dockerd --validate``, so acceptance is proven the hard way:
the planned files (and the certificates the plan asks for) go into the lab's root, the lab's
daemon is restarted from its unit + drop-ins, and it must come up, listen where the plan says,
and serve the docker CLI; planning again from that state must give an empty plan.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockwiz.diffs import plan_diff
from dockwiz.host import Host
from dockwiz.inspect import inspect_host
from dockwiz.models.intent import Hardening, Intent, Mode
from dockwiz.models.plan import Plan
from dockwiz.plan import build_plan, load_plan, observe_material, plan_for_host
from plan_helpers import apply_certs, apply_files

pytestmark = pytest.mark.e2e

CASES = [
    ("fd-socket", Mode.MTLS),
    ("fd-socket", Mode.TLS),
    ("hosts-conflict", Mode.MTLS),
    ("commented-json", Mode.MTLS),
    ("tlsverify-no-ca", Mode.UNIX),
    ("insecure-tcp", Mode.SSH),
]


def _intent(mode: Mode, address: str) -> Intent:
    return Intent(mode=mode, listen_host=address if mode == Mode.MTLS else None)


def _docker(host: Host, argv: list[str]) -> subprocess.CompletedProcess[str]:
    res = host.run(["docker", *argv], in_netns=True, timeout=20)
    return subprocess.CompletedProcess(res.argv, res.returncode, res.stdout, res.stderr)


def _plan_apply_restart(host: Host, intent: Intent) -> Plan:
    _state, plan = plan_for_host(host, intent)
    assert not plan.is_empty
    apply_files(host.root, plan)
    apply_certs(host.root, plan)
    assert host.services is not None
    if any(a.kind == "daemon-reload" for a in plan.actions):
        assert host.services.daemon_reload().ok
    result = host.services.restart()
    assert result.ok, f"dockerd rejected the plan:\n{result.stderr}\n{plan_diff(plan)}"
    return plan


@pytest.mark.parametrize(("scenario", "mode"), CASES)
def test_dockerd_accepts_the_plan(lab_factory, scenario: str, mode: Mode) -> None:  # type: ignore[no-untyped-def]
    lab = lab_factory(scenario)
    host = lab.host()
    if scenario == "commented-json":
        _drop_userns_remap(host)
    intent = _intent(mode, lab.info.address)
    plan = _plan_apply_restart(host, intent)

    state = inspect_host(host)
    assert state.daemon_running, state.daemon_error
    tcp = {(lst.host, lst.port) for lst in state.listeners if lst.kind == "tcp"}
    if mode == Mode.MTLS:
        assert (lab.info.address, 2376) in tcp
    elif mode == Mode.TLS:
        assert ("127.0.0.1", 2376) in tcp
    else:
        assert tcp == set()
    assert any(lst.kind == "unix" for lst in state.listeners)

    if mode == Mode.MTLS:
        _prove_mtls(host, plan, lab.info.address)

    _state, again = plan_for_host(host, intent)
    assert again.is_empty, plan_diff(again)


def _drop_userns_remap(host: Host) -> None:
    """Seed 001 also sets userns-remap: "default", which makes dockerd run useradd for
    'dockremap'. A lab shares this machine's /etc/passwd (only /etc/group is the sandbox's), so
    that fails there (exit 10) and must never succeed. The plan keeps the key on a real host;
    here it goes, while the comments and trailing text the plan must repair stay."""
    path = host.path("/etc/docker/daemon.json")
    text = path.read_text()
    line = '  "userns-remap": "default", // isolate container users\n'
    assert line in text
    path.write_text(text.replace(line, ""))


def _prove_mtls(host: Host, plan: Plan, address: str) -> None:
    """The issued client bundle works against the planned listener; no cert, no entry."""
    assert plan.client_bundle
    bundle = host.path(plan.client_bundle)
    url = f"tcp://{address}:2376"
    ok = _docker(host, ["--tlsverify", f"--tlscacert={bundle / 'ca.pem'}",
                        f"--tlscert={bundle / 'cert.pem'}", f"--tlskey={bundle / 'key.pem'}",
                        "-H", url, "version", "--format", "{{.Server.Version}}"])
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().startswith("20.10")
    denied = _docker(host, ["--tlsverify", f"--tlscacert={bundle / 'ca.pem'}", "-H", url,
                            "version", "--format", "{{.Server.Version}}"])
    assert denied.returncode != 0


def test_live_restore_staged_reload_keeps_the_daemon_up(lab_factory) -> None:  # type: ignore[no-untyped-def]
    """The staged daemon.json (live-restore only) is accepted by a SIGHUP on the running daemon."""
    lab = lab_factory("fd-socket")
    host = lab.host()
    state = inspect_host(host).model_copy(update={"running_containers": 1})
    intent = Intent(mode=Mode.MTLS, listen_host=lab.info.address,
                    hardening=Hardening(live_restore=True))
    plan = build_plan(observe_material(host, state, intent), intent)
    stage = plan.actions[0].stage
    assert plan.actions[0].kind == "reload" and stage is not None
    Path(host.path(stage.path)).write_text(stage.after or "")
    assert host.services is not None and host.services.reload().ok
    argv = ["docker", "-H", f"unix://{lab.short_socket_path()}", "info", "--format",
            "{{.LiveRestoreEnabled}}"]
    deadline = time.monotonic() + 5.0
    seen = ""
    while time.monotonic() < deadline:  # SIGHUP is asynchronous: poll until the reload lands
        seen = host.run(argv, timeout=20).stdout.strip()
        if seen == "true":
            break
        time.sleep(0.1)
    assert seen == "true"
    assert host.services.is_active()


def test_cli_plans_for_a_lab_at_its_address(lab_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``dockwiz plan --lab D`` binds mtls to the lab's own address and saves for apply."""
    lab = lab_factory("fd-socket")
    saved = tmp_path / "plan.json"
    proc = subprocess.run(
        [sys.executable, "-m", "dockwiz", "plan", "--lab", str(lab.dir), "--mode", "mtls",
         "--save", str(saved), "--no-color"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"tcp://{lab.info.address}:2376 (mtls)" in proc.stdout
    plan = load_plan(saved)
    assert plan.intent.listen_host == lab.info.address
    assert "\x1b[" not in proc.stdout
