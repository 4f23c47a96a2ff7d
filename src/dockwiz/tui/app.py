"""The wizard's Textual application: a thin shell over the headless core.

The App owns one small ``WizardState`` (what inspect saw, what the admin chose, the plan and the
results) and a ``Backend`` (the core's functions bound to one Host). Screens read and write the
state and ask the backend for work in thread workers; they never touch files or processes.
Tests inject a backend with fixed data through ``make_app`` instead of patching internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from dockwiz.errors import DockwizError

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.journal import Journal
    from dockwiz.models.host_state import HostState
    from dockwiz.models.intent import Intent, Mode, Violation
    from dockwiz.models.plan import Plan
    from dockwiz.models.results import ApplyResult, ApplyStep, VerifyReport

StepCallback = Callable[["ApplyStep"], None]


class Backend(Protocol):
    """What the wizard needs from the core; each call may block, so screens run it in a worker."""

    host: Host

    def inspect(self) -> HostState: ...

    def pending_recovery(self) -> Journal | None: ...

    def recover(self, on_step: StepCallback) -> ApplyResult: ...

    def allowed_modes(
        self, state: HostState, listen_host: str | None, docker_version: str | None
    ) -> dict[Mode, Violation | None]: ...

    def check_intent(self, state: HostState, intent: Intent) -> list[Violation]: ...

    def detect_sans(self) -> tuple[list[str], list[str]]: ...

    def plan(self, state: HostState, intent: Intent) -> Plan: ...

    def apply(self, plan: Plan, on_step: StepCallback) -> ApplyResult: ...

    def verify(self, state: HostState, intent: Intent, plan: Plan | None) -> VerifyReport: ...


class CoreBackend:
    """The real core bound to one Host; imports are lazy so the first screen paints fast."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def inspect(self) -> HostState:
        from dockwiz.inspect import inspect_host

        return inspect_host(self.host)

    def pending_recovery(self) -> Journal | None:
        from dockwiz.apply import pending_recovery

        return pending_recovery(self.host)

    def recover(self, on_step: StepCallback) -> ApplyResult:
        from dockwiz.apply import recover

        return recover(self.host, on_step=on_step)

    def allowed_modes(
        self, state: HostState, listen_host: str | None, docker_version: str | None
    ) -> dict[Mode, Violation | None]:
        from dockwiz.policy import allowed_modes

        return allowed_modes(state, listen_host, docker_version)

    def check_intent(self, state: HostState, intent: Intent) -> list[Violation]:
        from dockwiz.policy import check_intent

        return list(check_intent(state, intent))

    def detect_sans(self) -> tuple[list[str], list[str]]:
        from dockwiz.pki import detect_sans

        dns, ips = detect_sans(self.host)
        return [str(d) for d in dns], [str(i) for i in ips]

    def plan(self, state: HostState, intent: Intent) -> Plan:
        """Planned from a fresh look (the host may have changed since the first screen),
        with dockwiz's own certificate files and other processes' ports taken into account."""
        from dockwiz.plan import plan_for_host

        _fresh, plan = plan_for_host(self.host, intent)
        return plan

    def apply(self, plan: Plan, on_step: StepCallback) -> ApplyResult:
        from dockwiz.apply import apply_plan

        return apply_plan(self.host, plan, on_step=on_step)

    def verify(self, state: HostState, intent: Intent, plan: Plan | None) -> VerifyReport:
        from dockwiz.verify import verify_host

        former: list[str] = []
        bundle = None
        if plan is not None:
            after = {e.url for e in plan.endpoints_after}
            former = [
                e.url
                for e in plan.endpoints_before
                if e.url not in after and e.url.startswith("tcp://")
            ]
            if plan.client_bundle:
                bundle = self.host.path(plan.client_bundle)
        return verify_host(
            self.host,
            expected_mode=intent.mode.value,
            former_endpoints=former or None,
            bundle_dir=bundle,
        )


@dataclass
class Choices:
    """What the admin picked so far; kept across back navigation, turned into an Intent."""

    mode: str | None = None
    listen_host: str | None = None
    port: int = 2376
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)
    sans_detected: bool = False
    key_type: str | None = None
    validity_days: int = 365
    hardening: set[str] = field(default_factory=set)
    docker_version: str | None = None
    """Plan as if this Docker version ran (like the CLI's --docker-version)."""


@dataclass
class WizardState:
    """Everything one run of the wizard knows; screens render from it and write choices to it."""

    host_state: HostState | None = None
    choices: Choices = field(default_factory=Choices)
    plan: Plan | None = None
    apply_result: ApplyResult | None = None
    verify_report: VerifyReport | None = None
    lab_note: str | None = None

    @property
    def read_only(self) -> bool:
        """Not root: inspect what can be read, preview, but never write."""
        return self.host_state is not None and not self.host_state.is_root

    def intent(self) -> Intent:
        """The choices as the core's Intent; a bad value raises pydantic's ValidationError."""
        from dockwiz.models.intent import Hardening, Intent, Mode

        c = self.choices
        data: dict[str, Any] = {
            "mode": Mode(c.mode or Mode.UNIX),
            "hardening": Hardening.from_keys(sorted(c.hardening)),
            "docker_version": c.docker_version,
        }
        if data["mode"] in (Mode.TLS, Mode.MTLS):
            data.update(
                listen_host=c.listen_host,
                listen_port=c.port,
                sans_dns=list(c.dns_names),
                sans_ip=list(c.ip_addresses),
                server_days=c.validity_days,
                client_days=c.validity_days,
            )
            if c.key_type:
                data["key_type"] = c.key_type
        return Intent.model_validate(data)


