"""Step 2: who may connect, and where. Forbidden modes stay visible, disabled, with the reason.

On a host dockwiz already secured with mutual TLS the same list also offers day two: renew the
server certificate, add a client, revoke a client (the choice goes to ``Choices.day_two``;
flow.py then skips to Preview, and session.make_plan asks the lifecycle core for the plan).
"""

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
from dockwiz.tui.session import DayTwo
from dockwiz.tui.widgets import render
from dockwiz.tui.widgets.fields import (
    ClientNameValidator,
    FieldError,
    HostValidator,
    PortValidator,
    check_field,
)
from dockwiz.tui.widgets.render import tui_words

if TYPE_CHECKING:
    from dockwiz.models.host_state import HostState
    from dockwiz.tui.session import DayTwoOptions

MODE_TITLES: dict[Mode, str] = {
    Mode.UNIX: "Unix socket only (local users)",
    Mode.TLS: "TLS, server certificate only",
    Mode.MTLS: "Mutual TLS (client certificates)",
    Mode.SSH: "SSH (no TCP; docker -H ssh://)",
}


DAY_TWO_TITLES: dict[DayTwo, str] = {
    DayTwo.RENEW: "Renew the server certificate",
    DayTwo.ADD_CLIENT: "Add a client (a new bundle, same CA)",
    DayTwo.REVOKE: "Revoke a client (a new CA for the others)",
}


def renew_title(options: DayTwoOptions) -> str:
    """The renew choice with the date that matters: when the certificate ends, when it is due."""
    server = options.status.server
    if server is None:
        return DAY_TWO_TITLES[DayTwo.RENEW]
    when = "due now" if server.due else f"due {server.renew_from:%Y-%m-%d}"
    return f"{DAY_TWO_TITLES[DayTwo.RENEW]} (expires {server.not_after:%Y-%m-%d}; {when})"


