"""Step 5: the exact change, as a diff, with the service actions and warnings; nothing written."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Button, LoadingIndicator, Static
from textual.worker import get_current_worker

from dockwiz.tui.flow import Step
from dockwiz.tui.screens.base import WizardScreen
from dockwiz.tui.widgets import render
from dockwiz.tui.widgets.diffview import DiffView
from dockwiz.tui.widgets.rows import Row, Rows

if TYPE_CHECKING:
    from dockwiz.models.plan import CertAction, FileChange, Plan, ServiceAction

READ_ONLY = (
    "Read-only: dockwiz is not running as root, so this plan cannot be applied. "
    "Rerun as root (sudo dockwiz) to apply it."
)


def action_text(action: ServiceAction) -> str:
    return f"{action.kind}: {action.reason}" if action.reason else action.kind


def file_row(change: FileChange) -> Row:
    if change.before is None and change.after is not None:
        what, style = "new", "$text-success"
    elif change.after is None:
        what, style = "removed", "$text-error"
    else:
        what, style = "changed", "$text-warning"
    return Content.styled(what, style), render.assemble(
        change.path,
        (f"  {render.octal(change.mode)}", "$text-muted"),
        ("\n" + change.reason, "$text-muted") if change.reason else "",
    )


def cert_row(cert: CertAction) -> Row:
    style = "$text-muted" if cert.action == "reuse" else "$text-success"
    return Content.styled(cert.action, style), Content.assemble(
        f"{cert.role}: {cert.cert_path}",
        ("\n" + cert.reason, "$text-muted") if cert.reason else "",
    )


def files_diff(plan: Plan) -> str:
    """Only the file diffs: the rest of the plan is summarised above them."""
    from dockwiz.diffs import unified

    return "".join(unified(f.path, f.before, f.after) for f in plan.files)


def plan_rows(plan: Plan) -> list[Row]:
    """Files, certificates and service actions, each under a heading row."""
    files = [f for f in plan.files if f.changed]
    rows: list[Row] = [("", Content.styled(f"Files ({len(files)})", "bold"))]
    rows.extend(file_row(change) for change in files)
    if plan.certs:
        rows.append(("", Content.styled(f"Certificates ({len(plan.certs)})", "bold")))
        rows.extend(cert_row(c) for c in plan.certs)
    rows.append(("", Content.styled("Service actions", "bold")))
    rows.extend((Content.styled(str(i), "bold"), action_text(a))
                for i, a in enumerate(plan.actions, 1))
    if not plan.actions:
        rows.append(("", "none: the running daemon is not touched"))
    return rows


class PreviewScreen(WizardScreen):
    """Builds the plan in a worker and shows it; applying needs an explicit confirmation."""

    STEP = Step.PREVIEW
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "apply", "Apply"),
    ]

    def body(self) -> ComposeResult:
        with VerticalScroll(id="preview", classes="step-body"):
            yield Static("Planning the change (nothing is written)…", id="plan-status")
            yield LoadingIndicator(id="busy")
            yield Static(READ_ONLY, id="read-only", classes="banner warning")
            yield Static(id="warnings", classes="banner warning")
            yield Rows(id="summary")
            yield Static(id="notes", classes="section")
            yield Static("Diff", id="diff-title", classes="section-title")
            yield DiffView(id="diff")
        yield self.nav_buttons("Apply…", next_disabled=True)

    def on_mount(self) -> None:
        for widget_id in ("#read-only", "#warnings", "#notes", "#diff-title", "#diff"):
            self.query_one(widget_id).display = False
        if self.wizard.plan is not None:
            self.show_plan(self.wizard.plan)
        else:
            self.build()

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan",
          description="planning the change")
    def build(self) -> None:
        from dockwiz.tui.session import make_plan

        plan = make_plan(self.backend, self.wizard)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_plan, plan)

    def work_failed(self, group: str, error: BaseException | None) -> None:
        self.query_one("#busy").display = False
        self.query_one("#plan-status", Static).update(
            "No plan: see the error. Go back (Esc) to change your choices."
        )

    def show_plan(self, plan: Plan) -> None:
        self.wizard.plan = plan
        self.query_one("#busy").display = False
        empty = plan.is_empty
        self.query_one("#plan-status", Static).update(
            Content.styled("Nothing to change: the host already matches your choices.", "bold")
            if empty
            else Content.assemble(
                ("Review the change. ", "bold"),
                "Nothing has been written; Apply asks once more.",
            )
        )
        warnings = plan.warnings
        banner = self.query_one("#warnings", Static)
        banner.display = bool(warnings)
        banner.update(render.lines(render.warning(render.tui_words(w)) for w in warnings))
        notes = plan.notes
        note_box = self.query_one("#notes", Static)
        note_box.display = bool(notes)
        note_box.update(render.lines(f"- {n}" for n in notes))
        self.query_one("#summary", Rows).show(plan_rows(plan))
        self.query_one("#diff-title").display = True
        self.query_one("#diff").display = True
        self.query_one("#diff", DiffView).show(files_diff(plan))
        read_only = self.wizard.read_only
        self.query_one("#read-only").display = read_only
        next_button = self.query_one("#next", Button)
        if self.dockwiz.next_step(self.STEP) is Step.VERIFY:
            next_button.label = "Verify"
        next_button.disabled = read_only
        self.query_one("#preview").focus()

    def action_apply(self) -> None:
        self.action_next()

    def action_next(self) -> None:
        plan = self.wizard.plan
        if plan is None:
            self.notify("Still planning; one moment.")
            return
        if self.wizard.read_only:
            self.notify(READ_ONLY, severity="warning", timeout=8)
            return
        if self.dockwiz.next_step(self.STEP) is not Step.APPLY:
            self.dockwiz.advance(self.STEP)
            return
        from dockwiz.tui.screens.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            """Only an explicit yes leads to the step that writes to the host."""
            if yes:
                self.dockwiz.advance(self.STEP)

        self.app.push_screen(
            ConfirmDialog("Apply this change?", self.confirm_text(plan), yes="Apply", no="Cancel"),
            answered,
        )

    def confirm_text(self, plan: Plan) -> Content:
        files = len([f for f in plan.files if f.changed])
        actions = [action_text(a) for a in plan.actions]
        state = self.wizard.host_state
        rows: list[Content | str] = [f"{files} file(s) will be written, each backed up first."]
        if actions:
            rows.append("Then: " + "; ".join(actions) + ".")
        running = state.running_containers if state else None
        if running and state is not None and not state.live_restore and any(
            a.kind == "restart" for a in plan.actions
        ):
            rows.append(
                Content.styled(
                    f"The restart stops the {running} running container(s) "
                    "(live-restore is off).",
                    "bold $text-warning",
                )
            )
        rows.append("Any failure restores every file and the old daemon automatically.")
        return render.lines(rows)
