"""The apply transaction against a sandbox root and a small stand-in daemon.

The stand-in serves ``/_ping`` on a real unix socket under the sandbox root and refuses to
"start" on a config dockerd would refuse, like the lab manager does; the real-daemon proofs are
in tests/e2e/test_apply_e2e.py. Here the point is the transaction's bookkeeping: every byte,
mode and owner back, nothing left behind, the daemon touched only when it must be.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import socket
import socketserver
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockwiz import apply as ap
from dockwiz.apply import journal as jr
from dockwiz.apply.history import prune_backups
from dockwiz.apply.steps import dockerd_reason
from dockwiz.apply.transaction import write_change
from dockwiz.docker_paths import BACKUP_ROOT, JOURNAL_PATH, STATE_DIR
from dockwiz.errors import DockwizError
from dockwiz.host import CommandResult, Host
from dockwiz.models.intent import Intent
from dockwiz.models.plan import Endpoint, FileChange, Plan, ServiceAction
from dockwiz.models.results import ApplyStep

SOCK = "/var/run/docker.sock"
DAEMON_JSON = "/etc/docker/daemon.json"
DROPIN = "/etc/systemd/system/docker.service.d/dockwiz.conf"


class _PingHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")


class StandInDaemon:
    """Serves /_ping on the sandbox's docker.sock while 'running'; records every call."""

    name = "stand-in"

    def __init__(self, host: Host) -> None:
        self.host = host
        self.calls: list[str] = []
        self.server: socketserver.UnixStreamServer | None = None
        self.fail_next_start = False

    # the ServiceManager protocol
    def daemon_reload(self) -> CommandResult:
        self.calls.append("daemon-reload")
        return _result(0)

    def start(self) -> CommandResult:
        self.calls.append("start")
        return self._start()

    def stop(self) -> CommandResult:
        self.calls.append("stop")
        self._stop()
        return _result(0)

    def restart(self) -> CommandResult:
        self.calls.append("restart")
        self._stop()
        return self._start()

    def reload(self) -> CommandResult:
        self.calls.append("reload")
        return _result(0 if self.server else 1)

    def is_active(self) -> bool:
        return self.server is not None

    # internals
    def _start(self) -> CommandResult:
        reason = self._config_problem()
        if reason:
            return _result(1, f'level=fatal msg="failed to start daemon: {reason}"')
        path = self.host.path(SOCK)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self.server = socketserver.UnixStreamServer(str(path), _PingHandler)
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()
        return _result(0)

    def _config_problem(self) -> str | None:
        if self.fail_next_start:
            self.fail_next_start = False
            return "injected start failure"
        local = self.host.path(DAEMON_JSON)
        if not local.exists():
            return None
        try:
            data = json.loads(local.read_text())
        except ValueError as exc:
            return f"invalid daemon.json: {exc}"
        bad = [k for k in data if k.startswith("bogus")]
        if bad:
            return f"the following directives don't match any configuration option: {bad[0]}"
        return None

    def _stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        self.host.path(SOCK).unlink(missing_ok=True)


def _result(code: int, stderr: str = "") -> CommandResult:
    return CommandResult(argv=["stand-in"], returncode=code, stdout="", stderr=stderr,
                         duration_s=0.0)


@pytest.fixture
def host() -> Iterator[Host]:
    # short root: a unix socket path must fit in 107 bytes
    root = Path(tempfile.mkdtemp(prefix="dwap", dir="/tmp"))
    try:
        yield Host(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def daemon(host: Host) -> Iterator[StandInDaemon]:
    d = StandInDaemon(host)
    _put(host, DAEMON_JSON, '{\n  "debug": true\n}\n', 0o640, gid=4)
    assert d.start().ok
    d.calls.clear()
    yield d
    d._stop()


def _put(host: Host, path: str, text: str, mode: int, uid: int = 0, gid: int = 0) -> None:
    local = host.path(path)
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(text)
    os.chown(local, uid, gid)
    os.chmod(local, mode)


def _snapshot(host: Host) -> dict[str, tuple[str, int, int, int, bytes | None]]:
    """Every path under the root except the journal's own dir and the socket."""
    out: dict[str, tuple[str, int, int, int, bytes | None]] = {}
    for dirpath, dirnames, filenames in os.walk(host.root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            rel = "/" + str(p.relative_to(host.root))
            if rel.startswith(("/var/lib", "/var/run")) or rel == "/var":
                continue
            st_ = p.lstat()
            kind = "d" if stat.S_ISDIR(st_.st_mode) else "f"
            data = p.read_bytes() if kind == "f" else None
            out[rel] = (kind, stat.S_IMODE(st_.st_mode), st_.st_uid, st_.st_gid, data)
    return out


def _plan(files: list[FileChange], *, restart: bool = True, daemon_reload: bool = False) -> Plan:
    actions = []
    if daemon_reload:
        actions.append(ServiceAction(kind="daemon-reload", reason="a unit changed"))
    if restart:
        actions.append(ServiceAction(kind="restart", reason="hosts changed"))
    sock = [Endpoint(url=f"unix://{SOCK}", security="socket")]
    return Plan(intent=Intent(mode="unix"), files=files, actions=actions,
                endpoints_before=sock, endpoints_after=sock)


def _json_change(host: Host, after: str | None, mode: int = 0o644) -> FileChange:
    before = host.read_text(DAEMON_JSON) if host.exists(DAEMON_JSON) else None
    return FileChange(path=DAEMON_JSON, before=before, after=after, mode=mode, role="daemon-json",
                      reason="test")


def _dropin_change() -> FileChange:
    return FileChange(path=DROPIN, before=None, after="[Service]\nExecStart=\nExecStart=/x\n",
                      role="dropin", reason="test")


# -- success ----------------------------------------------------------------------------------
def test_success_writes_files_with_mode_and_marks_done(host: Host, daemon: StandInDaemon) -> None:
    seen: list[ApplyStep] = []
    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n', 0o600), _dropin_change()],
                 daemon_reload=True)
    result = ap.apply_plan(host, plan, on_step=seen.append, manager=daemon)
    assert result.ok, result
    assert host.read_text(DAEMON_JSON) == '{\n  "debug": false\n}\n'
    assert stat.S_IMODE(host.path(DAEMON_JSON).stat().st_mode) == 0o600
    assert host.path(DROPIN).is_file()
    assert daemon.calls == ["daemon-reload", "restart"]
    assert result.downtime_s is not None and result.downtime_s < 5
    names = [s.name for s in seen]
    assert names[0] == "journal and backups" and names[-1] == "done"
    assert names.index("validate") < names.index("restart dockerd") < names.index("wait for health")
    journal = jr.load_journal(host)
    assert journal is not None and journal.step == "done"
    assert ap.pending_recovery(host) is None
    backups = host.path(journal.backup_dir)
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    assert stat.S_IMODE(host.path(STATE_DIR).stat().st_mode) == 0o700


def test_rollback_last_undoes_a_successful_apply(host: Host, daemon: StandInDaemon) -> None:
    before = _snapshot(host)
    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n'), _dropin_change()],
                 daemon_reload=True)
    assert ap.apply_plan(host, plan, manager=daemon).ok
    assert _snapshot(host) != before
    result = ap.rollback_last(host, manager=daemon)
    assert result.ok and result.recovery_ok
    assert _snapshot(host) == before
    assert daemon.calls[-2:] == ["daemon-reload", "restart"]
    journal = jr.load_journal(host)
    assert journal is not None and journal.step == "rolled-back"
    with pytest.raises(DockwizError, match="already undone"):
        ap.rollback_last(host, manager=daemon)