def _theme_for_terminal() -> str:
    """A 16-colour terminal gets the ANSI theme, which uses the terminal's own palette."""
    chosen = os.environ.get("DOCKWIZ_THEME")
    if chosen:
        return chosen
    color_system = os.environ.get("TEXTUAL_COLOR_SYSTEM", "")
    term = os.environ.get("TERM", "")
    colorterm = os.environ.get("COLORTERM", "")
    if color_system == "standard" or (
        "256color" not in term and colorterm not in ("truecolor", "24bit") and term != ""
    ):
        return "ansi-dark"
    return "textual-dark"


class DockwizApp(App[int]):
    """The wizard: screens drive the flow; the App holds state and shows worker errors."""

    CSS_PATH = "dockwiz.tcss"
    ENABLE_COMMAND_PALETTE = False
    TITLE = "dockwiz"
    SUB_TITLE = "secure the Docker daemon"
    BINDINGS = [  # noqa: RUF012 - Textual's declared class attribute
        Binding("f1", "help", "Help", key_display="F1"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("q", "request_quit", "Quit"),
        Binding("ctrl+c", "request_quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        backend: Backend,
        *,
        lab_note: str | None = None,
        docker_version: str | None = None,
        listen_host: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.wizard = WizardState(lab_note=lab_note)
        self.wizard.choices.docker_version = docker_version
        # None: the mode screen asks policy.resolve_listen_host, as 'dockwiz plan' does
        self.wizard.choices.listen_host = listen_host
        self._clock = clock
        self.theme = _theme_for_terminal()

    def now(self) -> datetime:
        """The time certificates are judged against; injectable so snapshots never drift."""
        return self._clock() if self._clock is not None else datetime.now(UTC)

    def on_mount(self) -> None:
        from dockwiz.tui.screens.inspect import InspectScreen

        self._exit_on_signals()
        self.push_screen(InspectScreen())

    def _exit_on_signals(self) -> None:
        """A dropped SSH session (SIGHUP) or a SIGTERM ends the wizard the normal way: the
        terminal is restored and the caller's clean-up runs (a throwaway lab is taken down).
        An apply in progress keeps its journal, so the next start offers recovery."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGHUP, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, partial(self.exit, return_code=128 + signum))

    # -- quitting ----------------------------------------------------------------------------
    def pending_work(self) -> str | None:
        """Why quitting now would lose or interrupt something, or None when it is safe."""
        running = [w for w in self.workers if w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        if any(w.group == "apply" for w in running):
            return (
                "The change is being applied right now. Quitting leaves it half-done; "
                "the next start of dockwiz will offer to finish or undo it."
            )
        if running:
            names = ", ".join(sorted({w.description or w.name for w in running}))
            return f"Work is still running ({names})."
        plan = self.wizard.plan
        if plan is not None and self.wizard.apply_result is None and not plan.is_empty:
            return "The plan has not been applied. Nothing has been written to the host."
        return None

    def action_request_quit(self) -> None:
        from dockwiz.tui.screens.dialogs import ConfirmDialog

        reason = self.pending_work()
        if reason is None:
            self.exit(0)
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.exit(0)

        self.push_screen(
            ConfirmDialog("Quit dockwiz?", reason, yes="Quit", no="Stay", danger=True), done
        )

    def action_help(self) -> None:
        from dockwiz.tui.screens.dialogs import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # -- the one place worker errors become dialogs -------------------------------------------
    def show_worker_error(self, worker: Worker[Any]) -> None:
        """A DockwizError shows its message and hint; anything else is a bug, said plainly."""
        from dockwiz.tui.screens.dialogs import ErrorDialog

        error = worker.error
        if isinstance(error, DockwizError):
            dialog = ErrorDialog(error.message, error.hint)
        else:
            dialog = ErrorDialog(
                f"{worker.description or worker.name} failed unexpectedly: "
                f"{type(error).__name__}: {error}",
                "This is a bug in dockwiz; nothing further was changed. "
                "Please report it with the output of the matching dockwiz command.",
            )
        self.push_screen(dialog)


def make_app(
    host: Host | None = None,
    *,
    backend: Backend | None = None,
    lab_note: str | None = None,
    docker_version: str | None = None,
    listen_host: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DockwizApp:
    """Build the wizard for the CLI (a Host) or for tests (a backend with fixed data).

    ``listen_host`` pre-fills the TCP address (a lab's own address, as ``dockwiz plan --lab``
    defaults to); None leaves the choice to the policy's safe default.
    """
    if backend is None:
        if host is None:
            raise ValueError("make_app needs a host or a backend")
        backend = CoreBackend(host)
    return DockwizApp(backend, lab_note=lab_note, docker_version=docker_version,
                      listen_host=listen_host, clock=clock)
