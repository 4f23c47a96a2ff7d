"""Undoing a transaction: restore the files, then the old daemon on its old endpoints.

Used by a failed apply, by ``recover`` after a crash and by ``rollback``. Three rules:

- nothing stops the restore: it does not depend on writing the journal first (a full state
  disk only costs the record of the rollback, and the report says so); signals are noted and
  not obeyed until it has finished;
- every record is restored on its own and verified (restore.py); what could not be restored is
  reported by path, and dockerd is then NOT restarted on a configuration that is half old and
  half new: the host needs the admin, and the result says exactly why;
- the outcome claims only what was checked: "the old daemon answers" means it answered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dockwiz.apply import journal as jr
from dockwiz.apply.health import deadline_for, wait_endpoints
from dockwiz.apply.restore import restore_all
from dockwiz.apply.steps import (
    SignalGuard,
    StepFailed,
    Steps,
    action_error,
    daemon_log_of,
    describe,
)
from dockwiz.docker_paths import JOURNAL_PATH
from dockwiz.host import Host, ServiceManager


@dataclass
class RollbackOutcome:
    """What the rollback achieved, each part checked."""

    files_ok: bool = True
    daemon_ok: bool = False
    journal_ok: bool = True
    not_restored: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.files_ok and self.daemon_ok

    def error(self) -> str | None:
        if self.not_restored:
            return ("rollback failed, the host needs attention: could not restore "
                    + "; ".join(f"{p} ({why})" for p, why in self.not_restored.items())
                    + "; dockerd was left as it is rather than restarted on a half-restored "
                    "configuration")
        if not self.daemon_ok:
            return ("rollback failed, the host needs attention: the files are restored but the "
                    "daemon does not answer on its former endpoints")
        return None


def record_step(host: Host, journal: jr.Journal, step: jr.Step, steps: Steps) -> bool:
    """Save the journal's new step; a failure (state disk full) is reported, never raised."""
    journal.step = step
    try:
        jr.save_journal(host, journal)
    except OSError as exc:
        steps.emit(f"record '{step}' in the journal", "failed",
                   f"{JOURNAL_PATH} could not be written ({exc.strerror or exc}); the restore "
                   "does not depend on it")
        return False
    return True


def rollback(host: Host, journal: jr.Journal, services: ServiceManager, steps: Steps,
             *, force_restart: bool = False) -> RollbackOutcome:
    """Restore every file, then make sure the old daemon answers on its old endpoints."""
    outcome = RollbackOutcome()
    with SignalGuard("defer") as guard:
        outcome.journal_ok = record_step(host, journal, "rolling-back", steps)
        started = time.monotonic()
        report = restore_all(host, journal)
        outcome.not_restored = report.failed
        outcome.files_ok = not report.failed
        done = (f"{report.changed} path(s) restored byte for byte, each read back and checked"
                if report.changed else "nothing had changed on disk")
        if report.failed:
            steps.emit("restore files", "failed",
                       f"{done}; NOT restored: " + "; ".join(
                           f"{p}: {why}" for p, why in report.failed.items())
                       + f" (the originals are in {journal.backup_dir}/files, listed in "
                       f"{JOURNAL_PATH})", time.monotonic() - started)
            steps.emit("restart dockerd on the old configuration", "skipped",
                       "not restarted: its configuration is only partly restored")
        else:
            steps.emit("restore files", "ok", done, time.monotonic() - started)
            try:
                outcome.daemon_ok = _restart_old(host, journal, services, steps, force_restart)
            except Exception as exc:
                if not steps.steps or steps.steps[-1].status != "failed":
                    steps.emit("confirm old daemon", "failed", describe(exc))
        if guard.seen:
            steps.emit("signals during rollback", "skipped",
                       f"ignored {len(guard.seen)} signal(s) so the rollback could finish")
        journal.rolled_back_at = datetime.now(UTC)
        final: jr.Step = "rolled-back" if outcome.ok else "rollback-failed"
        outcome.journal_ok = record_step(host, journal, final, steps) and outcome.journal_ok
    return outcome


def _restart_old(host: Host, journal: jr.Journal, services: ServiceManager, steps: Steps,
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
            raise StepFailed("restart", action_error("restart", result),
                             daemon_log=daemon_log_of(result))
        d.append(f"restarted in {time.monotonic() - started:.2f} s")
    deadline = time.monotonic() + deadline_for(journal.endpoints_before)
    with steps.run("confirm old daemon") as d:
        ok, lines = wait_endpoints(host, endpoints, bundle, deadline)
        d.extend(lines)
        if not ok:
            raise StepFailed("confirm", "old endpoints do not answer: " + "; ".join(lines))
    return True


def check_unchanged_since(host: Host, journal: jr.Journal, steps: Steps) -> None:
    """Before undoing a finished apply, note files the admin changed since (they are replaced)."""
    from dockwiz.models.plan import Plan

    try:
        plan = Plan.model_validate_json(host.read_bytes(journal.plan_path))
    except (OSError, ValueError):
        return
    changed = []
    for change in plan.files:
        local = host.resolve(change.path)
        now = local.read_text(encoding="utf-8", errors="replace") if local.exists() else None
        if now != change.after:
            changed.append(change.path)
    if changed:
        steps.emit("check files", "ok", "changed since the apply (the backup wins): "
                   + ", ".join(changed))
