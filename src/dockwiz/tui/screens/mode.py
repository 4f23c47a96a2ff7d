"""Step 2: who may connect, and where. Forbidden modes stay visible, disabled, with the reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Input, Label, RadioButton, RadioSet, Static

from dockwiz.models.intent import MODE_DESCRIPTIONS, TCP_MODES, Mode, Violation
from dockwiz.policy import resolve_listen_host, valid_host
from dockwiz.tui.flow import Step
from dockwiz.tui.screens.base import WizardScreen
from dockwiz.tui.widgets import render
from dockwiz.tui.widgets.fields import FieldError, HostValidator, PortValidator, check_field
from dockwiz.tui.widgets.render import tui_words

if TYPE_CHECKING:
    from dockwiz.models.host_state import HostState

MODE_TITLES: dict[Mode, str] = {
    Mode.UNIX: "Unix socket only (local users)",
    Mode.TLS: "TLS, server certificate only",
    Mode.MTLS: "Mutual TLS (client certificates)",
    Mode.SSH: "SSH (no TCP; docker -H ssh://)",
}


def recommended_mode(state: HostState) -> Mode:
    """A host already on TCP keeps remote access, made safe; others stay local."""
    has_tcp = any(item.kind == "tcp" for item in [*state.configured_hosts, *state.listeners])
    return Mode.MTLS if has_tcp else Mode.UNIX


def violation_text(violation: Violation) -> Content:
    style = "$text-error" if violation.blocking else "$text-warning"
    head = "Not allowed: " if violation.blocking else "Warning: "
    message = violation.message
    if message[:8].lower() == "warning:":
        message = message[8:].lstrip()
    parts: list[Content | str | tuple[str, str]] = [(head, f"bold {style}"), tui_words(message)]
    for way in violation.way_out:
        parts.append(f"\n  - {tui_words(way)}")
    return Content.assemble(*parts)


class ModeScreen(WizardScreen):
    """Pick a mode, listen address and port; the v27+ rule is applied as the admin types."""

    STEP = Step.MODE

    def body(self) -> ComposeResult:
        state = self.wizard.host_state
        assert state is not None
        choices = self.wizard.choices
        if choices.mode is None:
            choices.mode = recommended_mode(state)
        if choices.listen_host is None:
            from dockwiz.models.intent import Intent

            choices.listen_host = resolve_listen_host(state, Intent(mode=Mode.MTLS))
        with VerticalScroll(classes="step-body"):
            with RadioSet(id="modes", compact=True):
                for mode in Mode:
                    yield RadioButton(
                        MODE_TITLES[mode], value=mode == choices.mode, id=f"mode-{mode.value}"
                    )
            yield Static(id="mode-desc", classes="section")
            with Vertical(id="listen"):
                with Horizontal(classes="field-row"):
                    yield Label("Listen address", classes="field-label")
                    yield Input(
                        choices.listen_host,
                        id="listen-host",
                        compact=True,
                        placeholder="e.g. 10.0.0.5 or 127.0.0.1",
                        validators=[HostValidator()],
                    )
                yield FieldError("listen-host")
                with Horizontal(classes="field-row"):
                    yield Label("Port", classes="field-label")
                    yield Input(
                        str(choices.port),
                        id="listen-port",
                        compact=True,
                        type="integer",
                        validators=[PortValidator()],
                    )
                yield FieldError("listen-port")
            yield Static(id="disabled-reasons", classes="section")
            yield Static(id="refusal", classes="banner error")
        yield self.nav_buttons()

    def on_mount(self) -> None:
        self.query_one("#refusal").display = False
        self.refresh_modes()
        modes = self.query_one("#modes", RadioSet)
        # Put the cursor on the chosen mode, not on the first one.
        for _ in Mode:
            if modes._selected == modes.pressed_index:
                break
            modes.action_next_button()
        modes.focus()

    # -- reacting to input ------------------------------------------------------------------
    @on(RadioSet.Changed, "#modes")
    def mode_changed(self, event: RadioSet.Changed) -> None:
        button_id = event.pressed.id or ""
        self.wizard.choices.mode = button_id.removeprefix("mode-")
        self.wizard.plan = None
        self.refresh_modes()

    @on(Input.Changed, "#listen-host")
    def host_changed(self, event: Input.Changed) -> None:
        """Only a usable address becomes the choice: a bad one never reaches the SANs."""
        if self.query_one("#listen-host-error", FieldError).show_result(event.validation_result):
            self.wizard.choices.listen_host = event.value.strip()
            self.wizard.plan = None
            self.refresh_modes()

    @on(Input.Changed, "#listen-port")
    def port_changed(self, event: Input.Changed) -> None:
        if self.query_one("#listen-port-error", FieldError).show_result(event.validation_result):
            self.wizard.choices.port = int(event.value)
            self.wizard.plan = None

    def refresh_modes(self) -> None:
        """Grey out what the rules forbid for the current address, and say why."""
        state = self.wizard.host_state
        assert state is not None
        choices = self.wizard.choices
        listen = choices.listen_host
        if listen is not None and not valid_host(listen):
            listen = None
        verdicts = self.backend.allowed_modes(state, listen, choices.docker_version)
        reasons: list[Content] = []
        chosen_verdict: Violation | None = None
        for mode, verdict in verdicts.items():
            button = self.query_one(f"#mode-{mode.value}", RadioButton)
            blocked = verdict is not None and verdict.blocking
            button.disabled = blocked and mode.value != choices.mode
            suffix = "  [not allowed]" if blocked else ("  [warning]" if verdict else "")
            chosen = "  <- chosen" if mode.value == choices.mode else ""
            button.label = Content(MODE_TITLES[mode] + suffix + chosen)
            if verdict is not None and verdict.blocking and mode.value == choices.mode:
                chosen_verdict = verdict
            elif blocked or (verdict is not None and mode.value == choices.mode):
                # why a mode is greyed out, and the chosen mode's warning; never the warning
                # of a mode that is not chosen (TLS-only's while mutual TLS is picked)
                assert verdict is not None
                reasons.append(
                    Content.assemble((f"{MODE_TITLES[mode]}: ", "bold"), violation_text(verdict))
                )
        self.query_one("#disabled-reasons", Static).update(render.lines(reasons))
        self.query_one("#disabled-reasons").display = bool(reasons)
        mode = self.wizard.mode()
        self.query_one("#mode-desc", Static).update(Content(MODE_DESCRIPTIONS[mode]))
        self.query_one("#listen").display = mode in TCP_MODES
        banner = self.query_one("#refusal", Static)
        banner.display = chosen_verdict is not None
        if chosen_verdict is not None:
            banner.update(violation_text(chosen_verdict))

    # -- leaving ----------------------------------------------------------------------------
    def refuse(self, violations: list[Violation] | str) -> None:
        banner = self.query_one("#refusal", Static)
        if isinstance(violations, str):
            banner.update(Content.assemble(("Not allowed: ", "bold"), violations))
        else:
            banner.update(render.lines(violation_text(v) for v in violations))
        banner.display = True
        self.app.bell()
        self.call_after_refresh(banner.scroll_visible)

    def action_next(self) -> None:
        state = self.wizard.host_state
        assert state is not None
        mode = self.wizard.mode()
        if mode in TCP_MODES:
            for input_id in ("#listen-host", "#listen-port"):
                field = self.query_one(input_id, Input)
                if not check_field(field):
                    self.app.bell()
                    field.focus()
                    return
        try:
            intent = self.wizard.intent()
        except (ValidationError, ValueError) as exc:
            self.refuse(str(exc))
            return
        violations = self.backend.check_intent(state, intent)
        blocking = [v for v in violations if v.blocking]
        if blocking:
            self.refuse(blocking)
            return
        warnings = [v for v in violations if not v.blocking and v.rule != "version-unknown"]
        if warnings:
            self.confirm_warnings(warnings)
            return
        self.go_on()

    def confirm_warnings(self, warnings: list[Violation]) -> None:
        """Allowed but unsafe choices (older Docker) need an explicit yes, never a silent pass."""
        from dockwiz.tui.screens.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.go_on()

        self.app.push_screen(
            ConfirmDialog(
                "Continue despite the warning?",
                render.lines(violation_text(v) for v in warnings),
                yes="Continue",
                no="Change it",
                danger=True,
            ),
            answered,
        )

    def go_on(self) -> None:
        self.query_one("#refusal").display = False
        self.dockwiz.advance(self.STEP)
