"""Step 6: the transaction, step by step, and on failure the rollback and the reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import LoadingIndicator, Static

from dockwiz.tui.flow import Step
from dockwiz.tui.screens.base import WizardScreen
from dockwiz.tui.widgets import render
from dockwiz.tui.widgets.rows import Row, Rows

if TYPE_CHECKING:
    from dockwiz.models.results import ApplyResult, ApplyStep

STATUS_STYLE: dict[str, tuple[str, str]] = {
    "ok": ("ok", "$text-success"),
    "failed": ("FAILED", "bold $text-error"),
    "skipped": ("skipped", "$text-muted"),
    "rolled-back": ("undone", "$text-warning"),
    "running": ("…", "$text-accent"),
}


def step_row(step: ApplyStep) -> Row:
    label, style = STATUS_STYLE.get(step.status, (step.status, ""))
    seconds = f"  {step.seconds:.1f}s" if step.seconds >= 0.05 else ""
    body = render.assemble(step.name, (seconds, "$text-muted"))
    if step.detail:
        body = Content.assemble(body, "\n", (step.detail, "$text-muted"))
    return Content.styled(label, style), body


def step_rows(steps: Sequence[ApplyStep]) -> list[Row]:
    """Forward steps, then, after the first failure, the rollback under its own heading."""
    rows: list[Row] = []
    failed = False
    for step in steps:
        rows.append(step_row(step))
        if step.status == "failed" and not failed:
            failed = True
            rows.append(("", Content.styled("Rolling back: putting every file back", "bold")))
    return rows


def result_text(result: ApplyResult) -> Content:
    if result.ok:
        took = f" Downtime {result.downtime_s:.1f}s." if result.downtime_s is not None else ""
        bundle = (
            f"\nClient bundle: {result.client_bundle}" if result.client_bundle else ""
        )
        return render.assemble(
            ("Applied. ", "bold $text-success"),
            f"The daemon answers on its new endpoints.{took}{bundle}",
        )
    rows: list[Content | str] = [
        render.assemble(
            ("Apply failed", "bold $text-error"),
            f" at '{result.failed_step}': " if result.failed_step else ": ",
            result.error or "unknown error",
        )
    ]
    if result.rolled_back:
        if result.recovery_ok:
            rows.append(
                Content.styled(
                    "Rolled back: every file is restored and the old daemon answers again.",
                    "$text-success",
                )
            )
        else:
            rows.append(
                Content.styled(
                    "Rollback finished but the old daemon does not answer: "
                    "run 'dockwiz recover' and check the daemon's log.",
                    "bold $text-error",
                )
            )
    elif result.recovery_ok:
        rows.append("Nothing on the host was changed.")
    if result.daemon_log:
        rows.append(Content.assemble(("dockerd said: ", "bold"), result.daemon_log.strip()))
    if result.recovery_ok:
        rows.append("Go back (Esc) to change your choices and try again.")
    return render.lines(rows)


class ApplyScreen(WizardScreen):
    """Runs the apply once, on mount. Back is allowed only after a failure was rolled back."""

    STEP = Step.APPLY
    can_go_back = False

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[ApplyStep] = []

    def body(self) -> ComposeResult:
        with VerticalScroll(id="apply-log", classes="step-body"):
            yield Static("Applying: backups first, then files, then the daemon…", id="apply-status")
            yield LoadingIndicator(id="busy")
            yield Rows(id="steps")
            yield Static(id="result", classes="section")
        yield self.nav_buttons("Verify", next_disabled=True)

    def on_mount(self) -> None:
        self.query_one("#result").display = False
        if self.wizard.apply_result is not None:
            self.steps = list(self.wizard.apply_result.steps)
            self.finished(self.wizard.apply_result)
        else:
            self.run_apply()

    @work(thread=True, exclusive=True, exit_on_error=False, group="apply",
          description="applying the change")
    def run_apply(self) -> None:
        plan = self.wizard.plan
        assert plan is not None
        def on_step(step: ApplyStep) -> None:
            self.app.call_from_thread(self.add_step, step)

        result = self.backend.apply(plan, on_step)
        self.app.call_from_thread(self.finished, result)

    def add_step(self, step: ApplyStep) -> None:
        self.steps.append(step)
        self.call_later(self.show_steps)

    async def show_steps(self) -> None:
        """Newest step in view: scroll only once the rows are mounted and laid out."""
        await self.query_one("#steps", Rows).show(step_rows(self.steps))
        self.query_one("#apply-log", VerticalScroll).scroll_end(animate=False)

    def finished(self, result: ApplyResult) -> None:
        self.wizard.apply_result = result
        self.query_one("#busy").display = False
        if len(result.steps) >= len(self.steps):
            self.steps = list(result.steps)
        self.call_later(self.show_steps)
        self.query_one("#apply-status", Static).update(
            "Done." if result.ok else "The change was not applied."
        )
        box = self.query_one("#result", Static)
        box.display = True
        box.update(result_text(result))
        next_button = self.query_one("#next")
        back_button = self.query_one("#back")
        if result.ok:
            next_button.disabled = False
            next_button.focus()
        else:
            self.can_go_back = bool(result.recovery_ok)
            back_button.display = self.can_go_back
            # nothing new to verify: the Verify button and the n key leave with the change
            next_button.display = False
            self.refresh_bindings()
            if self.can_go_back:
                back_button.focus()

    def work_failed(self, group: str, error: BaseException | None) -> None:
        self.query_one("#busy").display = False
        self.query_one("#apply-status", Static).update(
            "The apply stopped with an error; run 'dockwiz recover' before trying again."
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """After a failed apply there is nothing to verify: no Next in the footer."""
        result = self.wizard.apply_result
        if action == "next" and result is not None and not result.ok:
            return False
        return super().check_action(action, parameters)

    def action_back(self) -> None:
        if self.can_go_back:
            # The failed result belongs to this attempt; a new attempt starts clean.
            self.wizard.apply_result = None
        super().action_back()

    def action_next(self) -> None:
        result = self.wizard.apply_result
        if result is None or not result.ok:
            self.notify("Verify follows a successful apply.")
            return
        super().action_next()
