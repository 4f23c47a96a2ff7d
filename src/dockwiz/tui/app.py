"""The wizard's Textual application: a thin shell over the headless core.

The App owns one small ``WizardState`` and a ``Backend`` (both in session.py), shows the step
``flow.next_step`` names when a screen asks to advance, and turns worker errors into dialogs.
Tests inject a backend with fixed data through ``make_app`` instead of patching internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, assert_never

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from dockwiz.errors import DockwizError
from dockwiz.tui import flow
from dockwiz.tui.flow import Step
from dockwiz.tui.session import Backend, CoreBackend, WizardState

if TYPE_CHECKING:
    from textual.driver import Driver

    from dockwiz.host import Host
    from dockwiz.tui.screens.base import WizardApp, WizardScreen

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

    def get_driver_class(self) -> type[Driver]:
        """On Linux, a driver that survives a hung-up terminal (see tui/driver.py)."""
        driver = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver

        if driver is LinuxDriver:
            from dockwiz.tui.driver import WizardDriver

            return WizardDriver
        return driver

    def now(self) -> datetime:
        """The time certificates are judged against; injectable so snapshots never drift."""
        return self._clock() if self._clock is not None else datetime.now(UTC)

    def on_mount(self) -> None:
        self._exit_on_signals()
        self.push_screen(screen_for(flow.FIRST))
        self.call_after_refresh(_collect_garbage_again)

    # -- moving through the steps -------------------------------------------------------------
    def next_step(self, current: Step) -> Step | None:
        """The step after ``current`` for the choices made so far (the flow decides)."""
        return flow.next_step(current, self.wizard)

    def advance(self, current: Step) -> None:
        """Show the step after ``current``; after the last one the wizard is done."""
        step = self.next_step(current)
        if step is None:
            self.exit(0)
            return
        self.push_screen(screen_for(step))

    def _exit_on_signals(self) -> None:
        """A dropped SSH session (SIGHUP) or a SIGTERM ends the wizard the normal way: the
        terminal is restored and the caller's clean-up runs (an apply in progress is waited
        for, then a throwaway lab is taken down)."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGHUP, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, partial(self._signalled, signum))

    def _signalled(self, signum: int) -> None:
        if signum == signal.SIGHUP and not _terminal_alive():
            _detach_from_terminal()
        self.exit(return_code=128 + signum)

    # -- quitting ----------------------------------------------------------------------------
    def pending_work(self) -> str | None:
        """Why quitting now would lose or interrupt something, or None when it is safe."""
        running = [w for w in self.workers if w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        if any(w.group == "apply" for w in running):
            return (
                "The change is being applied right now. Quitting closes the wizard, then "
                "waits until the apply has finished or rolled back: the host is never left "
                "half-done."
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
        from dockwiz.tui.widgets.render import tui_words

        error = worker.error
        if isinstance(error, DockwizError):  # the core's advice, in the wizard's words
            dialog = ErrorDialog(tui_words(error.message),
                                 tui_words(error.hint) if error.hint else None)
        else:
            dialog = ErrorDialog(
                f"{worker.description or worker.name} failed unexpectedly: "
                f"{type(error).__name__}: {error}",
                "This is a bug in dockwiz; nothing further was changed. "
                "Please report it with the output of the matching dockwiz command.",
            )
        self.push_screen(dialog)


if TYPE_CHECKING:

    def _screens_can_use(app: DockwizApp) -> WizardApp:
        """mypy proves here that DockwizApp gives screens everything WizardApp promises."""
        return app


def _terminal_alive() -> bool:
    """Whether the terminal still takes output (a hung-up one fails every write with EIO)."""
    try:
        os.write(sys.__stderr__.fileno() if sys.__stderr__ else 2, b"\x1b[0m")  # SGR reset
    except OSError:
        return False
    return True


def _detach_from_terminal() -> None:
    """The terminal is gone: point stdin/stdout/stderr at /dev/null before shutting down.

    Textual's shutdown writes the terminal's restore sequences through its writer thread; on
    a hung-up terminal the first write kills that thread and the next ones block forever on
    its full queue, so the wizard never exits and never cleans up (a throwaway lab stayed
    running). Writes to /dev/null succeed, and so does everything printed after the wizard.
    """
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            os.dup2(null, fd)
    os.close(null)


def _collect_garbage_again() -> None:
    """After the first frame: the start-up's objects are long-lived (frozen out of future
    collections) and the collector runs again (``dockwiz`` turns it off while starting)."""
    gc.freeze()
    gc.enable()


def screen_for(step: Step) -> WizardScreen:
    """The screen that shows ``step``; imported on first use so the first screen paints fast."""
    match step:
        case Step.INSPECT:
            from dockwiz.tui.screens.inspect import InspectScreen

            return InspectScreen()
        case Step.MODE:
            from dockwiz.tui.screens.mode import ModeScreen

            return ModeScreen()
        case Step.CERTIFICATES:
            from dockwiz.tui.screens.certs import CertificatesScreen

            return CertificatesScreen()
        case Step.HARDENING:
            from dockwiz.tui.screens.hardening import HardeningScreen

            return HardeningScreen()
        case Step.PREVIEW:
            from dockwiz.tui.screens.preview import PreviewScreen

            return PreviewScreen()
        case Step.APPLY:
            from dockwiz.tui.screens.apply import ApplyScreen

            return ApplyScreen()
        case Step.VERIFY:
            from dockwiz.tui.screens.verify import VerifyScreen

            return VerifyScreen()
        case _:
            assert_never(step)


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