# -- failures ---------------------------------------------------------------------------------
def test_daemon_refusing_the_config_restores_everything(host: Host, daemon: StandInDaemon) -> None:
    before = _snapshot(host)
    plan = _plan([_json_change(host, '{\n  "bogus-option": true\n}\n', 0o600), _dropin_change()],
                 daemon_reload=True)
    result = ap.apply_plan(host, plan, manager=daemon)
    assert not result.ok and result.rolled_back and result.recovery_ok
    assert result.failed_step == "restart dockerd"
    assert "don't match any configuration option: bogus-option" in (result.error or "")
    assert _snapshot(host) == before  # bytes, modes, owners; the drop-in dir is gone too
    assert daemon.calls == ["daemon-reload", "restart", "daemon-reload", "restart"]
    assert daemon.is_active()
    journal = jr.load_journal(host)
    assert journal is not None and journal.step == "rolled-back"


def test_invalid_json_is_caught_before_the_daemon_is_touched(
    host: Host, daemon: StandInDaemon
) -> None:
    before = _snapshot(host)
    result = ap.apply_plan(host, _plan([_json_change(host, '{"debug": true,}\n')]),
                           manager=daemon)
    assert not result.ok and result.recovery_ok
    assert result.failed_step == "validate"
    assert "not valid JSON" in (result.error or "")
    assert daemon.calls == []  # no restart at all: zero downtime for a rejected change
    assert _snapshot(host) == before


def test_missing_tls_file_is_caught_before_restart(host: Host, daemon: StandInDaemon) -> None:
    before = _snapshot(host)
    config = {"tls": True, "tlsverify": True, "tlscacert": "/etc/docker/tls/ca.pem",
              "tlscert": "/etc/docker/tls/server-cert.pem",
              "tlskey": "/etc/docker/tls/server-key.pem"}
    result = ap.apply_plan(host, _plan([_json_change(host, json.dumps(config))]), manager=daemon)
    assert not result.ok and result.failed_step == "validate"
    assert "does not exist" in (result.error or "")
    assert daemon.calls == []
    assert _snapshot(host) == before


def test_mismatched_key_and_uncovered_san_are_caught(host: Host, daemon: StandInDaemon) -> None:
    from dockwiz import pki

    ca = pki.issue_ca()
    server = pki.issue_server(ca, ["localhost"], ["127.0.0.1"])
    other = pki.issue_server(ca, ["localhost"], ["127.0.0.1"])
    _put(host, "/etc/docker/tls/ca.pem", ca.cert_pem().decode(), 0o444)
    _put(host, "/etc/docker/tls/server-cert.pem", server.cert_pem().decode(), 0o444)
    _put(host, "/etc/docker/tls/server-key.pem", other.key_pem().decode(), 0o400)
    config = {"tls": True, "tlsverify": True, "tlscacert": "/etc/docker/tls/ca.pem",
              "tlscert": "/etc/docker/tls/server-cert.pem",
              "tlskey": "/etc/docker/tls/server-key.pem"}
    plan = _plan([_json_change(host, json.dumps(config))])
    result = ap.apply_plan(host, plan, manager=daemon)
    assert not result.ok and "does not match" in (result.error or "")
    _put(host, "/etc/docker/tls/server-key.pem", server.key_pem().decode(), 0o400)
    plan.endpoints_after = [Endpoint(url="tcp://10.9.9.9:2376", security="mtls")]
    result = ap.apply_plan(host, plan, manager=daemon)
    assert not result.ok and "no SAN for 10.9.9.9" in (result.error or "")
    assert daemon.calls == []


def test_health_deadline_rolls_back(host: Host, daemon: StandInDaemon) -> None:
    before = _snapshot(host)
    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n')])
    plan.endpoints_after = [Endpoint(url="unix:///var/run/never.sock", security="socket")]
    result = ap.apply_plan(host, plan, manager=daemon, deadline_s=0.2)
    assert not result.ok and result.failed_step == "wait for health"
    assert "within 0.2 s" in (result.error or "")
    assert result.recovery_ok
    assert _snapshot(host) == before


def test_failed_rollback_restart_is_reported_not_hidden(host: Host, daemon: StandInDaemon) -> None:
    plan = _plan([_json_change(host, '{\n  "bogus": 1\n}\n')])
    real_restart = daemon.restart
    count = {"n": 0}

    def restart() -> CommandResult:
        count["n"] += 1
        if count["n"] == 2:
            daemon.fail_next_start = True
        return real_restart()

    daemon.restart = restart  # type: ignore[method-assign]
    result = ap.apply_plan(host, plan, manager=daemon)
    assert not result.ok and result.rolled_back and result.recovery_ok is False
    journal = jr.load_journal(host)
    assert journal is not None and journal.step == "rollback-failed"
    assert host.read_text(DAEMON_JSON) == '{\n  "debug": true\n}\n'
    # still pending: every start points at recover, which can simply be run again
    assert ap.pending_recovery(host) is not None
    again = ap.recover(host, manager=daemon)
    assert again.ok and ap.pending_recovery(host) is None