def day_two_text(choice: DayTwo, options: DayTwoOptions, revoke: str | None) -> Content:
    """What the day-two choice does, in the admin's words (the Preview shows the exact plan)."""
    ca = options.status.ca
    ca_line = f"\nThe CA expires {ca.not_after:%Y-%m-%d}." if ca is not None else ""
    if choice is DayTwo.RENEW:
        return Content(
            "A new server certificate from the same CA with the same names; dockerd restarts "
            "once and every client bundle keeps working." + ca_line)
    if choice is DayTwo.ADD_CLIENT:
        return Content(
            "A new client bundle (ca.pem, cert.pem, key.pem, env.sh) from the CA the daemon "
            "already trusts: no restart. Letters, digits, '.', '_' or '-'.")
    keep = [n for n in options.client_names if n != revoke]
    parts: list[Content | str | tuple[str, str]] = [
        "dockerd checks no revocation list: revoking means a new CA, a new server "
        "certificate and new bundles for everyone else, as one transaction.",
    ]
    if revoke is not None:
        parts += [("\nKeeps access (new bundles): ", "bold"), ", ".join(keep) or "nobody",
                  ("\nLoses access: ", "bold"), revoke]
    return Content.assemble(*parts)


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
        options = self.wizard.day_two_options
        with VerticalScroll(classes="step-body"):
            if options is not None:
                yield Static(Content.assemble(
                    ("Already secured ", "bold"),
                    "with mutual TLS by dockwiz: renew the certificate, add or revoke a "
                    "client, or change the mode."), id="day-two-note")
            with RadioSet(id="modes", compact=True):
                for mode in Mode:
                    yield RadioButton(
                        MODE_TITLES[mode],
                        value=mode == choices.mode and choices.day_two is None,
                        id=f"mode-{mode.value}",
                    )
                if options is not None:
                    for choice in DayTwo:
                        title = (renew_title(options) if choice is DayTwo.RENEW
                                 else DAY_TWO_TITLES[choice])
                        yield RadioButton(title, value=choice == choices.day_two,
                                          id=f"day2-{choice.value}")
            yield Static(id="mode-desc", classes="section")
            if options is not None:
                yield from self.day_two_fields(options)
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

    def day_two_fields(self, options: DayTwoOptions) -> ComposeResult:
        """The new client's name, and the list of clients one of whom is revoked."""
        choices = self.wizard.choices
        with Vertical(id="day-two"):
            with Horizontal(classes="field-row", id="client-name-row"):
                yield Label("Client name", classes="field-label")
                yield Input(
                    choices.client_name,
                    id="client-name",
                    compact=True,
                    placeholder="e.g. laptop-alice",
                    validators=[ClientNameValidator(options.client_names)],
                )
            yield FieldError("client-name")
            with Vertical(id="revoke-row"):
                yield Label("Client to revoke", classes="field-label")
                with RadioSet(id="revoke-list", compact=True):
                    for client in options.clients:
                        if client.revoked:
                            continue
                        expires = (f"  expires {client.not_after:%Y-%m-%d}"
                                   if client.not_after else "")
                        yield RadioButton(client.name + expires,
                                          value=client.name == choices.revoke_name,
                                          id=f"client-{client.name}", name=client.name)

    def on_mount(self) -> None:
        self.query_one("#refusal").display = False
        self.refresh_modes()
        modes = self.query_one("#modes", RadioSet)
        # Put the cursor on the chosen mode, not on the first one.
        for _ in range(len(modes.query(RadioButton))):
            if modes._selected == modes.pressed_index:
                break
            modes.action_next_button()
        modes.focus()

    # -- reacting to input ------------------------------------------------------------------
    @on(RadioSet.Changed, "#modes")
    def mode_changed(self, event: RadioSet.Changed) -> None:
        button_id = event.pressed.id or ""
        choices = self.wizard.choices
        if button_id.startswith("day2-"):
            choices.day_two = DayTwo(button_id.removeprefix("day2-"))
        else:
            choices.day_two = None
            choices.mode = button_id.removeprefix("mode-")
        self.wizard.plan = None
        self.refresh_modes()

    @on(RadioSet.Changed, "#revoke-list")
    def revoke_changed(self, event: RadioSet.Changed) -> None:
        self.wizard.choices.revoke_name = event.pressed.name
        self.wizard.plan = None
        self.refresh_modes()

    @on(Input.Changed, "#client-name")
    def client_name_changed(self, event: Input.Changed) -> None:
        self.query_one("#client-name-error", FieldError).show_result(event.validation_result)
        self.wizard.choices.client_name = event.value.strip()
        self.wizard.plan = None

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
        picked = None if choices.day_two is not None else choices.mode
        for mode, verdict in verdicts.items():
            button = self.query_one(f"#mode-{mode.value}", RadioButton)
            blocked = verdict is not None and verdict.blocking
            button.disabled = blocked and mode.value != picked
            suffix = "  [not allowed]" if blocked else ("  [warning]" if verdict else "")
            chosen = "  <- chosen" if mode.value == picked else ""
            button.label = Content(MODE_TITLES[mode] + suffix + chosen)
            if verdict is not None and verdict.blocking and mode.value == picked:
                chosen_verdict = verdict
            elif blocked or (verdict is not None and mode.value == picked):
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
        self.query_one("#listen").display = mode in TCP_MODES and choices.day_two is None
        self.refresh_day_two()
        banner = self.query_one("#refusal", Static)
        banner.display = chosen_verdict is not None
        if chosen_verdict is not None:
            banner.update(violation_text(chosen_verdict))

    def refresh_day_two(self) -> None:
        """The day-two choices' labels, fields and description (when the host offers them)."""
        options = self.wizard.day_two_options
        if options is None:
            return
        choices = self.wizard.choices
        for choice in DayTwo:
            button = self.query_one(f"#day2-{choice.value}", RadioButton)
            title = renew_title(options) if choice is DayTwo.RENEW else DAY_TWO_TITLES[choice]
            lonely = choice is DayTwo.REVOKE and len(options.client_names) < 2
            button.disabled = lonely and choice != choices.day_two
            suffix = "  [needs two clients]" if lonely else ""
            chosen = "  <- chosen" if choice == choices.day_two else ""
            button.label = Content(title + suffix + chosen)
        self.query_one("#day-two").display = choices.day_two is not None
        self.query_one("#client-name-row").display = choices.day_two is DayTwo.ADD_CLIENT
        self.query_one("#revoke-row").display = choices.day_two is DayTwo.REVOKE
        if choices.day_two is not None:
            self.query_one("#mode-desc", Static).update(
                day_two_text(choices.day_two, options, choices.revoke_name))
        else:
            self.query_one("#client-name-error").display = False

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
        if self.wizard.choices.day_two is not None:
            self.day_two_next()
            return
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

    def day_two_next(self) -> None:
        """A day-two choice needs its one detail: the new client's name, or who to revoke."""
        choices = self.wizard.choices
        if choices.day_two is DayTwo.ADD_CLIENT:
            field = self.query_one("#client-name", Input)
            if not check_field(field):
                self.app.bell()
                field.focus()
                return
        if choices.day_two is DayTwo.REVOKE and choices.revoke_name is None:
            self.refuse("pick the client to revoke in the list")
            self.query_one("#revoke-list").focus()
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
