"""Where the admin is in the flow, on one line, so the way back and forward is always visible."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from dockwiz.tui.flow import STEPS, Step


class StepBar(Static):
    """The seven steps with the current one marked (bold and reversed, readable without colour)."""

    def __init__(self, current: Step) -> None:
        super().__init__(self.render_steps(current), classes="step-bar")
        self.current = current

    @staticmethod
    def render_steps(current: Step) -> Content:
        parts: list[Content | str] = []
        reached = True
        for index, step in enumerate(STEPS):
            name = step.value
            if index:
                parts.append(Content.styled(" › ", "$text-muted"))
            if step is current:
                parts.append(Content.styled(f" {name} ", "bold reverse"))
                reached = False
            elif reached:
                parts.append(Content.styled(name, "$text-success"))
            else:
                parts.append(Content.styled(name, "$text-muted"))
        return Content.assemble(*parts)
