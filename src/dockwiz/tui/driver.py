"""Textual's Linux driver, made sturdy for a terminal that hangs up (a dropped SSH session).

When sshd loses the client it hangs up the wizard's terminal: the kernel sends SIGHUP and
SIGCONT, and every write to the terminal fails with EIO from then on. Stock Textual then
deadlocks on its way out: SIGCONT restarts "application mode" (meant for resuming after
Ctrl+Z) with a second writer thread, the first writer dies on the first failed write, and the
shutdown blocks forever on its full queue. The wizard never returned, so nothing after it ran:
a throwaway lab stayed up. Here a failed write is dropped instead of killing the writer, and
SIGCONT resumes only after a suspend of our own.
"""

from __future__ import annotations

import contextlib
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver


class _NeverFails:
    """The terminal as a file whose writes cannot raise: once it has hung up, output is lost
    anyway, and raising would only kill Textual's writer thread."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file

    def write(self, text: str) -> int:
        try:
            return self._file.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._file.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class WizardDriver(LinuxDriver):
    """LinuxDriver whose output survives a hang-up and which ignores a stray SIGCONT."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._file is not None:
            self._file = _NeverFails(self._file)  # type: ignore[assignment]

    def _sigcont_application(self, *args: Any) -> None:
        """Resume only what our own SIGTSTP suspended; a hang-up's SIGCONT is not a resume."""
        if self._must_signal_resume:
            super()._sigcont_application(*args)
