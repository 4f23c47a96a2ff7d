"""Crash-safe file writing shared by the PKI, the apply transaction and the lab.

The rule every writer here follows: a file appears at its final path complete, with its final
mode and owner, or not at all. Secret material is never readable by others at any instant: the
temp file is created with a mode no wider than the final one (``O_CREAT|O_EXCL`` with the mode
bits masked to the owner), its owner is set before a single byte is written, then it is
fsync'd and renamed over the target, and the directory is fsync'd so the rename survives a
crash.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileMeta:
    """Mode and ownership of a file (a dataclass: fsutil sits on the lean ``certs`` path)."""

    mode: int
    uid: int
    gid: int

    @classmethod
    def of(cls, path: Path) -> FileMeta:
        st = path.lstat()
        return cls(mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid)


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: Path,
    data: bytes | str,
    *,
    mode: int,
    uid: int | None = None,
    gid: int | None = None,
) -> None:
    """Write ``data`` to ``path`` atomically with ``mode`` (and owner, when given).

    The temp file lives in the same directory (same filesystem, so ``rename`` is atomic). It is
    created with owner-only permissions at most, so a key is never group/other readable even
    for the moment between create and chmod; the final mode is applied before any data.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if path.is_dir() and not path.is_symlink():
        # rename() would refuse too, but only after a temp file was created next to it (in the
        # PARENT of the directory, e.g. '/' for '/tmp'): fail before touching anything.
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    directory = path.parent
    tmp = directory / f".{path.name}.dwtmp-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode & 0o700)
    try:
        if uid is not None or gid is not None:
            os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
        os.fchmod(fd, mode)
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    try:
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(directory)


def ensure_dir(
    path: Path, *, mode: int, uid: int | None = None, gid: int | None = None
) -> list[Path]:
    """Create ``path`` and missing parents with ``mode``; return the directories created.

    Existing directories are left as they are (their mode is the admin's business and is
    reported by inspect, not silently changed). The returned list lets a transaction remove
    exactly what it created.
    """
    created: list[Path] = []
    missing: list[Path] = []
    cur = path
    while not cur.exists():
        missing.append(cur)
        cur = cur.parent
    for d in reversed(missing):
        d.mkdir(mode=mode)
        d.chmod(mode)  # mkdir's mode is filtered by the umask
        if uid is not None or gid is not None:
            os.chown(d, -1 if uid is None else uid, -1 if gid is None else gid)
        created.append(d)
    return created
