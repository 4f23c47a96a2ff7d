"""The one error type the core raises for conditions a user can fix, the exit statuses, and the
one error object ``--json`` prints.

Anything a user can act on (bad input, a file that cannot be parsed, a daemon that is not
running) is a ``DockwizError`` with the fix in ``hint``; the CLI prints both and exits 2, the
TUI shows them in a dialog. Any other exception is a bug: it keeps its traceback (on stderr) and
exits 70.

The exit statuses are a contract with scripts, so they live here, once, with their meanings;
``error_report`` builds the object every failure prints under ``--json`` (commands/_common.py
prints it, cli.py's handler and the commands call that). Standard library only: the CLI's
error path must not pay for pydantic to say that an option was mistyped.
"""

from __future__ import annotations

from typing import Any, TypedDict

EXIT_OK = 0
EXIT_FAILED = 1  # a verify probe failed, or an apply failed and was rolled back
EXIT_USAGE = 2  # a usage or input error (or a refusal): fix it and run again
EXIT_NOT_RECOVERED = 3  # a rollback failed: the host needs attention
EXIT_INTERNAL = 70  # a bug in dockwiz (EX_SOFTWARE); the traceback is on stderr
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (128 + SIGPIPE), e.g. '| head'

EXIT_MEANINGS: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_FAILED: "a verify probe or an apply failed (a failed apply is rolled back)",
    EXIT_USAGE: "usage or input error, or a refusal: fix it and run again",
    EXIT_NOT_RECOVERED: "rollback failed: the host needs attention",
    EXIT_INTERNAL: "internal error: a bug in dockwiz (traceback on stderr)",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_BROKEN_PIPE: "the output pipe was closed",
}


class DockwizError(Exception):
    """A failure the user can fix: ``message`` says what, ``hint`` says how."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class UsageError(DockwizError):
    """A command line argparse refused; raised by the CLI's parsers instead of exiting, so the
    failure reaches the one handler (and becomes JSON under ``--json``)."""

    def __init__(self, message: str, prog: str, usage: str) -> None:
        super().__init__(message, f"see '{prog} --help'")
        self.prog = prog
        self.usage = usage


class ErrorReport(TypedDict):
    """What every failure prints on stdout under ``--json`` (plus a model where there is one)."""

    ok: bool
    error: str
    fix: str | None
    exit_code: int
    exit_meaning: str


def error_report(message: str, fix: str | None, exit_code: int, **extra: Any) -> dict[str, Any]:
    """The error object: ``ok`` false, what failed, how to fix it, the exit status and what it
    means; ``extra`` adds the command's model where there is one (``result=`` an ApplyResult)."""
    report: ErrorReport = {
        "ok": False,
        "error": message,
        "fix": fix,
        "exit_code": exit_code,
        "exit_meaning": EXIT_MEANINGS.get(exit_code, "failure"),
    }
    return {**report, **extra}
