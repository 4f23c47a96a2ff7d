"""Apply a Plan as a transaction that either finishes or puts every byte back.

The order is certbot's reverter (DOMAIN §8, DESIGN "Apply"):

1. journal: every target is backed up and the journal written and fsync'd before any target
   changes, so even SIGKILL leaves enough on disk for ``recover`` to undo the apply;
2. certificates, then every planned file, each written atomically with its final mode/owner;
3. validation: our own checks always (strict JSON, referenced files exist, cert matches key,
   SANs cover the address clients dial), ``dockerd --validate`` where the version has it;
4. daemon-reload if a unit changed, reload/restart, then a health wait: every planned endpoint
   must answer ``/_ping`` (TCP ones with the client certificate) before a deadline that knows
   dockerd's own startup sleeps (DOMAIN §1);
5. done, or, on any failure, exception or signal: restore every file byte for byte, remove what
   was created, reload, restart, and confirm the *old* endpoints answer again.

Downtime matters as much as safety: a validation failure rolls back without ever touching the
running daemon, and a rollback restarts the daemon only if it was touched or is not answering.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from dockwiz import journal as jr
from dockwiz.errors import DockwizError
from dockwiz.fsutil import atomic_write, ensure_dir, fsync_dir
from dockwiz.host import CommandResult, Host, ServiceManager
from dockwiz.models.results import ApplyResult, ApplyStep, StepStatus
from dockwiz.services import choose_manager

if TYPE_CHECKING:
    from dockwiz.dockerapi import ClientFiles
    from dockwiz.models.plan import Endpoint, Plan

OnStep = Callable[["ApplyStep"], None]

FAULT_ENV = "DOCKWIZ_FAULT"  # test-only: "kill-after:journal", "sleep-after:files", ...
BASE_DEADLINE_S = 20.0
INSECURE_TCP_SLEEP_S = 1.0  # dockerd sleeps 1 s for any TCP host without tlsverify (DOMAIN §1)
IMPLICIT_TLS_SLEEP_S = 15.0  # ...and 15 s more when TLS is not explicit on a non-loopback host
POLL_INTERVAL_S = 0.03
WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names to skip, nothing binds here
PROBE_TIMEOUT_S = 2.0


class ApplyInterrupted(Exception):
    """A signal arrived mid-apply; raised into the transaction so it rolls back."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


class StepFailed(Exception):
    def __init__(self, step: str, message: str, daemon_log: str | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.daemon_log = daemon_log


# -- progress ---------------------------------------------------------------------------------
class _Steps:
    """Collects steps and forwards each to the caller's callback as it happens."""

    def __init__(self, on_step: OnStep | None) -> None:
        self.on_step = on_step
        self.steps: list[ApplyStep] = []
        self.current: str | None = None

    def emit(self, name: str, status: StepStatus, detail: str = "", seconds: float = 0.0) -> None:
        step = ApplyStep(name=name, status=status, detail=detail, seconds=round(seconds, 3))
        self.steps.append(step)
        if self.on_step is not None:
            with contextlib.suppress(Exception):  # a broken UI must not break the transaction
                self.on_step(step)

    @contextlib.contextmanager
    def run(self, name: str) -> Iterator[list[str]]:
        """Time a step; the body appends detail lines; failure is reported then re-raised."""
        detail: list[str] = []
        started = time.monotonic()
        self.current = name
        try:
            yield detail
        except BaseException as exc:
            self.emit(name, "failed", _describe(exc), time.monotonic() - started)
            raise
        finally:
            self.current = None
        self.emit(name, "ok", "; ".join(detail), time.monotonic() - started)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DockwizError):
        return exc.message
    return str(exc) or type(exc).__name__


# -- signals and test faults ------------------------------------------------------------------
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _signals(mode: Literal["raise", "defer"], seen: list[int]) -> Iterator[None]:
    """During an apply a signal raises into it; during a rollback it is noted, not obeyed.

    Handlers can only be installed from the main thread; the TUI runs apply in a worker and
    handles Ctrl+C itself, so there this is a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        seen.append(signum)
        if mode == "raise":
            raise ApplyInterrupted(signum)

    previous = {s: signal.signal(s, handler) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _fault(point: str) -> None:
    """Test-only fault injection at named points, driven by ``DOCKWIZ_FAULT``."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    for item in spec.split(","):
        action, _, where = item.strip().partition(":")
        if where != point:
            continue
        if action == "kill-after":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "term-after":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises into this sleep
        elif action == "sleep-after":
            time.sleep(60)
        elif action == "fail-after":
            raise RuntimeError(f"injected fault after {point}")