@pytest.mark.parametrize("fault", ["fail-after:journal", "fail-after:first-file",
                                   "fail-after:files", "fail-after:validate",
                                   "fail-after:restart", "term-after:files"])
def test_exception_or_signal_anywhere_rolls_back(
    host: Host, daemon: StandInDaemon, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    before = _snapshot(host)
    handler = signal.getsignal(signal.SIGTERM)
    monkeypatch.setenv(ap.FAULT_ENV, fault)
    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n'), _dropin_change()],
                 daemon_reload=True)
    result = ap.apply_plan(host, plan, manager=daemon)
    assert not result.ok and result.rolled_back and result.recovery_ok
    assert _snapshot(host) == before
    assert daemon.is_active()
    if fault.startswith("term"):
        assert "SIGTERM" in (result.error or "")
    # the handlers are gone again after the transaction
    assert signal.getsignal(signal.SIGTERM) is handler


def test_apply_refuses_while_a_crashed_apply_is_pending(host: Host, daemon: StandInDaemon) -> None:
    before = _snapshot(host)
    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n'), _dropin_change()])
    # what a SIGKILL after the first file leaves: a journal at 'journaled', one file written
    writer = jr.JournalWriter(host, jr.new_txid(), plan.model_dump_json())
    for f in plan.files:
        writer.add_file(f.path)
    writer.journal.endpoints_before = [jr.JournalEndpoint(url=f"unix://{SOCK}",
                                                          security="socket")]
    writer.commit()
    write_change(host, plan.files[1])
    assert ap.pending_recovery(host) is not None
    with pytest.raises(DockwizError, match="interrupted"):
        ap.apply_plan(host, plan, manager=daemon)
    result = ap.recover(host, manager=daemon)
    assert result.ok and result.recovery_ok
    assert _snapshot(host) == before
    assert daemon.calls == []  # never restarted, still answering: no restart needed
    assert ap.pending_recovery(host) is None
    assert ap.recover(host, manager=daemon).steps[0].status == "skipped"


def test_recover_after_a_restart_restarts_on_the_old_config(
    host: Host, daemon: StandInDaemon
) -> None:
    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n')])
    writer = jr.JournalWriter(host, jr.new_txid(), plan.model_dump_json())
    writer.add_file(DAEMON_JSON)
    writer.journal.restarted = True
    writer.journal.step = "restarted"
    writer.journal.endpoints_before = [jr.JournalEndpoint(url=f"unix://{SOCK}",
                                                          security="socket")]
    writer.commit()
    write_change(host, plan.files[0])
    result = ap.recover(host, manager=daemon)
    assert result.ok
    assert daemon.calls == ["restart"]
    assert host.read_text(DAEMON_JSON) == '{\n  "debug": true\n}\n'


def test_symlink_out_of_the_sandbox_is_refused(host: Host, daemon: StandInDaemon) -> None:
    outside = Path(tempfile.mkdtemp(prefix="dwout", dir="/tmp"))
    try:
        host.path("/etc/evil").symlink_to(outside)
        change = FileChange(path="/etc/evil/x.conf", before=None, after="x", role="t", reason="t")
        result = ap.apply_plan(host, _plan([change]), manager=daemon)
        assert not result.ok and "outside" in (result.error or "")
        assert list(outside.iterdir()) == []
    finally:
        shutil.rmtree(outside)


def test_health_deadline_knows_dockerds_own_sleeps() -> None:
    def plan(url: str, security: str) -> Plan:
        return Plan(intent=Intent(mode="unix"),
                    endpoints_after=[Endpoint(url=url, security=security)])

    base = ap.health_deadline(plan("unix:///var/run/docker.sock", "socket"))
    assert base == ap.BASE_DEADLINE_S
    assert ap.health_deadline(plan("tcp://127.0.0.1:2376", "mtls")) == base
    assert ap.health_deadline(plan("tcp://127.0.0.1:2375", "plain")) == base + 1
    assert ap.health_deadline(plan("tcp://0.0.0.0:2375", "plain")) == base + 16


def test_dockerd_reason_is_pulled_out_of_its_log() -> None:
    log = ('time="2026-11-23T19:00:00Z" level=info msg="Starting up"\n'
           'time="2026-11-23T19:00:01Z" level=warning msg="Binding to IP address"\n'
           'failed to start daemon: listen tcp 10.77.0.2:2376: bind: address already in use\n')
    assert dockerd_reason(log) == (
        "failed to start daemon: listen tcp 10.77.0.2:2376: bind: address already in use")
    fatal = 'time="x" level=fatal msg="unable to configure the Docker daemon with file \\"f\\""'
    assert dockerd_reason(fatal) == 'unable to configure the Docker daemon with file "f"'


# -- the property: whatever the files were, a failed apply puts them back exactly -------------
_names = st.sampled_from(["/etc/docker/other.json", "/etc/docker/a.conf",
                          "/etc/systemd/system/docker.service.d/x.conf",
                          "/etc/dockwiz/clients/new/f"])
_files = st.dictionaries(
    _names,
    st.tuples(st.one_of(st.none(), st.binary(max_size=200)),  # before (None: absent)
              st.one_of(st.none(), st.text(max_size=100)),  # after (None: delete)
              st.sampled_from([0o400, 0o444, 0o600, 0o640, 0o644]),
              st.sampled_from([(0, 0), (1, 2), (65534, 65534)])),
    min_size=1, max_size=4)


FileSpec = dict[str, tuple[bytes | None, str | None, int, tuple[int, int]]]


