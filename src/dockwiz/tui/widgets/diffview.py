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


def wrap_diff(text: str, width: int) -> str:
    """Break long diff lines at ``width``, each piece keeping its line's +/- marker (and a ↪
    saying it continues), so a wrapped line is never mistaken for context at 80 columns."""
    if width < 8:
        return text
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= width or line.startswith(("---", "+++", "@@")):
            out.append(line)
            continue
        marker = line[0] if line[:1] in ("+", "-", " ") else ""
        out.append(line[:width])
        rest = line[width:]
        room = width - len(marker) - 1
        while rest:
            out.append(f"{marker}↪{rest[:room]}")
            rest = rest[room:]
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def diff_content(text: str) -> Content:
    """Highlight a unified diff; the plain text is unchanged (colour only adds spans)."""
    if not text.strip():
        return Content("(no file changes)")
    return highlight(text.rstrip("\n"), language="diff", theme=DiffTheme)


class DiffView(Static):
    """A diff that keeps its exact text; wrapped to the width it has, markers kept on every
    piece; the surrounding container scrolls it."""

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(diff_content(text), id=id, classes="diff")
        self.diff_text = text
        self._width = 0

    def show(self, text: str) -> None:
        self.diff_text = text
        self._width = 0
        self._wrap_to(self.content_region.width)

    def on_resize(self) -> None:
        self._wrap_to(self.content_region.width)

    def _wrap_to(self, width: int) -> None:
        if width and width == self._width:
            return
        self._width = width
        self.update(diff_content(wrap_diff(self.diff_text, width) if width else self.diff_text))
