"""The one error type the core raises for conditions a user can fix.

Anything a user can act on (bad input, a file that cannot be parsed, a daemon that is not
running) is a ``DockwizError`` with the fix in ``hint``; the CLI prints both and exits 2, the
TUI shows them in a dialog. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class DockwizError(Exception):
    """A failure the user can fix: ``message`` says what, ``hint`` says how."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"
