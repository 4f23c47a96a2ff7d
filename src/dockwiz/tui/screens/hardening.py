"""Step 4 (optional): opt-in daemon hardening, each with why it helps and what it costs."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from dockwiz.models.intent import HARDENING_OPTIONS, HardeningOption
from dockwiz.tui.flow import Step
from dockwiz.tui.screens.base import WizardScreen


def option_details(option: HardeningOption) -> Content:
    cis = f"  (CIS Docker Benchmark {option.cis})" if option.cis else ""
    reload = "\nApplied with a reload, no restart needed." if option.reloadable else ""
    return Content.assemble(
        (option.title, "bold"),
        (cis, "$text-muted"),
        "\n",
        ("Why: ", "bold $text-success"),
        option.why,
        "\n",
        ("Cost: ", "bold $text-warning"),
        option.cost,
        reload,
    )


class HardeningScreen(WizardScreen):
    """Nothing here is required; every option is off until the admin switches it on."""

    STEP = Step.HARDENING

    def body(self) -> ComposeResult:
        chosen = self.wizard.choices.hardening
        with VerticalScroll(classes="step-body"):
            yield Static(
                "Optional. Space toggles an option; the highlighted one is explained below.",
                classes="section-help",
            )
            yield SelectionList[str](
                *(
                    Selection(opt.title, opt.key, opt.key in chosen, id=opt.key)
                    for opt in HARDENING_OPTIONS
                ),
                id="hardening",
                compact=True,
            )
            yield Static(id="chosen", classes="section")
            yield Static(id="option-details", classes="section")
            yield Static(id="containers-note", classes="section")
        yield self.nav_buttons("Preview")

    def on_mount(self) -> None:
        self.show_details(0)
        self.show_chosen()
        state = self.wizard.host_state
        note = self.query_one("#containers-note", Static)
        running = state.running_containers if state else None
        if running and state is not None and not state.live_restore:
            note.update(
                Content.styled(
                    f"{running} container(s) are running: without live-restore the restart "
                    "this change needs stops them.",
                    "$text-warning",
                )
            )
        else:
            note.display = False
        self.query_one("#hardening").focus()

    @on(SelectionList.SelectionHighlighted, "#hardening")
    def highlighted(self, event: SelectionList.SelectionHighlighted[str]) -> None:
        self.show_details(event.selection_index)

    @on(SelectionList.SelectedChanged, "#hardening")
    def selected(self, event: SelectionList.SelectedChanged[str]) -> None:
        self.wizard.choices.hardening = set(event.selection_list.selected)
        self.wizard.plan = None
        self.show_chosen()

    def show_chosen(self) -> None:
        """Spelled out in words too: a checkbox's colour is invisible under NO_COLOR."""
        chosen = [opt.key for opt in HARDENING_OPTIONS if opt.key in self.wizard.choices.hardening]
        self.query_one("#chosen", Static).update(
            Content.assemble(("On: ", "bold"), ", ".join(chosen) if chosen else "none (all off)")
        )

    def show_details(self, index: int) -> None:
        if 0 <= index < len(HARDENING_OPTIONS):
            self.query_one("#option-details", Static).update(
                option_details(HARDENING_OPTIONS[index])
            )