@settings(max_examples=40, deadline=None)
@given(files=_files)
def test_property_failed_apply_restores_every_byte(files: FileSpec) -> None:
    root = Path(tempfile.mkdtemp(prefix="dwpr", dir="/tmp"))
    host = Host(root)
    daemon = StandInDaemon(host)
    try:
        changes = []
        for path, (before, after, mode, (uid, gid)) in files.items():
            if before is not None:
                local = host.path(path)
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(before)
                os.chown(local, uid, gid)
                os.chmod(local, mode)
            text = None if before is None else before.decode("utf-8", errors="replace")
            changes.append(FileChange(path=path, before=text, after=after, mode=0o644,
                                      role="t", reason="t"))
        assert daemon.start().ok
        before_snap = _snapshot(host)
        daemon.fail_next_start = True  # the new daemon refuses to start
        result = ap.apply_plan(host, _plan(changes), manager=daemon)
        assert not result.ok and result.recovery_ok
        assert _snapshot(host) == before_snap
    finally:
        daemon._stop()
        shutil.rmtree(root, ignore_errors=True)


def test_socket_helper_is_real(host: Host, daemon: StandInDaemon) -> None:
    """The stand-in really answers on a socket, so the health wait is tested for real."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(host.path(SOCK)))
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 200")


# -- the CLI ----------------------------------------------------------------------------------
def _saved(host: Host, tmp_path: Path, plan: Plan) -> Path:
    from dockwiz.plan import save_plan

    path = tmp_path / "plan.json"
    save_plan(plan, path)
    return path


def test_cli_refuses_without_a_terminal_or_yes(
    host: Host, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dockwiz.cli import main

    before = _snapshot(host)
    plan_file = _saved(host, tmp_path, _plan([_json_change(host, '{\n  "debug": false\n}\n')]))
    monkeypatch.setattr("sys.stdin", open(os.devnull))  # noqa: SIM115 - closed by pytest
    status = main(["apply", str(plan_file), "--root", str(host.root), "--no-color"])
    err = capsys.readouterr().err
    assert status == 2
    assert "no terminal to ask on" in err and "--yes" in err
    assert _snapshot(host) == before and not host.exists(JOURNAL_PATH)


def test_cli_dry_run_lists_the_steps_and_changes_nothing(
    host: Host, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dockwiz.cli import main

    before = _snapshot(host)
    plan_file = _saved(host, tmp_path, _plan([_json_change(host, '{\n  "debug": false\n}\n'),
                                              _dropin_change()], daemon_reload=True))
    status = main(["apply", str(plan_file), "--root", str(host.root), "--dry-run",
                   "--no-color"])
    out = capsys.readouterr().out
    assert status == 0
    assert "+++ b/etc/docker/daemon.json" in out
    for step in ("journal and back up 2 file(s)", "write /etc/docker/daemon.json (mode 0644",
                 "daemon-reload: a unit changed", "restart: hosts changed",
                 "wait until unix:///var/run/docker.sock (socket) answer /_ping",
                 "on any failure: restore every file"):
        assert step in out, out
    assert _snapshot(host) == before and not host.exists(JOURNAL_PATH)


def test_cli_sandbox_without_a_manager_is_refused_before_anything_changes(
    host: Host, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dockwiz.cli import main

    plan_file = _saved(host, tmp_path, _plan([_json_change(host, '{\n  "debug": false\n}\n')]))
    status = main(["apply", str(plan_file), "--root", str(host.root), "--yes", "--no-color"])
    assert status == 2
    assert "no service manager" in capsys.readouterr().err
    assert not host.exists(JOURNAL_PATH)


def test_cli_containers_notice() -> None:
    from dockwiz.commands.apply import _containers_notice

    plan = _plan([])
    plan.running_containers = 3
    notice = _containers_notice(plan)
    assert notice is not None and "3 container(s)" in notice and "live-restore" in notice
    plan.daemon_json_after = {"live-restore": True}
    assert _containers_notice(plan) is None
    plan.daemon_json_after = None
    plan.actions = [ServiceAction(kind="reload", reason="r")]
    assert _containers_notice(plan) is None


def test_pending_warning_names_the_way_out(host: Host) -> None:
    from dockwiz.commands.apply import pending_warning

    assert pending_warning(host) is None
    writer = jr.JournalWriter(host, jr.new_txid(), "{}")
    writer.commit()
    warning = pending_warning(host)
    assert warning is not None and "dockwiz recover" in warning


def test_old_backups_are_pruned_but_those_on_the_rollback_stack_kept(host: Host) -> None:
    txids = []
    for n in range(7):
        writer = jr.JournalWriter(host, f"2026010{n}T000000Z-aaaaaa", "{}")
        writer.journal.step = "rolled-back" if n == 1 else "done"
        writer.commit()
        txids.append(writer.journal.txid)
    removed = prune_backups(host, keep=5)
    assert removed == [txids[1]]  # beyond the newest 5 and undone: its old keys go
    left = sorted(p.name for p in host.path(BACKUP_ROOT).iterdir())
    assert left == [txids[0], *txids[2:]]  # txids[0] is still applied: rollback may need it


def test_a_damaged_backup_stops_only_its_own_file_and_no_restart_on_a_half_old_config(
    host: Host, daemon: StandInDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12 §5: one damaged backup record must not stop the other restores, dockerd is not
    restarted on a half-restored configuration, and the report names exactly what is left."""
    host.path(DROPIN).parent.mkdir(parents=True)
    host.path(DROPIN).write_text("[Service]\n# the admin's\n")
    dropin_before = host.read_bytes(DROPIN)
    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n'),
                  FileChange(path=DROPIN, before="[Service]\n# the admin's\n",
                             after="[Service]\nExecStart=\nExecStart=/x\n", role="dropin",
                             reason="test")], restart=True)
    monkeypatch.setenv(ap.FAULT_ENV, "fail-after:restart")
    real = jr.JournalWriter.commit

    def commit_then_damage(self: jr.JournalWriter) -> None:
        real(self)
        backup = next(f.backup for f in self.journal.files if f.path == DAEMON_JSON)
        assert backup is not None
        self.host.path(backup).write_text("damaged")  # a real file on disk, really damaged

    monkeypatch.setattr(jr.JournalWriter, "commit", commit_then_damage)
    result = ap.apply_plan(host, plan, manager=daemon)
    assert not result.ok and result.rolled_back and result.recovery_ok is False
    assert result.not_restored == [DAEMON_JSON]
    assert host.read_bytes(DROPIN) == dropin_before  # the intact record was restored
    restore = next(s for s in result.steps if s.name == "restore files")
    assert restore.status == "failed"
    assert "does not match its recorded checksum" in restore.detail
    assert "/var/lib/dockwiz/backups/" in restore.detail
    assert daemon.calls == ["restart"]  # the apply's own; none on the half-old config
    skipped = next(s for s in result.steps if s.name.startswith("restart dockerd on the old"))
    assert skipped.status == "skipped" and "partly restored" in skipped.detail
    assert result.error is not None and "host needs attention" in result.error
    assert DAEMON_JSON in result.error and "undone" not in result.error
    journal = jr.load_journal(host)
    assert journal is not None and journal.step == "rollback-failed"
    assert ap.pending_recovery(host) is not None  # recover keeps being offered