# -- public API -------------------------------------------------------------------------------
def pending_recovery(host: Host) -> jr.Journal | None:
    """The journal of an apply that never finished (the wizard died), or None."""
    journal = jr.load_journal(host)
    if journal is None or journal.finished:
        return None
    return journal


def apply_plan(
    host: Host,
    plan: Plan,
    *,
    on_step: OnStep | None = None,
    deadline_s: float | None = None,
    manager: ServiceManager | None = None,
) -> ApplyResult:
    """Apply ``plan`` to ``host``; on any failure restore the host and say what happened."""
    pending = pending_recovery(host)
    if pending is not None:
        raise DockwizError(
            f"an earlier apply ({pending.txid}) was interrupted at step '{pending.step}'",
            "run 'dockwiz recover' to restore the host first",
        )
    services = manager or choose_manager(host)
    tx = _Transaction(host, plan, services, _Steps(on_step), deadline_s)
    return tx.run()


def recover(host: Host, on_step: OnStep | None = None, *,
            manager: ServiceManager | None = None) -> ApplyResult:
    """Finish or undo an interrupted apply from its journal.

    Killed after the new daemon was confirmed healthy (only 'done' was left to write), the
    apply is finished if the new endpoints still answer; anything earlier is undone.
    """
    journal = pending_recovery(host)
    if journal is None:
        return ApplyResult(ok=True, steps=[ApplyStep(
            name="check journal", status="skipped", detail="no interrupted apply found")])
    steps = _Steps(on_step)
    services = manager or choose_manager(host)
    steps.emit("found interrupted apply", "ok",
               f"transaction {journal.txid} stopped at step '{journal.step}'")
    if journal.step == "healthy" and _still_healthy(host, journal, steps):
        journal.step = "done"
        jr.save_journal(host, journal)
        steps.emit("done", "ok", f"transaction {journal.txid} finished; backups kept for "
                   "'dockwiz rollback'")
        return ApplyResult(ok=True, txid=journal.txid, steps=steps.steps)
    recovered = _rollback(host, journal, services, steps)
    return ApplyResult(
        ok=recovered, txid=journal.txid, steps=steps.steps, rolled_back=True,
        recovery_ok=recovered,
        error=None if recovered else "the old configuration was restored but the daemon "
        "does not answer on its old endpoints",
    )


def _still_healthy(host: Host, journal: jr.Journal, steps: _Steps) -> bool:
    from dockwiz.models.plan import Plan

    try:
        plan = Plan.model_validate_json(host.read_bytes(journal.plan_path))
    except (OSError, ValueError):
        return False
    files = client_files(host, plan, None)
    with steps.run("confirm new daemon") as d:
        ok, lines = wait_endpoints(host, plan.endpoints_after, files, time.monotonic() + 5.0)
        d.extend(lines)
    return ok


def rollback_last(host: Host, on_step: OnStep | None = None, *,
                  manager: ServiceManager | None = None) -> ApplyResult:
    """Undo the last *successful* apply from its backups."""
    journal = jr.load_journal(host)
    if journal is None:
        raise DockwizError("nothing to roll back: no apply has been recorded on this host",
                           f"the journal lives at {jr.JOURNAL_PATH}")
    if not journal.finished:
        raise DockwizError(f"the last apply ({journal.txid}) was interrupted",
                           "run 'dockwiz recover' instead")
    if journal.step != "done":
        raise DockwizError(f"the last apply ({journal.txid}) is already undone ({journal.step})")
    steps = _Steps(on_step)
    services = manager or choose_manager(host)
    _check_unchanged_since(host, journal, steps)
    recovered = _rollback(host, journal, services, steps, force_restart=True)
    return ApplyResult(
        ok=recovered, txid=journal.txid, steps=steps.steps, rolled_back=True,
        recovery_ok=recovered,
        error=None if recovered else "files restored but the daemon does not answer "
        "on its former endpoints",
    )


