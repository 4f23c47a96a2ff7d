"""Label/text rows with a hanging indent, so long text wraps under its own column."""

from __future__ import annotations

from collections.abc import Iterable

from textual.await_complete import AwaitComplete
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

Row = tuple[Content | str, Content | str]


class Rows(Vertical):
    """A column of (label, text) rows; ``show`` replaces them all (cheap: tens of rows)."""

    DEFAULT_CSS = """
    Rows { height: auto; }
    Rows > .row { height: auto; }
    Rows > .row > .row-label { width: 9; height: auto; }
    Rows.wide > .row > .row-label { width: 11; }
    Rows > .row > .row-body { width: 1fr; height: auto; }
    """

    def __init__(self, *, id: str | None = None, wide: bool = False) -> None:
        super().__init__(id=id, classes="wide" if wide else "")
        self.rows: list[Row] = []

    def show(self, rows: Iterable[Row]) -> AwaitComplete:
        """Replace the rows; await the result to act once they are on screen (e.g. scroll)."""
        self.rows = list(rows)
        removed = self.remove_children()
        mounted = self.mount_all(
            Horizontal(
                Static(Content(label) if isinstance(label, str) else label, classes="row-label"),
                Static(Content(body) if isinstance(body, str) else body, classes="row-body"),
                classes="row",
            )
            for label, body in self.rows
        )
        return AwaitComplete(removed, mounted)

    @property
    def text(self) -> str:
        """The rows as plain text (what the screen says, without styles), for tests and logs."""
        return "\n".join(f"{label} {body}".strip() for label, body in self.rows)