def test_recover_finishes_an_apply_killed_after_health(host: Host, daemon: StandInDaemon) -> None:
    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n')])
    writer = jr.JournalWriter(host, jr.new_txid(), plan.model_dump_json())
    writer.add_file(DAEMON_JSON)
    writer.journal.step = "healthy"
    writer.journal.restarted = True
    writer.commit()
    write_change(host, plan.files[0])
    result = ap.recover(host, manager=daemon)
    assert result.ok and not result.rolled_back
    assert [s.name for s in result.steps][-1] == "done"
    assert host.read_text(DAEMON_JSON) == '{\n  "debug": false\n}\n'  # kept: it worked
    assert daemon.calls == []
    assert ap.rollback_last(host, manager=daemon).ok  # and it can still be undone


# -- faults during rollback (issue 12 §5) -------------------------------------------------------
@pytest.fixture
def small_state_disk(host: Host) -> Iterator[Path]:
    """/var/lib/dockwiz on its own 512 KiB tmpfs (0700, as dockwiz makes it): a disk to fill."""
    local = host.path(STATE_DIR)
    local.mkdir(parents=True)
    os.chmod(local.parent, 0o755)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs",
                              str(local)], capture_output=True, text=True, check=False)
    assert mounted.returncode == 0, f"this test needs root to mount a tmpfs: {mounted.stderr}"
    try:
        yield local
    finally:
        subprocess.run(["umount", "-l", str(local)], check=False)


