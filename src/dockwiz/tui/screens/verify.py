"""Step 7: proof. Every probe (good and bad clients) with what it saw, then the client hand-off."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import LoadingIndicator, Static
from textual.worker import get_current_worker

from dockwiz.tui.flow import Step
from dockwiz.tui.screens.base import WizardScreen
from dockwiz.tui.widgets import render
from dockwiz.tui.widgets.rows import Row, Rows

if TYPE_CHECKING:
    from dockwiz.models.results import Probe, VerifyReport


def probe_row(probe: Probe) -> Row:
    """PASS/FAIL in words; what was expected, what was seen, and for a failure why and the fix."""
    verdict = Content.styled("PASS", "$text-success")
    if not probe.passed:
        verdict = Content.styled("FAIL", "bold $text-error")
    expected = "expected to work" if probe.expect == "succeed" else "expected to be refused"
    parts: list[Content | str | tuple[str, str]] = [
        (probe.title, "bold"),
        (f"\n{expected}: {probe.target}", "$text-muted"),
        f"\nsaw: {probe.saw}",
    ]
    if probe.warning:
        parts.append(("\nwarning: " + probe.warning, "$text-warning"))
    if not probe.passed:
        if probe.cause:
            parts.append(f"\ncause: {probe.cause}")
        if probe.fix:
            parts.append(Content.assemble("\n", ("fix: ", "bold"), probe.fix))
    return verdict, Content.assemble(*parts)


def handoff_rows(report: VerifyReport) -> list[Row]:
    """What the admin copies to a client machine, and the lines to paste there."""
    handoff = report.handoff
    if handoff is None:
        if report.mode == "ssh":
            return [
                (
                    Content.styled("Clients", "bold"),
                    "connect over SSH, e.g. docker -H ssh://USER@HOST ps (the user must be "
                    "allowed to use docker on this host).",
                )
            ]
        return []
    if handoff.ssh_config is not None:  # ssh mode: no bundle, a context and an ssh_config
        return [
            (Content.styled("Endpoint", "bold"), handoff.endpoint),
            (Content.styled("Context", "bold"), handoff.context_create),
            (Content.styled("ssh_config", "bold"), handoff.ssh_config.rstrip()),
        ]
    return [
        (Content.styled("Bundle", "bold"), Content.assemble(
            handoff.bundle_dir,
            ("\ncopy this directory to the client: it holds the client's private key",
             "$text-muted"),
        )),
        (Content.styled("Endpoint", "bold"), handoff.endpoint),
    ]


def handoff_commands(report: VerifyReport) -> list[tuple[str, str, str]]:
    """(key, label, command) for the lines an admin pastes: each stays one line on screen,
    whole in the clipboard (the key) and in the hand-off printed when the wizard ends."""
    handoff = report.handoff
    if handoff is None:
        return []
    name = PurePosixPath(handoff.bundle_dir).name
    return [
        ("e", "Env", f". {handoff.bundle_dir}/env.sh"),
        ("c", "Context", handoff.context_create),
        ("t", "Test", f"docker --context {name} version"),
    ]


def report_text(report: VerifyReport) -> Content:
    passed = sum(1 for p in report.probes if p.passed)
    verdict = ("Verified. ", "bold $text-success")
    if not report.passed:
        verdict = ("Verification failed. ", "bold $text-error")
    head = Content.assemble(verdict, f"{passed} of {len(report.probes)} probes passed.")
    rows: list[Content | str] = [head]
    if report.summary and not report.passed:  # when it passed, the summary repeats the head
        rows.append(report.summary)
    rows.extend(render.warning(w) for w in report.warnings)
    return render.lines(rows)


class VerifyScreen(WizardScreen):
    """Runs the probes once; the result and the hand-off stay on screen until the admin quits."""

    STEP = Step.VERIFY
    can_go_back = False
    BINDINGS = [  # noqa: RUF012 - Textual's declared class attribute
        Binding("r", "rerun", "Verify again"),
        Binding("n", "finish", "Finish"),
        Binding("c", "copy('c')", "Copy context"),
        Binding("e", "copy('e')", "Copy env", show=False),
        Binding("t", "copy('t')", "Copy test", show=False),
    ]

    def body(self) -> ComposeResult:
        with VerticalScroll(id="verify", classes="step-body"):
            yield Static("Probing the daemon as real clients would…", id="verify-status")
            yield LoadingIndicator(id="busy")
            yield Static(id="verdict", classes="section")
            yield Rows(id="probes")
            yield Static(id="handoff-title", classes="section-title")
            yield Rows(id="handoff", wide=True)
            yield Vertical(id="commands")
            yield Static(id="commands-help", classes="section-help")
        yield self.nav_buttons("Finish", next_disabled=True)

    def on_mount(self) -> None:
        if self.wizard.verify_report is not None:
            self.show_report(self.wizard.verify_report)
        else:
            self.run_verify()

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify",
          description="verifying the daemon")
    def run_verify(self) -> None:
        from dockwiz.tui.session import run_verify

        report = run_verify(self.backend, self.wizard)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_report, report)

    def show_report(self, report: VerifyReport) -> None:
        self.wizard.verify_report = report
        self.query_one("#busy").display = False
        self.query_one("#verify-status", Static).update("")
        self.query_one("#verify-status").display = False
        self.query_one("#verdict", Static).update(report_text(report))
        self.query_one("#probes", Rows).show(probe_row(p) for p in report.probes)
        rows = handoff_rows(report)
        contexts = self.wizard.context_handoff()
        if contexts:  # day two: a docker context keeps its own copy of a bundle
            rows.append((Content.styled("Contexts", "bold"), "\n".join(contexts)))
        title = self.query_one("#handoff-title", Static)
        title.display = bool(rows)
        title.update("Client hand-off")
        self.query_one("#handoff", Rows).show(rows)
        self.show_commands(report)
        next_button = self.query_one("#next")
        next_button.disabled = False
        next_button.focus()

    def show_commands(self, report: VerifyReport) -> None:
        """Each command on its own line, never wrapped: cut with an ellipsis at 80 columns,
        whole when copied (OSC 52 reaches the admin's own terminal, also over SSH)."""
        box = self.query_one("#commands", Vertical)
        box.remove_children()
        commands = handoff_commands(report)
        box.mount_all(
            Static(Content.assemble((f"{label:<8}", "bold"), (f"[{key}] ", "$text-accent"),
                                    command), classes="command")
            for key, label, command in commands
        )
        help_line = self.query_one("#commands-help", Static)
        help_line.display = bool(commands)
        help_line.update(
            "Press the key in [ ] to copy that whole line to your terminal's clipboard; "
            "all of it is printed again when you finish."
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy":
            report = self.wizard.verify_report
            return report is not None and report.handoff is not None
        return super().check_action(action, parameters)

    def action_copy(self, key: str) -> None:
        report = self.wizard.verify_report
        if report is None:
            return
        for command_key, label, command in handoff_commands(report):
            if command_key == key:
                self.app.copy_to_clipboard(command)
                self.notify(f"{label} line copied to the clipboard (OSC 52): {command}",
                            timeout=6)

    def work_failed(self, group: str, error: BaseException | None) -> None:
        self.query_one("#busy").display = False
        self.query_one("#verify-status", Static).update(
            "Verification could not run. Press r to try again, or run 'dockwiz verify'."
        )
        self.query_one("#next").disabled = False

    def action_rerun(self) -> None:
        self.wizard.verify_report = None
        self.query_one("#busy").display = True
        self.query_one("#verify-status").display = True
        self.query_one("#verify-status", Static).update("Probing again…")
        self.run_verify()

    def action_finish(self) -> None:
        self.app.exit(0)

    def action_next(self) -> None:
        self.action_finish()
