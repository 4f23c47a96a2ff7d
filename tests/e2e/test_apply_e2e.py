"""The apply transaction against real dockerd labs, with real faults.

Every fault case starts from a running lab, applies a change that fails for a real reason, and
then asserts the two things an admin cares about: the old daemon answers on its old endpoints
again, and every file under the host root is byte-identical, mode and owner included.

To keep the file fast, the fault cases share one fd-socket lab (``fd_lab``): each case leaves
it exactly as it found it, and the snapshot comparison is what proves that.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockwiz import apply as ap
from dockwiz.apply import journal as jr
from dockwiz.docker_paths import JOURNAL_PATH
from dockwiz.dockerapi import ping_endpoint
from dockwiz.host import Host
from dockwiz.inspect import inspect_host
from dockwiz.lab.lab import Lab, lab_down, lab_up
from dockwiz.models.intent import Hardening, Intent
from dockwiz.models.plan import Endpoint, Plan
from dockwiz.models.results import ApplyResult
from dockwiz.plan import build_plan, observe_material, save_plan
from dockwiz.services import choose_manager
from dockwiz.verify import verify_host
from lab_clients import port_taken

pytestmark = pytest.mark.e2e

DOCKERD_KEY = "/etc/docker/key.json"
Snapshot = dict[str, tuple[str, int, int, int, bytes | None]]


# -- helpers ----------------------------------------------------------------------------------
def snapshot(host: Host) -> Snapshot:
    """Every file and directory under the root: kind, mode, owner, bytes.

    Left out: /run (the daemon's runtime state: pidfile, socket, exec-root), the wizard's
    own journal directory, which a transaction is supposed to leave behind, and
    /etc/docker/key.json, the identity key dockerd 20.10 creates on its first start (a daemon
    that could not start before the apply gets one when it first runs; it is the daemon's).
    """
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(host.root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            rel = "/" + str(p.relative_to(host.root))
            if rel.startswith(("/run", "/var/lib")) or rel in ("/var/run", DOCKERD_KEY):
                continue
            st_ = p.lstat()
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = ("l", 0, st_.st_uid, st_.st_gid, os.readlink(p).encode())
                continue
            kind = "d" if stat.S_ISDIR(st_.st_mode) else "f"
            data = p.read_bytes() if kind == "f" else None
            out[rel] = (kind, stat.S_IMODE(st_.st_mode), st_.st_uid, st_.st_gid, data)
    return out


def make_plan(host: Host, lab: Lab, mode: str, *, listen: str | None = None,
              port: int = 2376) -> Plan:
    addr = listen or lab.info.address
    intent = Intent(mode=mode, listen_host=addr if mode in ("tls", "mtls") else None,
                    listen_port=port, sans_ip=[addr] if mode in ("tls", "mtls") else [])
    state = observe_material(host, inspect_host(host), intent)
    return build_plan(state, intent)


def old_endpoints_answer(host: Host, plan: Plan) -> None:
    """The endpoints the daemon had before answer /_ping again (TLS ones: a TLS answer)."""
    ok, lines = ap.wait_endpoints(host, plan.endpoints_before, None, time.monotonic() + 10)
    assert ok, lines


def with_daemon_json(plan: Plan, **changes: Any) -> Plan:
    """The plan with daemon.json's new text edited: how a hand-edited or stale plan goes wrong."""
    plan = plan.model_copy(deep=True)
    for f in plan.files:
        if f.path.endswith("daemon.json") and f.after is not None:
            data = json.loads(f.after)
            data.update(changes)
            f.after = json.dumps(data, indent=2) + "\n"
    return plan


def daemon_pid(lab: Lab) -> int | None:
    return lab.refresh().info.pid


def dockwiz(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockwiz", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})},
                          check=False)


@pytest.fixture(scope="module")
def fd_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("applylab") / "lab"
    lab = lab_up(directory, "fd-socket")
    assert lab.info.state == "running", lab.info.error
    try:
        yield lab
    finally:
        lab.refresh()
        pid = lab.info.pid
        lab_down(directory)
        if pid is not None:
            assert not lab.is_running(), f"dockerd {pid} still running after lab_down"


@pytest.fixture
def clean(fd_lab: Lab) -> Iterator[tuple[Lab, Host, Snapshot]]:
    """The shared lab as the case found it; afterwards: restored, answering, no pending journal."""
    host = fd_lab.host()
    assert ap.pending_recovery(host) is None
    before = snapshot(host)
    yield fd_lab, host, before
    assert ap.pending_recovery(host) is None
    assert snapshot(host) == before


# -- happy paths ------------------------------------------------------------------------------
def test_mtls_apply_then_rollback(clean: tuple[Lab, Host, Snapshot]) -> None:
    lab, host, before = clean
    plan = make_plan(host, lab, "mtls")
    result = ap.apply_plan(host, plan)
    assert result.ok, result.model_dump_json(indent=2)
    assert result.downtime_s is not None and result.downtime_s < 10
    bundle = Path(result.client_bundle or "")
    # the docker CLI, as the admin's client will use it, inside the lab's network namespace
    local = host.path(str(bundle))
    cli = host.run(["docker", "--tlsverify", f"--tlscacert={local / 'ca.pem'}",
                    f"--tlscert={local / 'cert.pem'}", f"--tlskey={local / 'key.pem'}",
                    "-H", f"tcp://{lab.info.address}:2376", "version", "--format",
                    "{{.Server.Version}}"], in_netns=True, timeout=30)
    assert cli.ok, cli.stderr
    assert stat.S_IMODE(host.path("/etc/docker/tls/server-key.pem").stat().st_mode) == 0o400
    assert stat.S_IMODE(host.path("/etc/dockwiz/ca").stat().st_mode) == 0o700
    # and undo it: every byte back, the TCP listener gone, the socket answering
    rb = ap.rollback_last(host)
    assert rb.ok and rb.recovery_ok, rb.model_dump_json(indent=2)
    assert snapshot(host) == before
    old_endpoints_answer(host, plan)
    gone = ping_endpoint(host, f"tcp://{lab.info.address}:2376", None, 1.0)
    assert not gone.ok


def test_tls_on_loopback_then_back_to_unix(lab_factory: Any) -> None:
    lab = lab_factory("fd-socket")
    host = lab.host()
    tls = make_plan(host, lab, "tls", listen="127.0.0.1")
    assert [e.security for e in tls.endpoints_after] == ["socket", "tls"]
    result = ap.apply_plan(host, tls)
    assert result.ok, result.model_dump_json(indent=2)
    unix = make_plan(host, lab, "unix")
    before_unix = snapshot(host)
    result = ap.apply_plan(host, unix)
    assert result.ok, result.model_dump_json(indent=2)
    assert not ping_endpoint(host, "tcp://127.0.0.1:2376", None, 1.0).ok
    assert ap.rollback_last(host).ok
    assert snapshot(host) == before_unix
    old_endpoints_answer(host, unix)


@pytest.mark.parametrize(("scenario", "mode", "undo"), [
    ("insecure-tcp", "mtls", False),  # seed 004: plain 0.0.0.0:2375 -> mTLS (undo: 16 s start)
    ("tls-no-verify", "mtls", True),  # TLS without client auth -> mTLS
    ("mtls", "unix", True),  # an mTLS host closed down to the socket
    ("hosts-conflict", "mtls", True),  # a daemon that could not start -> running, secured
    ("tlsverify-no-ca", "mtls", False),  # seed 003: tlsverify falling back to ~/.docker
])
def test_each_scenario_to_a_secured_daemon(
    lab_factory: Any, scenario: str, mode: str, undo: bool
) -> None:
    lab = lab_factory(scenario, wait=30.0)
    host = lab.host()
    was_running = lab.info.state == "running"
    before = snapshot(host)
    plan = make_plan(host, lab, mode)
    result = ap.apply_plan(host, plan)
    assert result.ok, result.model_dump_json(indent=2)
    for endpoint in plan.endpoints_before:
        if endpoint.security == "plain":  # the old plain listener is gone
            assert not ping_endpoint(host, endpoint.url, None, 1.0).ok
    # and verify, as the admin would run it next, agrees: the daemon is secured in this mode
    after = {e.url for e in plan.endpoints_after}
    report = verify_host(
        host, expected_mode=mode,
        bundle_dir=host.path(result.client_bundle) if result.client_bundle else None,
        former_endpoints=[e.url for e in plan.endpoints_before
                          if e.url.startswith("tcp://") and e.url not in after])
    assert report.passed, report.model_dump_json(indent=2)
    if not undo:
        return
    rb = ap.rollback_last(host)
    assert rb.ok and rb.recovery_ok, rb.model_dump_json(indent=2)
    assert snapshot(host) == before
    if was_running:
        old_endpoints_answer(host, plan)
    else:  # it could not start before the apply; it is left stopped, as found
        assert not lab.refresh().is_running()


def test_commented_json_repaired_or_restored_byte_for_byte(lab_factory: Any) -> None:
    """Seed 001: a daemon.json with // comments (the daemon cannot start on it).

    The plan repairs it; the repaired file keeps the seed's userns-remap, which needs a
    'dockremap' account the daemon creates on its first start: where the daemon can do that
    the apply succeeds and is undone by rollback; where it cannot (this lab's shared
    /etc/group), dockerd refuses and the transaction restores the commented file byte for
    byte and leaves the daemon stopped, as it found it. Either way the end state is exact.
    """
    lab = lab_factory("commented-json")
    host = lab.host()
    assert lab.info.state == "failed"
    before = snapshot(host)
    result = ap.apply_plan(host, make_plan(host, lab, "unix"))
    if result.ok:
        assert ap.rollback_last(host).ok
    else:
        assert result.rolled_back and result.recovery_ok, result.model_dump_json(indent=2)
        assert result.failed_step == "restart dockerd"
        assert result.daemon_log
    assert snapshot(host) == before
    assert not lab.refresh().is_running()


# -- faults (shared fd-socket lab; ``clean`` asserts it is left byte-identical) ---------------
def _assert_rolled_back(result: ApplyResult, lab: Lab, host: Host, plan: Plan) -> None:
    assert not result.ok, result.model_dump_json(indent=2)
    assert result.rolled_back and result.recovery_ok, result.model_dump_json(indent=2)
    old_endpoints_answer(host, plan)
    journal = jr.load_journal(host)
    assert journal is not None and journal.step == "rolled-back"


def test_fault_listen_port_already_taken(clean: tuple[Lab, Host, Snapshot]) -> None:
    lab, host, _ = clean
    with port_taken(lab, 2376):
        plan = make_plan(host, lab, "mtls")
        result = ap.apply_plan(host, plan)
        _assert_rolled_back(result, lab, host, plan)
        assert result.failed_step == "restart dockerd"
        assert "address already in use" in (result.error or ""), result.error
        assert result.daemon_log and "address already in use" in result.daemon_log


def test_fault_cert_missing_or_not_matching_key(clean: tuple[Lab, Host, Snapshot]) -> None:
    """Caught by our own checks before the restart: the running daemon is never touched."""
    lab, host, _ = clean
    pid = daemon_pid(lab)
    plan = make_plan(host, lab, "mtls")
    missing = with_daemon_json(plan, tlscert="/etc/docker/tls/missing-cert.pem")
    result = ap.apply_plan(host, missing)
    _assert_rolled_back(result, lab, host, plan)
    assert result.failed_step == "validate" and "does not exist" in (result.error or "")
    # the client's key next to the server's cert: a pair that does not match
    wrong_key = with_daemon_json(plan, tlskey="/etc/dockwiz/clients/dockwiz-client/key.pem")
    result = ap.apply_plan(host, wrong_key)
    _assert_rolled_back(result, lab, host, plan)
    assert "does not match the certificate" in (result.error or "")
    assert daemon_pid(lab) == pid  # zero downtime: no restart for a change that cannot work


def test_fault_option_the_daemon_rejects(clean: tuple[Lab, Host, Snapshot]) -> None:
    lab, host, _ = clean
    plan = with_daemon_json(make_plan(host, lab, "mtls"), **{"bogus-option": True})
    result = ap.apply_plan(host, plan)
    _assert_rolled_back(result, lab, host, plan)
    assert "bogus-option" in (result.error or ""), result.error
    # a flag on the command line (the drop-in) that dockerd does not know
    plan = make_plan(host, lab, "mtls").model_copy(deep=True)
    dropin = next(f for f in plan.files if f.role == "dropin")
    assert dropin.after is not None
    dropin.after = dropin.after.rstrip("\n") + " --no-such-flag\n"
    result = ap.apply_plan(host, plan)
    _assert_rolled_back(result, lab, host, plan)
    assert "unknown flag: --no-such-flag" in (result.daemon_log or ""), result.daemon_log


@pytest.mark.parametrize("point", ["journal", "first-file", "restart", "healthy"])
def test_fault_wizard_killed_then_recover(
    clean: tuple[Lab, Host, Snapshot], tmp_path: Path, point: str
) -> None:
    lab, host, _ = clean
    plan = make_plan(host, lab, "mtls")
    plan_file = tmp_path / "plan.json"
    save_plan(plan, plan_file)
    run = dockwiz("apply", str(plan_file), "--lab", str(lab.dir), "--yes",
                  env={ap.FAULT_ENV: f"kill-after:{point}"})
    assert run.returncode == -signal.SIGKILL, run.stderr
    pending = ap.pending_recovery(host)
    assert pending is not None
    # every other command warns; apply refuses until recovered
    looked = dockwiz("inspect", "--lab", str(lab.dir), "--json")
    assert looked.returncode == 0 and "was interrupted" in looked.stderr, looked.stderr
    assert "dockwiz recover" in looked.stderr
    again = dockwiz("apply", str(plan_file), "--lab", str(lab.dir), "--yes")
    assert again.returncode == 2 and "dockwiz recover" in again.stderr
    rec = dockwiz("recover", "--lab", str(lab.dir), "--yes")
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert "recover succeeded" in rec.stdout
    if point == "healthy":
        # only 'done' was missing and the new daemon answers: recover finished the apply
        assert "confirm new daemon" in rec.stdout
        ok, lines = ap.wait_endpoints(host, plan.endpoints_after, ap.client_files(
            host, plan, None), time.monotonic() + 5)
        assert ok, lines
        back = dockwiz("rollback", "--lab", str(lab.dir), "--yes")
        assert back.returncode == 0, back.stdout + back.stderr
    old_endpoints_answer(host, plan)


def test_fault_sigterm_mid_apply(clean: tuple[Lab, Host, Snapshot], tmp_path: Path) -> None:
    lab, host, _ = clean
    plan = make_plan(host, lab, "mtls")
    plan_file = tmp_path / "plan.json"
    save_plan(plan, plan_file)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockwiz", "apply", str(plan_file), "--lab", str(lab.dir),
         "--yes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, ap.FAULT_ENV: "sleep-after:files"})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            journal = jr.load_journal(host) if host.exists(JOURNAL_PATH) else None
            if journal is not None and journal.step == "files-written":
                break
            time.sleep(0.05)
        else:
            pytest.fail("the apply never reached files-written")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, out + err
    assert "SIGTERM" in out
    assert "the host is back as it was" in out
    old_endpoints_answer(host, plan)


def test_fault_target_directory_read_only(clean: tuple[Lab, Host, Snapshot]) -> None:
    lab, host, _ = clean
    pid = daemon_pid(lab)
    target = host.path("/etc/docker")
    # a read-only bind mount in this (the wizard's) mount namespace; the lab's dockerd lives in
    # its own private one and is not affected
    bind = subprocess.run(["mount", "--bind", str(target), str(target)], check=False)
    assert bind.returncode == 0
    try:
        assert subprocess.run(["mount", "-o", "remount,bind,ro", str(target)],
                              check=False).returncode == 0
        plan = make_plan(host, lab, "mtls")
        result = ap.apply_plan(host, plan)
        _assert_rolled_back(result, lab, host, plan)
        assert "Read-only file system" in (result.error or ""), result.error
    finally:
        subprocess.run(["umount", str(target)], check=True)
    assert daemon_pid(lab) == pid


def test_fault_no_answer_before_the_deadline(clean: tuple[Lab, Host, Snapshot]) -> None:
    lab, host, _ = clean
    plan = make_plan(host, lab, "mtls")
    # the plan also waits for an endpoint nothing will open: it cannot answer in time (a
    # listener moved in daemon.json instead is caught earlier now, at validate: the files
    # as written would open a port the plan does not allow)
    moved = plan.model_copy(deep=True)
    moved.endpoints_after.append(Endpoint(url=f"tcp://{lab.info.address}:2379", security="mtls"))
    result = ap.apply_plan(host, moved, deadline_s=1.0)
    _assert_rolled_back(result, lab, host, plan)
    assert result.failed_step == "wait for health"
    assert "within 1.0 s" in (result.error or "")


def test_cli_apply_mode_then_rollback(clean: tuple[Lab, Host, Snapshot]) -> None:
    """The headless commands as an admin types them: plan+apply in one go, then undo it."""
    lab, host, _ = clean
    run = dockwiz("apply", "--lab", str(lab.dir), "--mode", "mtls", "--listen",
                  f"{lab.info.address}:2376", "--san", lab.info.address, "--yes", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["ok"] and result["client_bundle"] == "/etc/dockwiz/clients/dockwiz-client"
    assert "wait for health" in run.stderr  # live steps go to stderr under --json
    back = dockwiz("rollback", "--lab", str(lab.dir), "--yes", "--no-color")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "rollback succeeded" in back.stdout
    plan = make_plan(host, lab, "unix")
    old_endpoints_answer(host, plan)


def test_reloadable_change_is_applied_by_sighup_without_a_restart(
    clean: tuple[Lab, Host, Snapshot],
) -> None:
    """live-restore is re-read on SIGHUP (DOMAIN §9): same daemon process, no downtime."""
    lab, host, _ = clean
    pid = daemon_pid(lab)
    intent = Intent(mode="unix", hardening=Hardening(live_restore=True))
    plan = build_plan(observe_material(host, inspect_host(host), intent), intent)
    assert [a.kind for a in plan.actions] == ["reload"]
    result = ap.apply_plan(host, plan)
    assert result.ok, result.model_dump_json(indent=2)
    assert daemon_pid(lab) == pid
    deadline = time.monotonic() + 10  # SIGHUP is handled asynchronously by dockerd
    while True:
        info = host.run(["docker", "-H", f"unix://{lab.short_socket_path()}", "info",
                         "--format", "{{.LiveRestoreEnabled}}"], timeout=30)
        if info.stdout.strip() == "true" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert info.stdout.strip() == "true", info.stdout + info.stderr
    assert ap.rollback_last(host).ok


def test_an_unplanned_tcp_listener_fails_the_apply_and_is_named(
    clean: tuple[Lab, Host, Snapshot],
) -> None:
    """Issue 12 §1: a TCP source the plan never saw (here a drop-in written after planning,
    sorting after ours) would make the new daemon listen where the plan does not say. The
    listeners derived again from the files as written catch it before the restart (the
    daemon's real listeners, read in its namespace after the restart, are the last guard)."""
    lab, host, _ = clean
    intent = Intent(mode="unix", hardening=Hardening(icc_off=True))
    plan = build_plan(observe_material(host, inspect_host(host), intent), intent)
    assert any(a.kind == "restart" for a in plan.actions)
    extra = f"tcp://{lab.info.address}:2375"
    sneaky = host.path("/etc/systemd/system/docker.service.d/zzz-extra.conf")
    top = next((p for p in reversed(sneaky.parents) if not p.exists()), None)
    sneaky.parent.mkdir(parents=True, exist_ok=True)
    sneaky.write_text("[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// "
                      f"-H {extra} --tls=false --containerd=/run/containerd/containerd.sock\n")
    try:
        result = ap.apply_plan(host, plan)
        assert not result.ok and result.failed_step == "validate", result.error
        assert extra in (result.error or "") and "zzz-extra.conf" in (result.error or "")
        assert result.rolled_back and result.recovery_ok, result.model_dump_json(indent=2)
    finally:
        sneaky.unlink()
        if top is not None:
            shutil.rmtree(top)
        assert choose_manager(host).restart().ok  # the lab as it was, for the next case
    old_endpoints_answer(host, plan)
    assert not ping_endpoint(host, extra, None, 1.0).ok
