"""Apply a Plan as a transaction that either finishes or puts every byte back.

The order is certbot's reverter (DOMAIN §8, DESIGN "Apply"):

1. journal: every target is backed up and the journal written and fsync'd before any target
   changes, so even SIGKILL leaves enough on disk for ``recover`` to undo the apply;
2. certificates, then every planned file, each written atomically with its final mode/owner;
3. validation (validate.py);
4. daemon-reload if a unit changed, reload/restart, then a health wait (health.py);
5. done, or, on any failure, exception or signal: restore every file byte for byte, remove what
   was created, reload, restart, and confirm the *old* endpoints answer again.

Downtime matters as much as safety: a validation failure rolls back without ever touching the
running daemon, and a rollback restarts the daemon only if it was touched or is not answering.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from dockwiz.apply import journal as jr
from dockwiz.apply import lock
from dockwiz.apply.certs import cert_trees, issue_certificates, material_targets, move_material
from dockwiz.apply.freshness import check_fresh
from dockwiz.apply.health import (
    client_files,
    health_deadline,
    unplanned_tcp_listeners,
    wait_endpoints,
)
from dockwiz.apply.history import prune_backups, rollback_target
from dockwiz.apply.rollback import RollbackOutcome, check_unchanged_since, rollback
from dockwiz.apply.steps import (
    ACTION_TITLES,
    ApplyInterrupted,
    OnStep,
    SignalGuard,
    StepFailed,
    Steps,
    action_error,
    daemon_log_of,
    describe,
    fault,
    last_failed,
    run_action,
)
from dockwiz.apply.validate import validate
from dockwiz.effective import forbidden_after_write
from dockwiz.errors import DockwizError
from dockwiz.fsutil import atomic_write, ensure_dir, fsync_dir
from dockwiz.host import Host, ServiceManager
from dockwiz.models.results import ApplyResult, ApplyStep
from dockwiz.services import choose_manager

if TYPE_CHECKING:
    from dockwiz.models.plan import Endpoint, Plan


def _interrupted(host: Host) -> jr.Journal | None:
    journal = jr.load_journal(host)
    if journal is None or journal.finished:
        return None
    return journal


def pending_recovery(host: Host) -> jr.Journal | None:
    """The journal of an apply that never finished (the wizard died), or None.

    An unfinished journal while a live process holds the transaction lock is an apply (or a
    recover) in progress, not an interrupted one: None then.
    """
    if lock.holder(host) is not None:
        return None
    return _interrupted(host)


def _refuse_if_interrupted(host: Host) -> None:
    pending = _interrupted(host)
    if pending is not None:
        raise DockwizError(
            f"an earlier apply ({pending.txid}) was interrupted at step '{pending.step}'",
            "run 'dockwiz recover' to restore the host first",
        )


def apply_plan(
    host: Host,
    plan: Plan,
    *,
    on_step: OnStep | None = None,
    deadline_s: float | None = None,
    manager: ServiceManager | None = None,
) -> ApplyResult:
    """Apply ``plan`` to ``host``; on any failure restore the host and say what happened.

    A plan that changes nothing is "nothing to do": no transaction, no restart, and the
    rollback point stays the last real change. A stale plan is refused before anything.
    """
    steps = Steps(on_step)
    if plan.is_empty:
        steps.emit("nothing to do", "skipped", "the host already matches the plan; no "
                   "transaction, no restart, the rollback point is unchanged")
        return ApplyResult(ok=True, steps=steps.steps)
    with lock.transaction_lock(host, "apply"):
        _refuse_if_interrupted(host)
        check_fresh(host, plan)
        services = manager or choose_manager(host)
        return _Transaction(host, plan, services, steps, deadline_s).run()


def recover(host: Host, on_step: OnStep | None = None, *,
            manager: ServiceManager | None = None) -> ApplyResult:
    """Finish or undo an interrupted apply from its journal.

    Killed after the new daemon was confirmed healthy (only 'done' was left to write), the
    apply is finished if the new endpoints still answer; anything earlier is undone.
    """
    with lock.transaction_lock(host, "recover"):
        journal = _interrupted(host)
        if journal is None:
            return ApplyResult(ok=True, steps=[ApplyStep(
                name="check journal", status="skipped", detail="no interrupted apply found")])
        steps = Steps(on_step)
        services = manager or choose_manager(host)
        steps.emit("found interrupted apply", "ok",
                   f"transaction {journal.txid} stopped at step '{journal.step}'")
        if journal.step == "healthy" and _still_healthy(host, journal, steps):
            journal.step = "done"
            jr.save_journal(host, journal)
            steps.emit("done", "ok", f"transaction {journal.txid} finished; backups kept for "
                       "'dockwiz rollback'")
            return ApplyResult(ok=True, txid=journal.txid, steps=steps.steps)
        outcome = rollback(host, journal, services, steps)
        return _undone(journal, steps, outcome)


def _still_healthy(host: Host, journal: jr.Journal, steps: Steps) -> bool:
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
    """Undo the newest applied transaction not undone yet (then, called again, the one
    before it: a stack, see history.py)."""
    with lock.transaction_lock(host, "rollback"):
        journal = rollback_target(host)
        steps = Steps(on_step)
        services = manager or choose_manager(host)
        check_unchanged_since(host, journal, steps)
        outcome = rollback(host, journal, services, steps, force_restart=True)
        return _undone(journal, steps, outcome)


def _undone(journal: jr.Journal, steps: Steps, outcome: RollbackOutcome) -> ApplyResult:
    """The result of a rollback or recover: ok only if every file is back and verified and the
    old daemon answered."""
    return ApplyResult(
        ok=outcome.ok, txid=journal.txid, steps=steps.steps, rolled_back=True,
        recovery_ok=outcome.ok, error=outcome.error(),
        failed_step=None if outcome.ok else last_failed(steps),
        not_restored=sorted(outcome.not_restored),
    )


# -- the transaction --------------------------------------------------------------------------
class _Transaction:
    def __init__(self, host: Host, plan: Plan, services: ServiceManager, steps: Steps,
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
        # One guard for the forward path and its rollback: no gap where a signal could kill.
        with SignalGuard("raise") as guard:
            try:
                self._forward()
            except BaseException as exc:
                guard.defer()
                if self.journal is None or self.journal.step != "done":
                    return self._fail(exc)
                # a signal in the instant after 'done' was recorded: the apply stands
        try:
            prune_backups(self.host)
        except (DockwizError, OSError) as exc:  # the apply stands; old backups just stay
            self.steps.emit("prune old backups", "skipped", describe(exc))
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
        fault("journal")
        if self.plan.material_moves:
            with self.steps.run("existing certificates") as d:
                d.extend(move_material(self.host, self.plan))
        if any(c.action != "reuse" for c in self.plan.certs):
            with self.steps.run("certificates") as d:
                self.bundle_dir = issue_certificates(self.host, self.plan)
                d.append(", ".join(f"{c.role} {c.action}" for c in self.plan.certs))
            self._advance("certs-written")
        fault("certs")
        staged = [a for a in self.plan.actions if a.stage is not None]
        later = [a for a in self.plan.actions if a.stage is None]
        # DOMAIN §9: live-restore goes in by reload first, so the restart keeps containers.
        self._service_actions(staged)
        with self.steps.run("write files") as d:
            for n, change in enumerate(self.plan.files):
                write_change(self.host, change)
                d.append(f"{'removed' if change.after is None else 'wrote'} {change.path}")
                if n == 0:
                    fault("first-file")
            self._advance("files-written")
        fault("files")
        with self.steps.run("validate") as d:
            d.extend(validate(self.host, self.plan))
            # derived again from the files as written, never from what we meant to write: a
            # TCP source the mode forbids (a vendor drop-in, a socket unit, DOCKER_OPTS) fails
            # here, before the running daemon is touched
            left = forbidden_after_write(self.host, self.plan)
            if left:
                raise StepFailed("validate", "; ".join(left))
            d.append("no forbidden TCP source in the files as written")
            self._advance("validated")
        fault("validate")
        self._service_actions(later)
        self._advance("restarted")
        fault("restart")
        with self.steps.run("wait for health") as d:
            d.extend(self._wait_new_endpoints())
        with self.steps.run("check listeners") as d:
            d.append(self._check_listeners())
            self._advance("healthy")
        fault("healthy")
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
        for path in material_targets(self.plan):  # found certificates moved into place
            writer.add_file(path)
        journal = writer.journal
        journal.was_running = was_up
        journal.mode = str(self.plan.intent.mode)
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
            with self.steps.run(ACTION_TITLES.get(action.kind, action.kind)) as d:
                if action.stage is not None:
                    write_change(self.host, action.stage)
                    d.append(f"staged {action.stage.path}")
                if action.kind in ("restart", "reload"):
                    # Recorded first: a crash during the restart must still restart on rollback.
                    self.journal.restarted = True
                    jr.save_journal(self.host, self.journal)
                    if action.kind == "restart":
                        self.t_down = time.monotonic()
                result = run_action(self.services, action.kind)
                d.append(action.reason)
                if not result.ok:
                    raise StepFailed(action.kind, action_error(action.kind, result),
                                     daemon_log=daemon_log_of(result))

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

    def _check_listeners(self) -> str:
        """Every TCP listener of the new daemon must be one the plan made: an extra one (a
        source the plan did not know about) fails the apply and rolls it back."""
        extra = unplanned_tcp_listeners(self.host, self.plan.endpoints_after)
        if extra is None:
            return "skipped: the daemon's listeners could not be read from /proc"
        if extra:
            raise StepFailed("listeners", "dockerd listens on " + ", ".join(extra)
                             + ", which the plan does not know about: some other source (a "
                             "drop-in, docker.socket, a flag) still opens it")
        planned = [e.url for e in self.plan.endpoints_after if e.url.startswith("tcp://")]
        return "no TCP listener but " + ", ".join(planned) if planned else "no TCP listener"

    # failure path
    def _fail(self, exc: BaseException) -> ApplyResult:
        failed_step = exc.step if isinstance(exc, StepFailed) else None
        daemon_log = exc.daemon_log if isinstance(exc, StepFailed) else None
        error = describe(exc)
        if self.journal is None:
            # Nothing changed yet (the journal is written before any target).
            return ApplyResult(ok=False, steps=self.steps.steps, error=error,
                               failed_step=failed_step or "journal", rolled_back=False,
                               recovery_ok=True)
        self.journal.error = error
        if not last_failed(self.steps):
            # a signal or fault between two steps: say where the apply had got to
            self.steps.emit(f"interrupted after '{self.journal.step}'", "failed", error)
        outcome = rollback(self.host, self.journal, self.services, self.steps)
        if isinstance(exc, ApplyInterrupted) and outcome.ok:
            error = f"{error}; the apply was undone"
        elif not outcome.ok:
            error = f"{error}; {outcome.error()}"
        return ApplyResult(
            ok=False, txid=self.journal.txid, steps=self.steps.steps, error=error,
            failed_step=last_failed(self.steps) or failed_step, daemon_log=daemon_log,
            rolled_back=True, recovery_ok=outcome.ok, not_restored=sorted(outcome.not_restored),
        )


def _jep(e: Endpoint) -> jr.JournalEndpoint:
    return jr.JournalEndpoint(url=e.url, security=e.security)


# -- files ------------------------------------------------------------------------------------
def write_change(host: Host, change: Any) -> None:
    local = host.writable(change.path)
    if change.after is None:
        if local.exists() or local.is_symlink():
            local.unlink()
            fsync_dir(local.parent)
        return
    ensure_dir(local.parent, mode=0o755)
    atomic_write(local, change.after, mode=change.mode, uid=change.uid, gid=change.gid)
