"""dockerd's own words from a lab's log: the fatal line that says why it did not start."""

from __future__ import annotations

import re
from pathlib import Path

_LOGRUS = re.compile(r'level=(fatal|error)\s+msg="((?:[^"\\]|\\.)*)"')


def failure_reason(log_path: Path, offset: int) -> str | None:
    """dockerd's own last word from this start's part of the log."""
    try:
        with log_path.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return None
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and not ln.startswith("--- dockwiz lab")]
    for line in reversed(lines):
        if "level=" not in line:
            return line
        m = _LOGRUS.search(line)
        if m:
            return m.group(2).replace('\\"', '"')
    return lines[-1] if lines else None


def log_tail(log_path: Path, offset: int = 0, lines: int = 15) -> str:
    """The last lines the latest start wrote (not the previous daemon's shutdown)."""
    try:
        with log_path.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