# -- the transaction --------------------------------------------------------------------------
class _Transaction:
    def __init__(self, host: Host, plan: Plan, services: ServiceManager, steps: _Steps,
                 deadline_s: float | None) -> None:
        self.host = host
        self.plan = plan
        self.services = services
        self.steps = steps
        self.deadline_s = deadline_s if deadline_s is not None else health_deadline(plan)
        self.journal: jr.Journal | None = None
        self.bundle_dir: str | None = None
        self.t_down: float | None = None
        self.downtime: float | None = None

    def run(self) -> ApplyResult:
        seen: list[int] = []
        try:
            with _signals("raise", seen):
                self._forward()
        except BaseException as exc:
            if self.journal is None or self.journal.step != "done":
                return self._fail(exc, seen)
            # a signal in the instant after 'done' was recorded: the apply stands
        jr.prune_backups(self.host)
        return ApplyResult(
            ok=True, txid=self.journal.txid if self.journal else None, steps=self.steps.steps,
            downtime_s=self.downtime, client_bundle=self.bundle_dir or self.plan.client_bundle,
        )

    # forward path
    def _forward(self) -> None:
        with self.steps.run("journal and backups") as d:
            self.journal = self._write_journal()
            d.append(f"{len(self.journal.files)} file(s), {len(self.journal.trees)} "
                     f"director(ies) backed up under {self.journal.backup_dir}")
        _fault("journal")
        if any(c.action != "reuse" for c in self.plan.certs):
            with self.steps.run("certificates") as d:
                self.bundle_dir = issue_certificates(self.host, self.plan)
                d.append(", ".join(f"{c.role} {c.action}" for c in self.plan.certs))
            self._advance("certs-written")
        _fault("certs")
        staged = [a for a in self.plan.actions if a.stage is not None]
        later = [a for a in self.plan.actions if a.stage is None]
        # DOMAIN §9: live-restore goes in by reload first, so the restart keeps containers.
        self._service_actions(staged)
        with self.steps.run("write files") as d:
            for n, change in enumerate(self.plan.files):
                _write_change(self.host, change)
                d.append(f"{'removed' if change.after is None else 'wrote'} {change.path}")
                if n == 0:
                    _fault("first-file")
            self._advance("files-written")
        _fault("files")
        with self.steps.run("validate") as d:
            d.extend(validate(self.host, self.plan))
            self._advance("validated")
        _fault("validate")
        self._service_actions(later)
        self._advance("restarted")
        _fault("restart")
        with self.steps.run("wait for health") as d:
            d.extend(self._wait_new_endpoints())
            self._advance("healthy")
        _fault("healthy")
        assert self.journal is not None
        self._advance("done")
        self.steps.emit("done", "ok", f"transaction {self.journal.txid}; backups kept for "
                        "'dockwiz rollback'")

    def _write_journal(self) -> jr.Journal:
        # Was the old daemon answering at all? If not, a rollback restores the files and leaves
        # it stopped, as found, instead of failing to start a config that never worked.
        was_up, _ = wait_endpoints(self.host, self.plan.endpoints_before, None,
                                   time.monotonic() + 0.5)
        writer = jr.JournalWriter(self.host, jr.new_txid(), self.plan.model_dump_json())
        for change in self.plan.files:
            writer.add_file(change.path)
        for tree in cert_trees(self.plan):
            writer.add_tree(tree)
        journal = writer.journal
        journal.was_running = was_up
        journal.unit_changed = any(a.kind == "daemon-reload" for a in self.plan.actions)
        journal.endpoints_before = [_jep(e) for e in self.plan.endpoints_before]
        journal.endpoints_after = [_jep(e) for e in self.plan.endpoints_after]
        writer.commit()
        return journal

    def _advance(self, step: jr.Step) -> None:
        assert self.journal is not None
        self.journal.step = step
        jr.save_journal(self.host, self.journal)

    def _service_actions(self, actions: list[Any]) -> None:
        assert self.journal is not None
        for action in actions:
            with self.steps.run(_ACTION_TITLES.get(action.kind, action.kind)) as d:
                if action.stage is not None:
                    _write_change(self.host, action.stage)
                    d.append(f"staged {action.stage.path}")
                if action.kind in ("restart", "reload"):
                    # Recorded first: a crash during the restart must still restart on rollback.
                    self.journal.restarted = True
                    jr.save_journal(self.host, self.journal)
                    if action.kind == "restart":
                        self.t_down = time.monotonic()
                result = _run_action(self.services, action.kind)
                d.append(action.reason)
                if not result.ok:
                    raise StepFailed(action.kind, _action_error(action.kind, result),
                                     daemon_log=_daemon_log(result))

    def _wait_new_endpoints(self) -> list[str]:
        started = self.t_down if self.t_down is not None else time.monotonic()
        deadline = time.monotonic() + self.deadline_s
        files = client_files(self.host, self.plan, self.bundle_dir)
        ok, lines = wait_endpoints(self.host, self.plan.endpoints_after, files, deadline)
        if not ok:
            raise StepFailed("health", f"the daemon did not answer on every planned endpoint "
                             f"within {self.deadline_s:.1f} s: " + "; ".join(lines))
        self.downtime = time.monotonic() - started
        return [*lines, f"downtime {self.downtime:.2f} s"]

    # failure path
    def _fail(self, exc: BaseException, seen: list[int]) -> ApplyResult:
        failed_step = exc.step if isinstance(exc, StepFailed) else None
        daemon_log = exc.daemon_log if isinstance(exc, StepFailed) else None
        error = _describe(exc)
        if self.journal is None:
            # Nothing changed yet (the journal is written before any target).
            return ApplyResult(ok=False, steps=self.steps.steps, error=error,
                               failed_step=failed_step or "journal", rolled_back=False,
                               recovery_ok=True)
        self.journal.error = error
        if not _last_failed(self.steps):
            # a signal or fault between two steps: say where the apply had got to
            self.steps.emit(f"interrupted after '{self.journal.step}'", "failed", error)
        recovered = _rollback(self.host, self.journal, self.services, self.steps)
        if seen and isinstance(exc, ApplyInterrupted):
            error = f"{error}; the apply was undone"
        return ApplyResult(
            ok=False, txid=self.journal.txid, steps=self.steps.steps, error=error,
            failed_step=_last_failed(self.steps) or failed_step, daemon_log=daemon_log,
            rolled_back=True, recovery_ok=recovered,
        )


