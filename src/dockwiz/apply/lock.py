"""One transaction at a time: an exclusive lock on a file in the state directory.

Two applies started together used to race (both passed the journal check; one's rollback
deleted the other's CA), and ``recover`` during a running apply restarted the daemon under it.
Now apply, rollback and recover each hold ``flock(LOCK_EX)`` on ``/var/lib/dockwiz/lock`` for
their whole run, and the file says who holds it (pid, command, since when). The kernel drops
the lock when the holder dies, however it dies, so a lock is never stale: "held" means a live
process is inside a transaction, and "interrupted" can only be said when nobody holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from dockwiz.apply.journal import ensure_state_dir
from dockwiz.docker_paths import STATE_DIR
from dockwiz.errors import DockwizError
from dockwiz.host import Host

LOCK_PATH = f"{STATE_DIR}/lock"


@dataclass(frozen=True)
class Holder:
    """Who holds the transaction lock, as the holder wrote it."""

    pid: int | None
    command: str
    since: str

    def describe(self) -> str:
        pid = f"pid {self.pid}" if self.pid else "a process"
        return f"{pid} ('{self.command}', since {self.since})"


class TransactionBusy(DockwizError):
    """Another dockwiz holds the transaction lock."""


def _open(host: Host, create: bool) -> int | None:
    local = host.writable(LOCK_PATH)
    # probing reads only (flock works on a read-only descriptor, even on a read-only fs)
    flags = os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_RDWR | os.O_CREAT if create else os.O_RDONLY)
    try:
        return os.open(local, flags, 0o600)
    except FileNotFoundError:
        return None


def _read_holder(fd: int) -> Holder:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        data = {}
    pid = data.get("pid")
    return Holder(pid=pid if isinstance(pid, int) else None,
                  command=str(data.get("command", "?")), since=str(data.get("since", "?")))


def holder(host: Host) -> Holder | None:
    """The live process holding the lock, or None (probing never takes it from anyone)."""
    fd = _open(host, create=False)
    if fd is None:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def transaction_lock(host: Host, command: str) -> Iterator[None]:
    """Hold the lock for a whole transaction; refuse at once, naming the holder, if taken."""
    ensure_state_dir(host)
    fd = _open(host, create=True)
    assert fd is not None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = _read_holder(fd)
            raise TransactionBusy(
                f"another dockwiz transaction is running: {who.describe()}",
                "wait for it to finish (it holds /var/lib/dockwiz/lock), then run this again",
            ) from None
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "command": command,
                  "argv": sys.argv[:6], "since": datetime.now(UTC).isoformat(timespec="seconds")}
        with contextlib.suppress(OSError):  # who holds it is a courtesy; the flock is the lock
            os.pwrite(fd, json.dumps(record).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # a full disk must not keep the lock from being released
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
