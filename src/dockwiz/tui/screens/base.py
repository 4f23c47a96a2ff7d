"""What every wizard step shares: the step bar, the footer, back navigation, access to state.

A screen sees the app only through ``WizardApp``, the little it needs (state, backend, clock,
advancing, quitting, error dialogs), so no screen imports the app and the app is free to import
every screen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Protocol, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Header
from textual.worker import Worker, WorkerState

from dockwiz.tui.flow import Step
from dockwiz.tui.session import Backend, WizardState
from dockwiz.tui.widgets.steps import StepBar


class WizardApp(Protocol):
    """What a wizard screen may ask of its app (DockwizApp is the one implementation)."""

    wizard: WizardState
    backend: Backend

    def now(self) -> datetime:
        """The time certificates are judged against."""
        ...

    def next_step(self, current: Step) -> Step | None:
        """The step after ``current`` for the choices made so far."""
        ...

    def advance(self, current: Step) -> None:
        """Leave ``current`` for the step the flow names next."""
        ...

    def action_request_quit(self) -> None: ...

    def show_worker_error(self, worker: Worker[Any]) -> None: ...


class WizardScreen(Screen[None]):
    """A step of the wizard. Subclasses compose ``body()`` and implement ``action_next``."""

    STEP: ClassVar[Step]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("b", "back", "Back", show=False),
        Binding("n", "next", "Next"),
        Binding("tab", "app.focus_next", "Field", key_display="Tab"),
        # priority: the step's text scrolls wherever the focus is (a field, a list, a button)
        Binding("pagedown", "scroll_body(1)", "Scroll", show=False, priority=True),
        Binding("pageup", "scroll_body(-1)", "Scroll", show=False, priority=True),
    ]
    can_go_back: bool = True

    @property
    def dockwiz(self) -> WizardApp:
        return cast(WizardApp, self.app)

    @property
    def wizard(self) -> WizardState:
        return self.dockwiz.wizard

    @property
    def backend(self) -> Backend:
        return self.dockwiz.backend

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield StepBar(self.STEP)
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    def nav_buttons(self, next_label: str = "Next", *, next_disabled: bool = False) -> Horizontal:
        """Back and Next as buttons too, so the flow is discoverable without the footer."""
        back = Button("Back", id="back", compact=True)
        back.display = self.can_go_back
        return Horizontal(
            back,
            Button(
                next_label, id="next", variant="primary", disabled=next_disabled, compact=True
            ),
            classes="nav",
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "back":
            event.stop()
            self.action_back()
        elif event.button.id == "next":
            event.stop()
            self.action_next()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No Back in the footer (and no Esc) where there is no way back."""
        return action != "back" or self.can_go_back

    def action_back(self) -> None:
        """Going back keeps every choice: they live in WizardState, not in this screen."""
        if not self.can_go_back:
            self.notify("There is no way back from here.", severity="warning")
            return
        if len(self.app.screen_stack) <= 2:
            self.dockwiz.action_request_quit()
            return
        self.app.pop_screen()

    def action_scroll_body(self, pages: int) -> None:
        """PgUp/PgDn: a page of the step's main content, whatever has the focus."""
        from textual.containers import ScrollableContainer

        for body in self.query(".step-body").results(ScrollableContainer):
            if pages > 0:
                body.scroll_page_down()
            else:
                body.scroll_page_up()
            return

    def action_next(self) -> None:
        """Leave for the next step; screens that must check or ask first override this."""
        self.dockwiz.advance(self.STEP)

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker becomes an error dialog (workers live on screens)."""
        if event.state != WorkerState.ERROR:
            return
        self.work_failed(event.worker.group, event.worker.error)
        self.dockwiz.show_worker_error(event.worker)

    def work_failed(self, group: str, error: BaseException | None) -> None:
        """Before the error dialog shows: a screen resets its own busy state here."""