_ACTION_TITLES = {
    "daemon-reload": "systemd daemon-reload",
    "reload": "reload dockerd (SIGHUP)",
    "restart": "restart dockerd",
}


def _last_failed(steps: _Steps) -> str | None:
    for step in reversed(steps.steps):
        if step.status == "failed":
            return step.name
    return None


def _run_action(services: ServiceManager, kind: str) -> CommandResult:
    if kind == "daemon-reload":
        return services.daemon_reload()
    if kind == "reload":
        return services.reload()
    if kind == "restart":
        return services.restart()
    raise DockwizError(f"unknown service action {kind!r} in the plan")


def _action_error(kind: str, result: CommandResult) -> str:
    why = _daemon_log(result) or result.stderr.strip() or result.stdout.strip()
    head = f"{kind} failed ({'timed out' if result.timed_out else f'exit {result.returncode}'})"
    reason = _dockerd_reason(why)
    return f"{head}: {reason}" if reason else head


def _daemon_log(result: CommandResult) -> str | None:
    text = (result.stderr or result.stdout).strip()
    return text or None


def _dockerd_reason(log: str | None) -> str | None:
    """dockerd's own last fatal line ("failed to start daemon: ...") out of its log tail."""
    if not log:
        return None
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for marker in ("failed to start daemon", "unable to configure the Docker daemon",
                   "level=fatal", "Error starting daemon", "address already in use",
                   "no such file or directory", "directives"):
        for ln in reversed(lines):
            if marker in ln:
                return _strip_logfmt(ln)
    return _strip_logfmt(lines[-1]) if lines else None


def _strip_logfmt(line: str) -> str:
    """'time=".." level=fatal msg="failed to start daemon: X"' -> 'failed to start daemon: X'."""
    if 'msg="' in line:
        msg = line.split('msg="', 1)[1]
        return msg.rsplit('"', 1)[0].replace('\\"', '"')
    return line


def _jep(e: Endpoint) -> jr.JournalEndpoint:
    return jr.JournalEndpoint(url=e.url, security=e.security)


# -- files ------------------------------------------------------------------------------------
def _write_change(host: Host, change: Any) -> None:
    local = host.writable(change.path)
    if change.after is None:
        if local.exists() or local.is_symlink():
            local.unlink()
            fsync_dir(local.parent)
        return
    ensure_dir(local.parent, mode=0o755)
    atomic_write(local, change.after, mode=change.mode, uid=change.uid, gid=change.gid)


def cert_trees(plan: Plan) -> list[str]:
    """Directories the PKI may write into during this apply (recorded whole in the journal)."""
    trees: list[str] = []
    if not plan.certs:
        return trees

    def add(d: str | None) -> None:
        if d and d not in trees:
            trees.append(d)

    for c in plan.certs:
        if c.action != "reuse":
            add(str(Path(c.cert_path).parent))
            add(str(Path(c.key_path).parent))
    intent = plan.intent
    for attr in ("ca_dir", "tls_dir", "clients_dir"):
        add(getattr(intent, attr, None))
    # a tree inside another tree is covered by the outer one
    return [t for t in trees if not any(t != o and t.startswith(o + "/") for o in trees)]


