"""Putting files back from a journal's backups: every record that can be, each one verified.

One damaged backup must not stop the others: each record is restored on its own, then read
back and compared with its recorded sha256, mode and owner. What could not be restored is
listed by path with the reason, so the report names exactly what is left to do by hand.

Nothing here follows a link out of the root: every path goes through ``Host.writable``, a
directory is removed only if it is a real directory (``lstat``), and ``shutil.rmtree`` never
follows links inside what it removes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from dockwiz.apply.journal import FileRecord, Journal, TreeRecord, sha256_of
from dockwiz.apply.trust import FIXED_TARGETS, target_allowed
from dockwiz.errors import DockwizError
from dockwiz.fsutil import atomic_write, ensure_dir, fsync_dir
from dockwiz.host import Host


@dataclass
class RestoreReport:
    """How many paths changed, and every path that could not be put back (with why)."""

    changed: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def _host_rel(host: Host, local: Path) -> str:
    return "/" + local.relative_to(host.root).as_posix()


def _unlink(local: Path) -> None:
    local.unlink()
    with contextlib.suppress(OSError):
        fsync_dir(local.parent)


def _remove_dir(host: Host, host_dir: str) -> bool:
    """Remove a directory the apply created; never through a link (the link itself goes)."""
    local = host.writable(host_dir)
    try:
        st = local.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        _unlink(local)
    else:
        shutil.rmtree(local)  # rmtree removes links below, never what they point at
        with contextlib.suppress(OSError):
            fsync_dir(local.parent)
    return True


def _verify(local: Path, record: FileRecord) -> None:
    st = local.lstat()
    meta = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    if not stat.S_ISREG(st.st_mode) or meta != (record.mode, record.uid, record.gid):
        raise DockwizError(f"{record.path} reads back with mode/owner "
                           f"{meta[0]:04o} {meta[1]}:{meta[2]}, not as recorded")
    if sha256_of(local.read_bytes()) != record.sha256:
        raise DockwizError(f"{record.path} reads back with other bytes than its backup")


def restore_file(host: Host, record: FileRecord) -> bool:
    """Put one file back as recorded and read it back; True if anything had to change."""
    local = host.writable(record.path)
    if not record.existed:
        if local.exists() or local.is_symlink():
            _unlink(local)
            return True
        return False
    assert record.backup is not None and record.mode is not None
    data = host.writable(record.backup).read_bytes()
    if sha256_of(data) != record.sha256:
        raise DockwizError(
            f"the backup of {record.path} ({record.backup}) does not match its recorded checksum",
            "restore the file by hand; the backup directory was changed after the apply",
        )
    if _matches(local, data, record):
        return False
    ensure_dir(local.parent, mode=0o755)
    atomic_write(local, data, mode=record.mode, uid=record.uid, gid=record.gid)
    _verify(local, record)
    return True


def _matches(local: Path, data: bytes, record: FileRecord) -> bool:
    """Already as recorded (content, mode, owner): nothing to write, even on a read-only fs."""
    try:
        st = local.lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    same_meta = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (
        record.mode, record.uid, record.gid,
    )
    return same_meta and local.read_bytes() == data


def _restore_tree(host: Host, tree: TreeRecord, report: RestoreReport) -> None:
    """Remove what the apply added under a tree, then put back every recorded file."""
    if not tree.existed:
        if _remove_dir(host, tree.path):
            report.changed += 1
        return
    local = host.writable(tree.path)
    keep = {r.path for r in tree.files} | set(tree.dirs)
    if local.is_dir() and not local.is_symlink():
        for dirpath, dirnames, filenames in os.walk(local, topdown=False):
            for name in [*filenames, *dirnames]:
                p = Path(dirpath) / name
                shown = _host_rel(host, p)
                if shown in keep:
                    continue
                try:
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p)
                    else:
                        _unlink(p)
                    report.changed += 1
                except OSError as exc:
                    report.failed[shown] = f"could not remove what the apply added: {exc}"
    for record in tree.files:
        _restore_one(host, record, report)


def _restore_one(host: Host, record: FileRecord, report: RestoreReport) -> None:
    try:
        report.changed += restore_file(host, record)
    except (OSError, DockwizError) as exc:
        report.failed[record.path] = exc.message if isinstance(exc, DockwizError) else str(exc)


def _prune_empty(host: Host, host_dir: str) -> None:
    """A created directory above the allowed targets (e.g. /etc on an empty sandbox): removed
    bottom-up only where empty, never with what it holds."""
    local = host.writable(host_dir)
    if not local.is_dir() or local.is_symlink():
        return
    for dirpath, _dirs, _files in os.walk(local, topdown=False):
        with contextlib.suppress(OSError):
            Path(dirpath).rmdir()


def restore_all(host: Host, journal: Journal) -> RestoreReport:
    """Every tree and file of the journal, each on its own; then the directories it created."""
    report = RestoreReport()
    for tree in journal.trees:
        try:
            _restore_tree(host, tree, report)
        except (OSError, DockwizError) as exc:
            report.failed[tree.path] = exc.message if isinstance(exc, DockwizError) else str(exc)
    for record in journal.files:
        _restore_one(host, record, report)
    allowed = [*FIXED_TARGETS, *(t.path for t in journal.trees)]
    for host_dir in journal.created_dirs:
        try:
            if target_allowed(host_dir, allowed):
                report.changed += _remove_dir(host, host_dir)
            else:
                _prune_empty(host, host_dir)
        except (OSError, DockwizError) as exc:
            report.failed[host_dir] = exc.message if isinstance(exc, DockwizError) else str(exc)
    return report
