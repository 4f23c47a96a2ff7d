"""The plan's unified diff, coloured by the Textual theme (or plain under NO_COLOR)."""

from __future__ import annotations

from pygments.token import Token  # type: ignore[import-untyped]
from textual.content import Content
from textual.highlight import HighlightTheme, highlight
from textual.widgets import Static


class DiffTheme(HighlightTheme):
    """Textual's default highlight theme has no styles for added/removed lines; this adds them."""

    STYLES = {  # noqa: RUF012 - Textual's declared class attribute
        **HighlightTheme.STYLES,
        Token.Generic.Inserted: "$text-success",
        Token.Generic.Deleted: "$text-error",
        Token.Generic.Heading: "bold",
        Token.Generic.Subheading: "$text-accent",
    }


def diff_content(text: str) -> Content:
    """Highlight a unified diff; the plain text is unchanged (colour only adds spans)."""
    if not text.strip():
        return Content("(no file changes)")
    return highlight(text.rstrip("\n"), language="diff", theme=DiffTheme)


class DiffView(Static):
    """A diff that keeps its exact text; the surrounding container scrolls it."""

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(diff_content(text), id=id, classes="diff")
        self.diff_text = text

    def show(self, text: str) -> None:
        self.diff_text = text
        self.update(diff_content(text))