# -- validation -------------------------------------------------------------------------------
def validate(host: Host, plan: Plan) -> list[str]:
    """Our own checks on the written files, then dockerd's where it can; raise on a problem.

    Everything caught here costs no downtime: the running daemon has not been touched yet.
    """
    notes: list[str] = []
    json_change = next((c for c in plan.files if c.path.endswith("daemon.json")), None)
    unit_changed = any(c.path.startswith("/etc/systemd/") for c in plan.files)
    if json_change is None and not unit_changed:
        return ["no daemon.json or unit change to validate"]
    config_path = json_change.path if json_change is not None else "/etc/docker/daemon.json"
    config: dict[str, Any] = {}
    if json_change is not None and json_change.after is not None:
        config = _parse_daemon_json(json_change.path, json_change.after)
        notes.append("daemon.json is strict JSON")
    elif json_change is None and host.exists(config_path):
        with contextlib.suppress(StepFailed, OSError):
            config = _parse_daemon_json(config_path, host.read_text(config_path))
    notes.extend(_check_tls_files(host, config, plan))
    argv = _unit_argv(host, config)
    notes.append(_dockerd_validate(host, config_path if config else None, argv))
    return notes


def _unit_argv(host: Host, config: dict[str, Any]) -> list[str]:
    """The unit's effective command line, refusing a directive given both there and in
    daemon.json: dockerd would not start (DOMAIN §3, "the hosts conflict")."""
    from dockwiz import systemd
    from dockwiz.plan import split_flags

    result = systemd.effective_exec_start(host)
    if result.argv is None:
        if result.candidates:  # a unit exists but systemd could not run it
            raise StepFailed("validate", "docker.service: " + "; ".join(result.problems))
        return []
    flags, _loose = split_flags(result.argv[1:])
    both = [f for f in flags if f.key in config]
    if both:
        shown = "; ".join(f"{f.key} (from flag: {' '.join(f.tokens)}, from file: "
                          f"{json.dumps(config[f.key])})" for f in both)
        raise StepFailed(
            "validate", "the following directives are specified both as a flag and in the "
            f"configuration file: {shown}; dockerd would refuse to start. ExecStart comes from "
            f"{result.source}: a drop-in must reset it without these flags (DOMAIN §3)")
    return result.argv[1:]


