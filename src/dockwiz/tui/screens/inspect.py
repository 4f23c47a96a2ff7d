"""Step 1: the host at a glance, after offering to recover an interrupted apply."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import LoadingIndicator, Static
from textual.worker import get_current_worker

from dockwiz.tui.flow import Step
from dockwiz.tui.screens.base import WizardScreen
from dockwiz.tui.widgets.rows import Rows

if TYPE_CHECKING:
    from dockwiz.apply.journal import Journal
    from dockwiz.models.host_state import HostState
    from dockwiz.models.results import ApplyResult, ApplyStep

NOT_ROOT = (
    "Not running as root: this is a read-only look. Files only root can read are listed "
    "under 'Could not read'. You can still choose and preview a change; to apply it, "
    "rerun as root: sudo dockwiz"
)


class InspectScreen(WizardScreen):
    """What is on the host now; nothing here changes the host (except an accepted recovery)."""

    STEP = Step.INSPECT
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reinspect", "Re-inspect"),
        Binding("d", "details", "Details"),
    ]
    details = False
    """Findings with their why and fix (d), or one line each so all fit at 80x24."""

    def body(self) -> ComposeResult:
        with VerticalScroll(id="report", classes="step-body"):
            yield Static("Looking at the host…", id="status")
            yield LoadingIndicator(id="busy")
            yield Static(NOT_ROOT, id="not-root", classes="banner warning")
            yield Static(id="lab-note", classes="banner")
            yield Static(id="findings-title", classes="section-title")
            yield Rows(id="findings")
            yield Rows(id="summary", wide=True)
            yield Static("Certificates", id="certs-title", classes="section-title")
            yield Rows(id="certs")
            yield Static(id="unreadable", classes="section")
        yield self.nav_buttons(next_disabled=True)

    def on_mount(self) -> None:
        self.query_one("#not-root").display = False
        note = self.wizard.lab_note
        lab = self.query_one("#lab-note", Static)
        lab.display = bool(note)
        if note:
            lab.update(Content(note))
        for widget_id in ("#findings-title", "#certs-title"):
            self.query_one(widget_id).display = False
        if self.wizard.host_state is not None:
            self.show_state(self.wizard.host_state)
        else:
            self.set_busy("Checking for an unfinished apply…")
            # Paint first: the inspect thread competes for the GIL with the first frame.
            self.call_after_refresh(self.check_recovery)

    # -- work -------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="recovery-check",
          description="checking for an unfinished apply")
    def check_recovery(self) -> None:
        journal = self.backend.pending_recovery()
        if get_current_worker().is_cancelled:
            return
        if journal is None:
            self.app.call_from_thread(self.start_inspect)
        else:
            self.app.call_from_thread(self.offer_recovery, journal)

    def offer_recovery(self, journal: Journal) -> None:
        from dockwiz.tui.screens.dialogs import ConfirmDialog

        self.query_one("#busy").display = False
        self.query_one("#status", Static).update("An unfinished apply was found.")

        body = (
            f"A previous apply ({journal.txid}, started {journal.started:%Y-%m-%d %H:%M} UTC) "
            f"stopped at step '{journal.step}'; {len(journal.files)} file(s) may be "
            "half-changed. Recovery restores every file from its backup, restarts the daemon "
            "on the old configuration and checks that it answers. Nothing else can safely "
            "happen first."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.set_busy("Recovering the interrupted apply…")
                self.run_recovery()
            else:
                self.app.exit(
                    3, message="dockwiz: unfinished apply left as is; run 'dockwiz recover'."
                )

        self.app.push_screen(
            ConfirmDialog("Unfinished apply found", body, yes="Recover now", no="Quit"), answered
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="apply",
          description="recovering the interrupted apply")
    def run_recovery(self) -> None:
        def step(item: ApplyStep) -> None:
                self.app.call_from_thread(self.set_busy, f"Recovering: {item.name} ({item.status})")

        result = self.backend.recover(step)
        self.app.call_from_thread(self.recovered, result)

    def recovered(self, result: ApplyResult) -> None:
        ok = result.ok
        self.notify(
            "The interrupted apply was undone; the old configuration is back."
            if ok
            else "Recovery did not complete; see 'dockwiz recover' for details.",
            severity="information" if ok else "error",
            timeout=8,
        )
        self.start_inspect()

    def start_inspect(self) -> None:
        self.set_busy("Inspecting the host…")
        self.run_inspect()

    @work(thread=True, exclusive=True, exit_on_error=False, group="inspect",
          description="inspecting the host")
    def run_inspect(self) -> None:
        state = self.backend.inspect()
        # already secured by dockwiz: the Mode step then offers renew / add / revoke too
        self.wizard.day_two_options = self.backend.day_two_options(state)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_state, state)

    def work_failed(self, group: str, error: BaseException | None) -> None:
        self.query_one("#busy").display = False
        self.query_one("#status", Static).update(
            "Could not finish looking at the host. Press r to try again."
        )

    # -- presentation -----------------------------------------------------------------------
    def set_busy(self, text: str) -> None:
        self.query_one("#busy").display = True
        self.query_one("#status", Static).update(Content(text))
        self.query_one("#next").disabled = True

    def show_state(self, state: HostState) -> None:
        from dockwiz.tui.widgets import render  # the core's models: after the first paint

        self.wizard.host_state = state
        self.query_one("#busy").display = False
        self.query_one("#status", Static).update(
            Content.assemble(("Findings: ", "bold"), render.severity_counts(state.findings))
        )
        self.query_one("#not-root").display = not state.is_root
        self.query_one("#summary", Rows).show(render.host_rows(state, self.backend.host.label))
        title = self.query_one("#findings-title", Static)
        title.display = True
        title.update(f"Findings ({len(state.findings)})"
                     + ("" if self.details else ": d shows why and how to fix each"))
        self.query_one("#findings", Rows).show(
            render.finding_rows(state.findings, details=self.details)
        )
        self.query_one("#certs-title").display = True
        self.query_one("#certs", Rows).show(render.cert_rows(state.certs, self.dockwiz.now()))
        unreadable = self.query_one("#unreadable", Static)
        unreadable.display = bool(state.unreadable)
        if state.unreadable:
            unreadable.update(
                render.lines([Content.styled("Could not read", "bold"), *state.unreadable])
            )
        next_button = self.query_one("#next")
        next_button.disabled = False
        next_button.focus()

    def action_details(self) -> None:
        """Details on demand: why each finding matters and its fix, or titles only."""
        self.details = not self.details
        if self.wizard.host_state is not None:
            self.show_state(self.wizard.host_state)

    def action_reinspect(self) -> None:
        if self.wizard.apply_result is not None:
            self.notify("Already applied; inspect again with 'dockwiz inspect'.")
            return
        self.wizard.host_state = None
        self.wizard.plan = None
        self.start_inspect()

    def action_next(self) -> None:
        if self.wizard.host_state is None:
            self.notify("Still inspecting; one moment.")
            return
        super().action_next()