def _fill(disk: Path) -> None:
    """Write until the kernel says ENOSPC: a really full disk, not a mock."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError) as full:
            while True:
                os.write(fd, b"\0" * 65536)
        assert full.value.errno == errno.ENOSPC
    finally:
        os.close(fd)


@pytest.mark.parametrize("how", ["rollback", "recover"])
def test_a_full_state_disk_does_not_stop_the_restore(
    host: Host, daemon: StandInDaemon, small_state_disk: Path, how: str
) -> None:
    before = _snapshot(host)
    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n'), _dropin_change()],
                 daemon_reload=True)
    if how == "rollback":
        assert ap.apply_plan(host, plan, manager=daemon).ok
    else:  # an apply killed after its files were written
        writer = jr.JournalWriter(host, jr.new_txid(), plan.model_dump_json())
        for change in plan.files:
            writer.add_file(change.path)
        writer.journal.unit_changed = True
        writer.journal.endpoints_before = [jr.JournalEndpoint(url=f"unix://{SOCK}",
                                                              security="socket")]
        writer.commit()
        for change in plan.files:
            write_change(host, change)
    assert _snapshot(host) != before
    _fill(small_state_disk)
    with pytest.raises(OSError):  # the journal really cannot be written any more
        jr.save_journal(host, jr.load_journal(host))  # type: ignore[arg-type]
    result = (ap.rollback_last if how == "rollback" else ap.recover)(host, manager=daemon)
    assert _snapshot(host) == before  # every byte back regardless
    assert result.ok and result.recovery_ok and result.not_restored == []
    unrecorded = [s for s in result.steps if s.name.startswith("record ")]
    assert unrecorded and all(s.status == "failed" for s in unrecorded)
    assert "No space left on device" in unrecorded[0].detail
    assert daemon.is_active()


def test_an_interruption_is_never_swallowed_by_a_ui_callback(
    host: Host, daemon: StandInDaemon
) -> None:
    """Issue 12 §5: a signal that lands inside the progress callback (wrapped in
    suppress(Exception) so a broken UI cannot break the transaction) still rolls back."""
    before = _snapshot(host)

    def ui(step: ApplyStep) -> None:
        if step.name == "write files":
            raise ap.ApplyInterrupted(signal.SIGINT)

    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n'), _dropin_change()],
                 daemon_reload=True)
    result = ap.apply_plan(host, plan, on_step=ui, manager=daemon)
    assert not result.ok and result.rolled_back and result.recovery_ok
    assert "SIGINT" in (result.error or "")
    assert _snapshot(host) == before
    assert issubclass(ap.ApplyInterrupted, BaseException)
    assert not issubclass(ap.ApplyInterrupted, Exception)


def test_cli_exit_code_3_when_the_rollback_fails(
    host: Host, daemon: StandInDaemon, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    from dockwiz.commands import apply as cmd

    assert ap.apply_plan(host, _plan([_json_change(host, '{\n  "debug": false\n}\n')]),
                         manager=daemon).ok
    journal = jr.load_journal(host)
    assert journal is not None and journal.files[0].backup is not None
    host.path(journal.files[0].backup).write_bytes(b"damaged")
    monkeypatch.setattr(cmd, "_manager", lambda _h, _a: daemon)
    import argparse

    args = argparse.Namespace(root=str(host.root), lab=None, yes=True, json=False,
                              color="never", service_manager=None)
    monkeypatch.setattr(cmd, "host_from_args", lambda _a: host)
    assert cmd.run_rollback(args) == cmd.EXIT_FAILED_NOT_RECOVERED == 3
    out = capsys.readouterr().out
    assert "rollback failed" in out and DAEMON_JSON in out and "NOT restored" in out


# -- the journal is trusted only when only root could have written it (issue 12 §2) ------------
def _whole_tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    out: dict[str, tuple[int, bytes | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st_ = p.lstat()
            data = p.read_bytes() if stat.S_ISREG(st_.st_mode) else None
            out[str(p)] = (st_.st_mode, data)
    return out


def _plant(host: Host, record: dict[str, object], **extra: object) -> None:
    """A journal as an attacker would plant it: a finished ('done') or pending transaction."""
    txid = "20260101T000000Z-aaaaaa"
    planted = host.path("/tmp/evil")
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(b"#!/bin/sh\nid > /tmp/pwned\n")
    state = host.path(STATE_DIR)
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    (state / "backups" / txid).mkdir(parents=True, exist_ok=True)
    (state / "backups").chmod(0o700)
    journal = {
        "txid": txid, "started": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z",
        "step": extra.pop("step", "done"),
        "plan_path": f"/var/lib/dockwiz/backups/{txid}/plan.json",
        "plan_sha256": "0" * 64, "files": [record], **extra,
    }
    path = host.path(JOURNAL_PATH)
    path.write_text(json.dumps(journal))
    path.chmod(0o600)


PWN = {"path": "/usr/local/bin/pwn", "existed": True, "backup": "/tmp/evil",
       "sha256": hashlib.sha256(b"#!/bin/sh\nid > /tmp/pwned\n").hexdigest(),
       "mode": 0o4755, "uid": 0, "gid": 0}


@pytest.mark.parametrize("what", ["rollback", "recover"])
def test_a_planted_journal_is_refused_and_nothing_is_written(
    host: Host, daemon: StandInDaemon, what: str
) -> None:
    _plant(host, PWN, step="done" if what == "rollback" else "restarted")
    before = _whole_tree(host.root)
    call = ap.rollback_last if what == "rollback" else ap.recover
    with pytest.raises(DockwizError, match=r"refusing the apply journal .*/usr/local/bin/pwn"):
        call(host, manager=daemon)
    assert not host.path("/usr/local/bin/pwn").exists()
    lock_file = str(host.path(STATE_DIR) / "lock")
    after = _whole_tree(host.root)
    assert after.pop(lock_file, (0, b""))[1] == b""  # dockwiz's own lock, released
    assert after == before
    assert daemon.calls == []


@pytest.mark.parametrize(("record", "why"), [
    ({**PWN, "path": DAEMON_JSON}, "setuid"),  # an allowed path, but a setuid mode
    ({**PWN, "path": DAEMON_JSON, "mode": 0o644}, r"backup of .* is outside"),
    ({**PWN, "path": "/etc/docker/../cron.d/x", "mode": 0o644}, "which no plan touches"),
])
def test_journal_records_outside_what_a_plan_touches_are_refused(
    host: Host, daemon: StandInDaemon, record: dict[str, object], why: str
) -> None:
    _plant(host, record)
    with pytest.raises(DockwizError, match=why):
        ap.rollback_last(host, manager=daemon)


def test_created_dirs_outside_the_plan_are_refused(host: Host, daemon: StandInDaemon) -> None:
    _plant(host, {"path": DAEMON_JSON, "existed": False}, created_dirs=["/usr"])
    with pytest.raises(DockwizError, match="would remove the directory /usr"):
        ap.rollback_last(host, manager=daemon)


@pytest.mark.parametrize("damage", ["journal-owner", "journal-mode", "state-mode",
                                    "state-owner"])
def test_a_journal_someone_else_could_write_is_refused(
    host: Host, daemon: StandInDaemon, damage: str
) -> None:
    assert ap.apply_plan(host, _plan([_json_change(host, '{\n  "debug": false\n}\n')]),
                         manager=daemon).ok
    target = host.path(JOURNAL_PATH) if damage.startswith("journal") else host.path(STATE_DIR)
    if damage.endswith("owner"):
        os.chown(target, 1000, 1000)
    else:
        target.chmod(0o644 if damage.startswith("journal") else 0o777)
    before = _whole_tree(host.root)
    with pytest.raises(DockwizError, match=r"owned by uid 1000|group/world-writable|not 0600"):
        ap.rollback_last(host, manager=daemon)
    with pytest.raises(DockwizError):
        ap.apply_plan(host, _plan([_json_change(host, "{}\n")]), manager=daemon)
    assert _whole_tree(host.root) == before


def test_state_dir_is_created_0700_root(host: Host, daemon: StandInDaemon) -> None:
    assert ap.apply_plan(host, _plan([_json_change(host, "{}\n")]), manager=daemon).ok
    st_ = host.path(STATE_DIR).lstat()
    assert (stat.S_IMODE(st_.st_mode), st_.st_uid, st_.st_gid) == (0o700, 0, 0)
    st_ = host.path(JOURNAL_PATH).lstat()
    assert (stat.S_IMODE(st_.st_mode), st_.st_uid) == (0o600, 0)


def test_state_dir_symlinked_out_of_the_root_is_refused(
    host: Host, daemon: StandInDaemon, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir(mode=0o700)
    host.path("/var/lib").mkdir(parents=True)
    host.path(STATE_DIR).symlink_to(outside)
    before = _snapshot(host)
    with pytest.raises(DockwizError, match=r"/var/lib/dockwiz is a symlink .* leads outside"):
        ap.apply_plan(host, _plan([_json_change(host, "{}\n")]), manager=daemon)
    with pytest.raises(DockwizError, match="leads outside"):
        ap.rollback_last(host, manager=daemon)
    assert list(outside.iterdir()) == []
    assert _snapshot(host) == before


def test_rollback_never_deletes_through_a_symlinked_directory(
    host: Host, daemon: StandInDaemon, tmp_path: Path
) -> None:
    """A created cert directory that became a link out of the root before the rollback: the
    rollback refuses to act through it, says so, and what it points at stays."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    plan = _plan([_json_change(host, "{}\n"),
                  FileChange(path="/etc/dockwiz/ca/ca.pem", before=None, after="x\n",
                             role="ca", reason="test")])
    assert ap.apply_plan(host, plan, manager=daemon).ok
    ca = host.path("/etc/dockwiz/ca")
    shutil.rmtree(ca)
    ca.symlink_to(victim)
    (victim / "ca.pem").write_text("not ours either")
    result = ap.rollback_last(host, manager=daemon)
    assert (victim / "precious").read_text() == "keep me"
    assert (victim / "ca.pem").read_text() == "not ours either"
    assert not result.ok and result.not_restored == ["/etc/dockwiz/ca/ca.pem"]
    assert "leads outside the host root" in (result.error or "")