def _parse_daemon_json(path: str, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StepFailed("validate", f"{path} is not valid JSON: line {exc.lineno} "
                         f"column {exc.colno}: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise StepFailed("validate", f"{path} must hold a JSON object")
    return data


def daemon_file(host: Host, configured: str) -> Path:
    """Where a path named in daemon.json lives for us: under the host root, or as written.

    On a real host both are the same. A lab's daemon may be given paths already under the lab
    root (it reads the real filesystem), so a path that exists as written inside the root is
    taken as it is.
    """
    p = Path(configured)
    if p.is_absolute() and p.is_relative_to(host.root):
        return p
    return host.path(configured)


def _check_tls_files(host: Host, config: dict[str, Any], plan: Plan) -> list[str]:
    notes: list[str] = []
    tls_on = bool(config.get("tls")) or "tlsverify" in config
    if not tls_on:
        return notes
    paths: dict[str, Path] = {}
    for key in ("tlscacert", "tlscert", "tlskey"):
        value = config.get(key)
        if value is None:
            if key == "tlscacert" and config.get("tlsverify") is not True:
                continue
            raise StepFailed("validate", f"daemon.json turns TLS on but sets no {key}; dockerd "
                             "would fall back to root's ~/.docker (DOMAIN §2)")
        local = daemon_file(host, str(value))
        if not local.is_file():
            raise StepFailed("validate", f"{key} {value} does not exist")
        paths[key] = local
    notes.append("TLS files exist")
    problem = key_mismatch(paths["tlscert"], paths["tlskey"])
    if problem:
        raise StepFailed("validate", f"{config['tlscert']}: {problem}")
    notes.append("server certificate matches its key")
    if "tlscacert" in paths:
        problem = not_signed_by(paths["tlscert"], paths["tlscacert"])
        if problem:
            raise StepFailed("validate", f"{config['tlscert']}: {problem}")
    missing = uncovered_hosts(paths["tlscert"], _tls_hosts(plan))
    if missing:
        raise StepFailed("validate", f"the server certificate {config['tlscert']} has no SAN for "
                         f"{', '.join(missing)}: clients dialling it would fail "
                         "('x509: cannot validate certificate', DOMAIN §6)")
    notes.append("SANs cover every TLS address")
    return notes


def _tls_hosts(plan: Plan) -> list[str]:
    from urllib.parse import urlsplit

    hosts: list[str] = []
    for e in plan.endpoints_after:
        if e.security in ("tls", "mtls"):
            name = urlsplit(e.url).hostname or ""
            if name not in WILDCARDS:
                hosts.append(name)
    return hosts


def _dockerd_validate(host: Host, config_path: str | None, flags: list[str]) -> str:
    """``dockerd --validate`` with the unit's flags (Docker >= 23); 20.10 lacks it: detect it,
    don't fail."""
    dockerd = host.which("dockerd")
    if dockerd is None:
        return "dockerd --validate skipped: dockerd not found"
    config = ["--config-file", str(host.path(config_path))] if config_path else []
    result = host.run([dockerd, "--validate", *config, *flags], timeout=30.0)
    text = (result.stderr + result.stdout).strip()
    if not result.ok and "unknown flag: --validate" in text:
        return "dockerd --validate skipped: this dockerd is older than 23.0 and lacks it"
    if not result.ok:
        raise StepFailed("validate", f"dockerd --validate rejects the configuration: "
                         f"{_dockerd_reason(text) or text}", daemon_log=text)
    return "dockerd --validate: configuration OK"


def _load_cert(path: Path) -> Any:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as exc:
        raise StepFailed("validate", f"{path.name} is not a PEM certificate: {exc}") from exc


def key_mismatch(cert_path: Path, key_path: Path) -> str | None:
    """Why the key does not belong to the cert, or None; dockerd would refuse to start."""
    from cryptography.hazmat.primitives import serialization

    cert = _load_cert(cert_path)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        return f"the key {key_path.name} cannot be loaded without a passphrase: {exc}"
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if key.public_key().public_bytes(enc, pub) != cert.public_key().public_bytes(enc, pub):
        return f"the private key {key_path.name} does not match the certificate"
    return None


def not_signed_by(cert_path: Path, ca_path: Path) -> str | None:
    cert = _load_cert(cert_path)
    ca = _load_cert(ca_path)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError) as exc:
        return f"not issued by the CA in {ca_path.name}: {exc or 'signature does not verify'}"
    except Exception as exc:  # InvalidSignature carries no message
        return f"not issued by the CA in {ca_path.name} ({type(exc).__name__})"
    return None


def uncovered_hosts(cert_path: Path, hosts: list[str]) -> list[str]:
    """The dialled names/IPs the cert's SANs do not cover (Go ignores the legacy CN)."""
    import ipaddress

    from cryptography import x509

    cert = _load_cert(cert_path)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return list(hosts)
    dns = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    ips = set(san.get_values_for_type(x509.IPAddress))
    missing = []
    for h in hosts:
        try:
            if ipaddress.ip_address(h) not in ips:
                missing.append(h)
        except ValueError:
            if h.lower() not in dns:
                missing.append(h)
    return missing


# -- health -----------------------------------------------------------------------------------
def health_deadline(plan: Plan) -> float:
    """How long the new daemon may take: base plus dockerd's own deliberate sleeps (§1)."""
    return deadline_for(plan.endpoints_after)


def deadline_for(endpoints: Sequence[Any]) -> float:
    """1 s for any TCP listener without client verification, 15 s more for plain TCP off
    loopback (dockerd sleeps that long when TLS is not explicit, DOMAIN §1)."""
    from urllib.parse import urlsplit

    from dockwiz.policy import is_loopback

    deadline = BASE_DEADLINE_S
    unverified = [e for e in endpoints if e.url.startswith("tcp://")
                  and e.security in ("plain", "tls")]
    if unverified:
        deadline += INSECURE_TCP_SLEEP_S
    if any(e.security == "plain" and not is_loopback(urlsplit(e.url).hostname or "")
           for e in unverified):
        deadline += IMPLICIT_TLS_SLEEP_S
    return deadline


def wait_endpoints(host: Host, endpoints: list[Any], bundle: ClientFiles | None,
                   deadline: float) -> tuple[bool, list[str]]:
    """Poll every endpoint's /_ping until all answer or the deadline passes."""
    pending = list(endpoints)
    lines: list[str] = []
    last: dict[str, str] = {}
    while True:
        still: list[Any] = []
        for e in pending:
            ok, detail = probe_endpoint(host, e, bundle,
                                        min(PROBE_TIMEOUT_S, max(0.2, deadline - time.monotonic())))
            if ok:
                lines.append(f"{e.url} ({e.security}) answers /_ping")
            else:
                last[e.url] = detail
                still.append(e)
        pending = still
        if not pending:
            return True, lines
        if time.monotonic() >= deadline:
            return False, [*lines, *(f"{e.url}: {last.get(e.url, 'no answer')}" for e in pending)]
        time.sleep(POLL_INTERVAL_S)


def probe_endpoint(host: Host, endpoint: Any, bundle: ClientFiles | None,
                   timeout: float) -> tuple[bool, str]:
    """One /_ping the way a client of that endpoint's mode would send it.

    Without client material for a TLS endpoint (confirming the *old* daemon after a rollback,
    whose clients' certificates we never had), a TLS handshake or the server's "certificate
    required" alert is taken as the answer: it proves a TLS daemon is listening there again.
    """
    from dockwiz import dockerapi
    from dockwiz.netns import in_host_netns

    security = endpoint.security
    files = bundle if security in ("tls", "mtls") else None
    if security == "tls" and files is not None:
        files = dockerapi.ClientFiles(ca=files.ca)
    if security in ("tls", "mtls") and files is None:
        ep = dockerapi.parse_endpoint(endpoint.url)
        assert ep.port is not None
        port, dial = ep.port, ep.dial_host
        alive = in_host_netns(host, lambda: dockerapi.speaks_tls(dial, port, timeout))
        return alive, "speaks TLS" if alive else "no TLS answer"
    outcome = dockerapi.ping_endpoint(host, endpoint.url, files, timeout)
    return outcome.ok, outcome.message or ""


# -- certificates -----------------------------------------------------------------------------
def issue_certificates(host: Host, plan: Plan) -> str | None:
    """Create or renew what the plan's CertActions ask for; return the client bundle's dir.

    Runs after the journal recorded every directory the PKI writes into, so overwriting a
    renewed leaf is safe: the old one is in the backups.
    """
    from dockwiz import pki

    by_role = {c.role: c for c in plan.certs}
    ca: pki.Issued | None = None
    ca_action = by_role.get("ca")
    if ca_action is not None and ca_action.action != "reuse":
        ca = pki.issue_ca(key_type=_key_type(ca_action.key_type), days=ca_action.days)
        pki.write_ca(host, ca, overwrite=ca_action.action == "renew")

    def the_ca() -> pki.Issued:
        nonlocal ca
        if ca is None:
            ca = pki.load_ca(host)
        return ca

    server = by_role.get("server")
    if server is not None and server.action != "reuse":
        issued = pki.issue_server(the_ca(), server.dns_names, server.ip_addresses,
                                  key_type=_key_type(server.key_type), days=server.days)
        pki.write_server_material(host, the_ca(), issued,
                                  directory=str(Path(server.cert_path).parent), overwrite=True)
    client = by_role.get("client")
    if client is None:
        return plan.client_bundle
    if client.action == "reuse":
        return plan.client_bundle or str(Path(client.cert_path).parent)
    name = plan.intent.client_name
    issued = pki.issue_client(the_ca(), name, key_type=_key_type(client.key_type),
                              days=client.days)
    bundle = pki.write_client_bundle(host, the_ca(), issued, name, _bundle_endpoint(plan, server),
                                     overwrite=True)
    return bundle.dir


def _key_type(value: str) -> Any:
    from dockwiz import pki

    if value not in pki.KEY_TYPES:
        raise DockwizError(f"unknown key type {value!r} in the plan",
                           f"use one of {', '.join(pki.KEY_TYPES)}")
    return value


def _bundle_endpoint(plan: Plan, server: Any) -> str:
    """The address the client dials: the TCP endpoint, or a SAN if it listens on a wildcard."""
    from urllib.parse import urlsplit

    for e in plan.endpoints_after:
        if not e.url.startswith("tcp://"):
            continue
        parts = urlsplit(e.url)
        name = parts.hostname or ""
        if name in WILDCARDS and server is not None:
            sans = [*server.ip_addresses, *server.dns_names]
            name = sans[0] if sans else "localhost"
        shown = f"[{name}]" if ":" in name else name
        return f"tcp://{shown}:{parts.port or 2376}"
    return "tcp://localhost:2376"


def client_files(host: Host, plan: Plan, bundle_dir: str | None) -> ClientFiles | None:
    """What the health wait dials TLS endpoints with: the client bundle, or the CA alone (tls)."""
    from dockwiz.dockerapi import ClientFiles

    candidates = [bundle_dir, plan.client_bundle]
    for d in candidates:
        if d and host.path(d).joinpath("cert.pem").is_file():
            return ClientFiles.from_dir(host.path(d))
    ca = (plan.daemon_json_after or {}).get("tlscacert")
    server = next((c for c in plan.certs if c.role == "server"), None)
    if ca is None and server is not None:
        ca = str(Path(server.cert_path).parent / "ca.pem")
    if ca and daemon_file(host, str(ca)).is_file():
        return ClientFiles(ca=daemon_file(host, str(ca)))
    return None


# -- rollback ---------------------------------------------------------------------------------
def _check_unchanged_since(host: Host, journal: jr.Journal, steps: _Steps) -> None:
    """Before undoing a finished apply, note files the admin changed since (they are replaced)."""
    from dockwiz.models.plan import Plan

    try:
        plan = Plan.model_validate_json(host.read_bytes(journal.plan_path))
    except (OSError, ValueError):
        return
    changed = []
    for change in plan.files:
        local = host.path(change.path)
        now = local.read_text(encoding="utf-8", errors="replace") if local.exists() else None
        if now != change.after:
            changed.append(change.path)
    if changed:
        steps.emit("check files", "ok", "changed since the apply (the backup wins): "
                   + ", ".join(changed))


def _rollback(host: Host, journal: jr.Journal, services: ServiceManager, steps: _Steps,
              *, force_restart: bool = False) -> bool:
    """Restore every file, then make sure the old daemon answers on its old endpoints."""
    seen: list[int] = []
    with _signals("defer", seen):
        journal.step = "rolling-back"
        jr.save_journal(host, journal)
        files_ok = True
        try:
            with steps.run("restore files") as d:
                restored = _restore_all(host, journal)
                d.append(f"{restored} path(s) restored byte for byte" if restored
                         else "nothing had changed on disk")
        except Exception as exc:
            # Keep going: the daemon answering matters most; the report says what to restore.
            files_ok = False
            steps.emit("restore files by hand", "failed",
                       f"{_describe(exc)}; the originals are in {journal.backup_dir}/files "
                       f"(listed in {jr.JOURNAL_PATH})")
        step_name: jr.Step = "rolled-back"
        try:
            ok = _restart_old(host, journal, services, steps, force_restart) and files_ok
        except Exception as exc:
            if not steps.steps or steps.steps[-1].status != "failed":
                steps.emit("confirm old daemon", "failed", _describe(exc))
            ok = False
        if not ok:
            step_name = "rollback-failed"
        if seen:
            steps.emit("signals during rollback", "skipped",
                       f"ignored {len(seen)} signal(s) so the rollback could finish")
        from datetime import UTC, datetime

        journal.step = step_name
        journal.rolled_back_at = datetime.now(UTC)
        jr.save_journal(host, journal)
    return ok


def _restore_all(host: Host, journal: jr.Journal) -> int:
    count = 0
    for tree in journal.trees:
        count += jr.restore_tree(host, tree)
    for record in journal.files:
        if jr.restore_file(host, record):
            count += 1
    jr.remove_created_dirs(host, journal)
    return count


def _restart_old(host: Host, journal: jr.Journal, services: ServiceManager, steps: _Steps,
                 force_restart: bool) -> bool:
    """Old endpoints are confirmed without client material: the new bundle is gone by now."""
    bundle = None
    if journal.unit_changed:
        with steps.run("systemd daemon-reload") as d:
            result = services.daemon_reload()
            d.append("unit files back as they were")
            if not result.ok:
                raise StepFailed("daemon-reload", result.stderr.strip() or "daemon-reload failed")
    endpoints = journal.endpoints_before
    if not journal.was_running:
        with steps.run("leave dockerd stopped") as d:
            if journal.restarted:
                services.stop()
            d.append("it was not answering before the apply either; the old configuration is "
                     "back as it was")
        return True
    touched = force_restart or journal.restarted
    if not touched:
        ok, _ = wait_endpoints(host, endpoints, bundle, time.monotonic() + 1.0)
        if ok:
            steps.emit("confirm old daemon", "ok",
                       "the daemon was never restarted and still answers on "
                       + ", ".join(e.url for e in endpoints))
            return True
    with steps.run("restart dockerd on the old configuration") as d:
        started = time.monotonic()
        result = services.restart()
        if not result.ok:
            raise StepFailed("restart", _action_error("restart", result),
                             daemon_log=_daemon_log(result))
        d.append(f"restarted in {time.monotonic() - started:.2f} s")
    deadline = time.monotonic() + deadline_for(journal.endpoints_before)
    with steps.run("confirm old daemon") as d:
        ok, lines = wait_endpoints(host, endpoints, bundle, deadline)
        d.extend(lines)
        if not ok:
            raise StepFailed("confirm", "old endpoints do not answer: " + "; ".join(lines))
    return True
