"""Typed modal dialogs: confirm (apply, quit, recovery), error, and the key help."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from dockwiz.tui.widgets import render
from dockwiz.tui.widgets.rows import Rows


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; dismisses with True only for an explicit yes.

    Every confirmation looks and behaves alike (apply, quit, recovery): the safe answer on
    the left with the focus, so Enter alone never writes or quits; the line under the text
    says which key does what."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "answer(False)", "Cancel"),
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n", "answer(False)", "No", show=False),
    ]

    def __init__(
        self,
        title: str,
        body: str | Content,
        *,
        yes: str = "Yes",
        no: str = "No",
        danger: bool = False,
    ) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        """Question in the dialog's border."""
        self.body = body
        """What will happen when the answer is yes."""
        self.yes_label = yes
        self.no_label = no
        self.danger = danger
        """A destructive yes is styled as a warning."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box") as box:
            box.border_title = self.title_text
            body = Content(self.body) if isinstance(self.body, str) else self.body
            yield Static(body, classes="dialog-body")
            yield Static(
                render.assemble(
                    ("y", "bold"), f" {self.yes_label}   ",
                    ("n", "bold"), " or ", ("Esc", "bold"), f" {self.no_label}   ",
                    ("Enter", "bold"), " the highlighted button",
                ),
                classes="dialog-keys",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.no_label, id="no", compact=True)
                yield Button(
                    self.yes_label,
                    id="yes",
                    variant="error" if self.danger else "primary",
                    compact=True,
                )

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class ErrorDialog(ModalScreen[None]):
    """A failure in plain words and what to do about it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("enter", "close", "Close", show=False),
    ]

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(classes="dialog error-dialog")
        self.message = message
        """What went wrong."""
        self.hint = hint
        """How to fix it, when known."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box") as box:
            box.border_title = "Error"
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(Content(self.message), classes="dialog-body", id="error-message")
                if self.hint:
                    yield Static(
                        Content.assemble(("What to do: ", "bold"), self.hint),
                        classes="dialog-hint",
                        id="error-hint",
                    )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


HELP_KEYS: tuple[tuple[str, str], ...] = (
    ("F1 or ?", "this help"),
    ("n / Next", "go to the next step (also Enter on the Next button)"),
    ("Esc / b", "go back one step; your choices are kept"),
    ("q / ctrl+c", "quit (asks first if work is pending)"),
    ("Tab / Shift+Tab", "move between fields and buttons"),
    ("Up / Down", "move in lists; Space or Enter selects"),
    ("PgUp / PgDn", "scroll the step's text, wherever the focus is"),
    ("c / e", "copy the context / env line to the clipboard (verify step)"),
    ("r", "inspect the host again (first step)"),
    ("a", "apply the plan (preview step; asks first)"),
    ("d", "why and how to fix each finding (first step)"),
    ("Delete", "remove the selected name (certificates step)"),
)


class HelpScreen(ModalScreen[None]):
    """Every key the wizard understands; no mouse is needed anywhere."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("f1", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box help-box") as box:
            box.border_title = "Keys"
            yield Rows(id="help-keys")
            yield Static(
                "Nothing is written to the host until you confirm on the Preview step.",
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#help-keys", Rows).show(
            (Content.styled(key, "bold $text-accent"), text) for key, text in HELP_KEYS
        )
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