# -- one transaction at a time (issue 12 §3) ---------------------------------------------------
_HOLDER = """
import sys, time
from dockwiz.apply import journal as jr, lock
from dockwiz.host import Host
host = Host(sys.argv[1])
with lock.transaction_lock(host, "apply"):
    writer = jr.JournalWriter(host, jr.new_txid(), "{}")
    writer.add_file("/etc/docker/daemon.json")
    writer.journal.step = "files-written"
    writer.commit()
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_process_is_refused_while_a_transaction_runs(
    host: Host, daemon: StandInDaemon
) -> None:
    from dockwiz.commands.apply import pending_warning

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(ap.__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(host.root)],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        # a running apply is not an interrupted one
        assert ap.pending_recovery(host) is None
        warning = pending_warning(host)
        assert warning is not None and f"pid {holder.pid}" in warning and "running" in warning
        for call in (lambda: ap.recover(host, manager=daemon),
                     lambda: ap.rollback_last(host, manager=daemon),
                     lambda: ap.apply_plan(host, _plan([_json_change(host, "{}\n")]),
                                           manager=daemon)):
            with pytest.raises(DockwizError, match=rf"pid {holder.pid} \('apply', since "):
                call()
        assert daemon.calls == []
    finally:
        holder.kill()  # SIGKILL: the kernel drops the flock, no clean-up runs
        holder.wait()
    pending = ap.pending_recovery(host)
    assert pending is not None and pending.step == "files-written"
    assert "interrupted" in (pending_warning(host) or "")
    assert ap.recover(host, manager=daemon).ok


# -- a no-op is not a transaction; rollback is a stack (issue 12 §4) --------------------------
def test_a_noop_apply_keeps_the_rollback_point(
    host: Host, daemon: StandInDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    from dockwiz.cli import main
    from dockwiz.plan import save_plan

    before = _snapshot(host)
    assert ap.apply_plan(host, _plan([_json_change(host, '{\n  "debug": false\n}\n')]),
                         manager=daemon).ok
    journal = jr.load_journal(host)
    assert journal is not None
    calls = list(daemon.calls)
    noop = _plan([_json_change(host, host.read_text(DAEMON_JSON))], restart=False)
    noop.files[0].mode = stat.S_IMODE(host.path(DAEMON_JSON).stat().st_mode)
    assert noop.is_empty
    for _ in range(7):  # more than the pruning keeps: the real change must stay undoable
        result = ap.apply_plan(host, noop, manager=daemon)
        assert result.ok and result.txid is None
        assert [s.name for s in result.steps] == ["nothing to do"]
    saved = host.root.parent / f"{host.root.name}.plan"
    save_plan(noop, saved)
    try:  # the CLI: "nothing to do", exit 0, without asking or needing a service manager
        assert main(["apply", str(saved), "--root", str(host.root)]) == 0
    finally:
        saved.unlink()
    assert "nothing to do" in capsys.readouterr().out
    assert daemon.calls == calls  # no restart
    assert jr.load_journal(host) == journal  # the rollback point is untouched
    assert ap.rollback_last(host, manager=daemon).ok
    assert _snapshot(host) == before


def test_rollback_is_a_stack_and_history_lists_it(
    host: Host, daemon: StandInDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    from dockwiz.cli import main

    states = [_snapshot(host)]
    for text in ('{\n  "debug": false\n}\n', '{\n  "debug": false,\n  "icc": false\n}\n',
                 '{\n  "icc": false\n}\n'):
        assert ap.apply_plan(host, _plan([_json_change(host, text)]), manager=daemon).ok
        states.append(_snapshot(host))
    txids = [j.txid for j in _history(host)]
    assert len(txids) == 3
    for expected in reversed(states[:-1]):  # undo the newest, then the one before, ...
        result = ap.rollback_last(host, manager=daemon)
        assert result.ok, result.error
        assert _snapshot(host) == expected
    with pytest.raises(DockwizError, match="nothing to roll back"):
        ap.rollback_last(host, manager=daemon)
    assert main(["history", "--root", str(host.root), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["txid"] for r in rows] == txids
    assert {r["outcome"] for r in rows} == {"rolled back"}
    assert all(r["mode"] == "unix" and r["files"] == [DAEMON_JSON] for r in rows)


def _history(host: Host) -> list[jr.Journal]:
    from dockwiz.apply.history import journals

    return journals(host)


# -- stale saved plans (issue 12 §6) -----------------------------------------------------------
def test_a_stale_plan_is_refused_naming_the_file(host: Host, daemon: StandInDaemon) -> None:
    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n'), _dropin_change()])
    host.path(DAEMON_JSON).write_text('{\n  "debug": true,\n  "the-admins-edit": 1\n}\n')
    before = _snapshot(host)
    with pytest.raises(DockwizError, match=f"(?s)stale: {DAEMON_JSON} was edited.*plan again"):
        ap.apply_plan(host, plan, manager=daemon)
    assert _snapshot(host) == before and daemon.calls == []
    assert jr.load_journal(host) is None


def test_cli_saved_plan_rechecks_staleness_and_policy(
    host: Host, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dockwiz.cli import main
    from dockwiz.plan import save_plan

    _put(host, DAEMON_JSON, "{}\n", 0o644)
    plan = _plan([_json_change(host, "{}\n")])
    saved = tmp_path / "p.plan"
    save_plan(plan, saved)
    host.path(DAEMON_JSON).write_text("{}\n ")
    assert main(["apply", str(saved), "--root", str(host.root), "--yes"]) == 2
    assert f"stale: {DAEMON_JSON} was edited" in capsys.readouterr().err
    # a plan (edited by hand) whose intent the policy refuses on this host as it is now
    bad = plan.model_copy(update={"intent": Intent(mode="mtls", listen_host="no such host!")})
    host.path(DAEMON_JSON).write_text("{}\n")
    bad.files[0].before = "{}\n"
    save_plan(bad, saved)
    assert main(["apply", str(saved), "--root", str(host.root), "--yes"]) == 2
    err = capsys.readouterr().err
    assert "breaks the policy" in err and "no such host!" in err


# -- tests that catch real bugs (issue 12 §7) --------------------------------------------------
@pytest.mark.parametrize("how", ["rollback", "failed-apply"])
def test_mode_and_owner_come_back_when_the_bytes_did_not_change(
    host: Host, daemon: StandInDaemon, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    before = _snapshot(host)  # daemon.json is 0640 root:4 (the fixture)
    text = host.read_text(DAEMON_JSON)
    change = FileChange(path=DAEMON_JSON, before=text, after=text, mode=0o600, uid=0, gid=0,
                        role="daemon.json", reason="CIS 3.17", mode_before=0o640)
    assert change.changed
    if how == "failed-apply":
        monkeypatch.setenv(ap.FAULT_ENV, "fail-after:files")
    result = ap.apply_plan(host, _plan([change]), manager=daemon)
    if how == "rollback":
        assert result.ok
        st_ = host.path(DAEMON_JSON).lstat()
        assert (stat.S_IMODE(st_.st_mode), st_.st_gid) == (0o600, 0)
        result = ap.rollback_last(host, manager=daemon)
    assert result.rolled_back and result.recovery_ok, result.error
    assert _snapshot(host) == before


def test_rollback_removes_what_the_apply_added_to_an_existing_cert_dir(
    host: Host, daemon: StandInDaemon
) -> None:
    """An existing /etc/dockwiz/ca holding only ca.pem; the apply renews the CA and adds
    ca-key.pem; the rollback must remove the new key, not only put ca.pem back."""
    from dockwiz.models.plan import CertAction

    _put(host, "/etc/dockwiz/ca/ca.pem", "the admin's old CA certificate\n", 0o444)
    host.path("/etc/dockwiz/ca").chmod(0o700)
    before = _snapshot(host)
    plan = _plan([], restart=False)
    plan.certs = [CertAction(role="ca", action="renew", cert_path="/etc/dockwiz/ca/ca.pem",
                             key_path="/etc/dockwiz/ca/ca-key.pem")]
    result = ap.apply_plan(host, plan, manager=daemon)
    assert result.ok, result.error
    assert host.path("/etc/dockwiz/ca/ca-key.pem").is_file()
    assert host.read_text("/etc/dockwiz/ca/ca.pem").startswith("-----BEGIN CERTIFICATE")
    assert ap.rollback_last(host, manager=daemon).ok
    assert not host.path("/etc/dockwiz/ca/ca-key.pem").exists()
    assert _snapshot(host) == before


def test_backups_are_durable_before_the_journal_and_the_journal_before_any_target(
    host: Host, daemon: StandInDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """certbot's order at the system-call level: every backup fsync'd and renamed into
    place, its directory fsync'd, then the journal renamed into place, then the first target.
    """
    _put(host, DROPIN, "[Service]\n# old\n", 0o644)
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        events.append(("rename", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    plan = _plan([_json_change(host, "{}\n"),
                  FileChange(path=DROPIN, before="[Service]\n# old\n", after="[Service]\n",
                             role="dropin", reason="test")])
    assert ap.apply_plan(host, plan, manager=daemon).ok
    journal = jr.load_journal(host)
    assert journal is not None
    local = {str(host.path(p)) for p in (JOURNAL_PATH,)}
    journal_at = events.index(("rename", local.pop()))
    backups = [str(host.path(f.backup)) for f in journal.files if f.backup]
    assert len(backups) == 2
    for b in backups:
        renamed = events.index(("rename", b))
        assert renamed < journal_at
        tmp_synced = [i for i, (kind, p) in enumerate(events[:renamed])
                      if kind == "fsync" and Path(p).name.startswith(f".{Path(b).name}.")]
        assert tmp_synced, f"backup {b} renamed into place without an fsync"
    files_dir = str(host.path(f"{journal.backup_dir}/files"))
    dir_synced = [i for i, e in enumerate(events) if e == ("fsync", files_dir)]
    last_backup = max(events.index(("rename", b)) for b in backups)
    assert any(last_backup < i < journal_at for i in dir_synced)
    targets = [events.index(("rename", str(host.path(p)))) for p in (DAEMON_JSON, DROPIN)]
    assert journal_at < min(targets)


def test_issued_certificates_are_named_after_the_host(tmp_path: Path) -> None:
    """Issue 14 §3: the CA names the host and the day, the server CN is the host's FQDN."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from dockwiz.apply.certs import issue_certificates
    from dockwiz.models.plan import CertAction

    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("web1\n")
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n10.0.0.5 web1.example.com web1\n")
    host = Host(root)
    plan = Plan(intent=Intent(mode="mtls", listen_host="10.0.0.5"), certs=[
        CertAction(role="ca", action="create", cert_path="/etc/dockwiz/ca/ca.pem",
                   key_path="/etc/dockwiz/ca/ca-key.pem", days=3650),
        CertAction(role="server", action="create", cert_path="/etc/docker/tls/server-cert.pem",
                   key_path="/etc/docker/tls/server-key.pem", dns_names=["web1.example.com"],
                   ip_addresses=["10.0.0.5"]),
    ])
    issue_certificates(host, plan)

    def cn(path: str) -> str:
        cert = x509.load_pem_x509_certificate(host.path(path).read_bytes())
        return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    assert cn("/etc/dockwiz/ca/ca.pem").startswith("dockwiz CA for web1.example.com 20")
    assert cn("/etc/docker/tls/server-cert.pem") == "web1.example.com"


def test_a_forbidden_tcp_source_left_in_the_files_fails_before_the_restart(
    host: Host, daemon: StandInDaemon
) -> None:
    """Issue 12 §1: after writing, the listeners are derived again from the files as written.
    A vendor drop-in that appeared after planning (it is not a target, so the plan is not
    stale) would bring plain TCP back: validate fails, nothing is restarted, all is undone."""
    _put(host, "/lib/systemd/system/docker.service",
         "[Service]\nExecStart=/usr/sbin/dockerd -H unix:///var/run/docker.sock\n", 0o644)
    _put(host, "/lib/systemd/system/docker.service.d/zzz-tcp.conf",
         "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H tcp://0.0.0.0:2375\n", 0o644)
    before = _snapshot(host)
    plan = _plan([_json_change(host, '{\n  "debug": false\n}\n')])
    result = ap.apply_plan(host, plan, manager=daemon)
    assert not result.ok and result.failed_step == "validate", result
    assert "tcp://0.0.0.0:2375" in (result.error or "") and "zzz-tcp.conf" in (result.error or "")
    assert "restart" not in daemon.calls
    assert _snapshot(host) == before
