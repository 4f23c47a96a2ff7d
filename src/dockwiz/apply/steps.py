"""Step bookkeeping for a transaction: progress, failures, signals and test-only faults.

What the admin is told comes from here: each step's status and detail as it happens, and
dockerd's own reason pulled out of its log. An interruption (a signal) is a BaseException on
purpose: no ``except Exception`` anywhere in the transaction, nor the ``suppress(Exception)``
around a UI callback, may swallow it; it must always reach the transaction and roll it back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, Literal

from dockwiz.errors import DockwizError
from dockwiz.host import CommandResult, ServiceManager
from dockwiz.models.results import ApplyStep, StepStatus

OnStep = Callable[[ApplyStep], None]

FAULT_ENV = "DOCKWIZ_FAULT"  # test-only: "kill-after:journal", "sleep-after:files", ...


class ApplyInterrupted(BaseException):
    """A signal arrived mid-apply; raised into the transaction so it rolls back.

    A BaseException: ``except Exception`` (in a probe, a UI callback, a library) must never
    swallow it, or the apply would go on after the admin asked it to stop.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


class StepFailed(Exception):
    def __init__(self, step: str, message: str, daemon_log: str | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.daemon_log = daemon_log


# -- progress ---------------------------------------------------------------------------------
class Steps:
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
            self.emit(name, "failed", describe(exc), time.monotonic() - started)
            raise
        finally:
            self.current = None
        self.emit(name, "ok", "; ".join(detail), time.monotonic() - started)


def describe(exc: BaseException) -> str:
    if isinstance(exc, DockwizError):
        return exc.message
    return str(exc) or type(exc).__name__


# -- signals and test faults ------------------------------------------------------------------
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class SignalGuard:
    """SIGINT/SIGTERM/SIGHUP during a transaction: the first one raises ApplyInterrupted into
    the forward path (so it rolls back); from then on, and during any rollback, signals are
    noted in ``seen`` and not obeyed, so the restore always runs to its end.

    One guard spans the forward path AND its rollback: there is no instant between the two in
    which the default handler could kill the process half-way. Handlers can only be installed
    from the main thread; the TUI runs apply in a worker and handles Ctrl+C itself, so there
    this is a no-op.
    """

    def __init__(self, mode: Literal["raise", "defer"]) -> None:
        self.mode = mode
        self.seen: list[int] = []
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, _frame: FrameType | None) -> None:
        self.seen.append(signum)
        if self.mode == "raise":
            self.mode = "defer"
            raise ApplyInterrupted(signum)

    def defer(self) -> None:
        self.mode = "defer"

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handler) for s in _SIGNALS}
        return self

    def __exit__(self, *_exc: object) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous = {}


def fault(point: str) -> None:
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


ACTION_TITLES = {
    "daemon-reload": "systemd daemon-reload",
    "reload": "reload dockerd (SIGHUP)",
    "restart": "restart dockerd",
}


def last_failed(steps: Steps) -> str | None:
    for step in reversed(steps.steps):
        if step.status == "failed":
            return step.name
    return None


def run_action(services: ServiceManager, kind: str) -> CommandResult:
    if kind == "daemon-reload":
        return services.daemon_reload()
    if kind == "reload":
        return services.reload()
    if kind == "restart":
        return services.restart()
    raise DockwizError(f"unknown service action {kind!r} in the plan")


def action_error(kind: str, result: CommandResult) -> str:
    why = daemon_log_of(result) or result.stderr.strip() or result.stdout.strip()
    head = f"{kind} failed ({'timed out' if result.timed_out else f'exit {result.returncode}'})"
    reason = dockerd_reason(why)
    return f"{head}: {reason}" if reason else head


def daemon_log_of(result: CommandResult) -> str | None:
    text = (result.stderr or result.stdout).strip()
    return text or None


def dockerd_reason(log: str | None) -> str | None:
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

