"""Whether dockwiz's own state may be believed before a rollback acts on it.

A rollback writes, as root, whatever the journal names with whatever mode and owner it records.
So the journal is an instruction to root, and it is obeyed only when nobody but root could have
written it (the state directory and the journal are root-owned, not group/world-writable, the
journal is 0600) and when every record stays inside what a plan may touch: daemon.json, the
service and socket drop-ins, /etc/default/docker, and the certificate directories; no
setuid/setgid/sticky mode; every backup inside its own transaction's directory. A journal that
fails any of these is refused with the reason, and nothing is written.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from dockwiz.docker_paths import (
    BACKUP_ROOT,
    CA_DIR,
    CLIENTS_DIR,
    DAEMON_JSON,
    DAEMON_TLS_DIR,
    DROPIN_DIR,
    JOURNAL_PATH,
    STATE_DIR,
    SYSV_DEFAULTS,
)
from dockwiz.errors import DockwizError
from dockwiz.host import Host

if TYPE_CHECKING:
    from dockwiz.apply.journal import Journal

SOCKET_DROPIN_DIR = "/etc/systemd/system/docker.socket.d"
DOCKER_ETC = str(PurePosixPath(DAEMON_JSON).parent)
FIXED_TARGETS = (DOCKER_ETC, DAEMON_JSON, SYSV_DEFAULTS, DROPIN_DIR, SOCKET_DROPIN_DIR,
                 DAEMON_TLS_DIR, CA_DIR, CLIENTS_DIR)
"""Paths (files, or directories with everything below) a plan may change: /etc/docker holds
daemon.json (or the --config-file a unit names there) and the daemon's TLS directory."""

SYSTEM_PREFIXES = ("/bin", "/boot", "/dev", "/lib", "/lib32", "/lib64", "/proc", "/root",
                   "/run", "/sbin", "/sys", "/usr", "/var/run", "/etc/cron", "/etc/pam.d",
                   "/etc/profile.d", "/etc/sudoers", "/etc/ld.so", "/etc/systemd",
                   "/etc/init.d", "/etc/rc", "/etc/ssh", "/etc/security", "/etc/passwd",
                   "/etc/shadow", "/etc/group")
"""Where a custom certificate directory named in a journal's plan may never be: a place whose
files root runs or trusts. Checked as a second line behind the state directory's ownership."""

SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


class UntrustedState(DockwizError):
    """dockwiz's state directory or journal could have been written by someone but root."""


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _clean(path: str) -> str | None:
    """The path if it is absolute and plain (no '..', '.', '//'), else None."""
    p = PurePosixPath(path)
    if not p.is_absolute() or str(p) != path or any(part in ("..", ".") for part in p.parts):
        return None
    return path


def custom_dir_ok(path: str) -> bool:
    """A certificate directory the admin chose: plain, two levels deep, not a system place."""
    if _clean(path) is None or len(PurePosixPath(path).parts) < 3:
        return False
    return not any(_inside(path, p) or path.startswith(p) for p in SYSTEM_PREFIXES)


def allowed_targets(cert_dirs: list[str]) -> list[str]:
    return [*FIXED_TARGETS, *(d for d in cert_dirs if custom_dir_ok(d))]


def target_allowed(path: str, allowed: list[str]) -> bool:
    return _clean(path) is not None and any(_inside(path, a) for a in allowed)


def ancestor_of_allowed(path: str, allowed: list[str]) -> bool:
    """A directory above an allowed target (e.g. /etc/dockwiz): only ever pruned when empty."""
    return _clean(path) is not None and any(_inside(a, path) for a in allowed)


def _check_owner_mode(local: Path, shown: str, *, exact_mode: int | None, what: str) -> None:
    st = local.lstat()
    if stat.S_ISLNK(st.st_mode):
        raise UntrustedState(f"{what} {shown} is a symlink; refusing to trust it",
                             f"remove the link and run dockwiz again ({shown} must be real)")
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != 0 and os.geteuid() == 0:
        raise UntrustedState(f"{what} {shown} is owned by uid {st.st_uid}, not root; "
                             "someone else could have written it",
                             f"check who changed {shown}; if it is genuine: chown root:root")
    if mode & 0o022:
        raise UntrustedState(f"{what} {shown} is group/world-writable (mode {mode:04o}); "
                             "someone else could have written what it holds",
                             f"check its content by hand, then chmod go-w {shown}")
    if exact_mode is not None and mode != exact_mode:
        raise UntrustedState(f"{what} {shown} has mode {mode:04o}, not {exact_mode:04o}",
                             f"check its content by hand, then chmod {exact_mode:o} {shown}")


def check_state_dir(host: Host) -> None:
    """The state directory (and its backups) must be root's alone before anything in it counts.

    Uid checks apply when dockwiz runs as root (as it does for apply); a non-root test run on a
    sandbox owns its own files.
    """
    for host_dir in (STATE_DIR, BACKUP_ROOT):
        local = host.writable(host_dir)
        if local.exists() or local.is_symlink():
            _check_owner_mode(local, host_dir, exact_mode=None, what="the state directory")


def check_journal_file(host: Host, host_path: str = JOURNAL_PATH) -> None:
    check_state_dir(host)
    _check_owner_mode(host.writable(host_path), host_path, exact_mode=0o600, what="the journal")


def check_records(journal: Journal, cert_dirs: list[str]) -> None:
    """Every record stays inside what a plan may touch; raise naming the first that does not."""
    allowed = allowed_targets(cert_dirs)
    tx_dir = f"{BACKUP_ROOT}/{journal.txid}"
    if "/" in journal.txid or journal.txid in ("", ".", ".."):
        _refuse(journal, f"its transaction id {journal.txid!r} is not a plain name")
    if not _inside(journal.plan_path, tx_dir) or _clean(journal.plan_path) is None:
        _refuse(journal, f"its plan {journal.plan_path} is outside {tx_dir}")
    records = [*journal.files, *(f for t in journal.trees for f in t.files)]
    for tree in journal.trees:
        if not target_allowed(tree.path, allowed):
            _refuse(journal, f"it names the directory {tree.path}, which no plan touches")
        for d in tree.dirs:
            if not _inside(d, tree.path) or _clean(d) is None:
                _refuse(journal, f"its directory {d} is outside {tree.path}")
        for f in tree.files:
            if not _inside(f.path, tree.path):
                _refuse(journal, f"its file {f.path} is outside {tree.path}")
    for record in records:
        if not target_allowed(record.path, allowed):
            _refuse(journal, f"it names {record.path}, which no plan touches")
        if record.mode is not None and (record.mode & SPECIAL_BITS or record.mode > 0o7777):
            _refuse(journal, f"it would give {record.path} mode {record.mode:04o} "
                    "(setuid/setgid/sticky)")
        if record.backup is not None and (
            _clean(record.backup) is None or not _inside(record.backup, f"{tx_dir}/files")
        ):
            _refuse(journal, f"the backup of {record.path} ({record.backup}) is outside {tx_dir}")
    for d in journal.created_dirs:
        if not (target_allowed(d, allowed) or ancestor_of_allowed(d, allowed)):
            _refuse(journal, f"it would remove the directory {d}, which no plan creates")


def _refuse(journal: Journal, why: str) -> None:
    raise UntrustedState(
        f"refusing the apply journal {JOURNAL_PATH} (transaction {journal.txid}): {why}",
        "nothing was written; someone may have planted it. Inspect it and "
        f"{BACKUP_ROOT}/ by hand, then remove it",
    )
