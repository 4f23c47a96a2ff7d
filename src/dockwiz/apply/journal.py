"""The apply journal: what a transaction will touch, where the backups are, how far it got.

The journal and every backup are on disk and fsync'd before the first byte of a target file
changes (certbot's reverter, DOMAIN §8). So whatever kills the wizard (an exception, a signal,
SIGKILL, a power cut) the next start finds a journal that is not ``done`` and can put every
file back byte for byte, with its mode and owner, from nothing but what is on disk.

Two kinds of targets are recorded. ``files`` are single paths the plan names (daemon.json, a
systemd drop-in, a cert). ``trees`` are directories the PKI writes into (the CA directory, the
daemon's TLS directory, the client bundles): their whole content is recorded, so a rollback
also removes files the PKI added that no plan line names. ``created_dirs`` are the topmost
directories that did not exist; removing them removes everything the apply created below.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from dockwiz.apply import trust
from dockwiz.docker_paths import BACKUP_ROOT, JOURNAL_PATH, STATE_DIR
from dockwiz.errors import DockwizError
from dockwiz.fsutil import atomic_write, ensure_dir, fsync_dir
from dockwiz.host import Host

MAX_TREE_FILES = 500  # a cert directory holds a handful; more means a wrong directory

Step = Literal[
    "journaled",
    "certs-written",
    "files-written",
    "validated",
    "restarted",
    "healthy",
    "done",
    "rolling-back",
    "rolled-back",
    "rollback-failed",
]
# 'rollback-failed' is deliberately not finished: the host is in an unknown state, so every
# start keeps pointing at 'dockwiz recover' (which can be run again) until it succeeds.
FINISHED_STEPS: frozenset[str] = frozenset({"done", "rolled-back"})


class FileRecord(BaseModel):
    """One target path as it was before the apply."""

    path: str
    existed: bool
    backup: str | None = None
    sha256: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


class TreeRecord(BaseModel):
    """A directory the PKI writes into, with every file that was in it before."""

    path: str
    existed: bool
    files: list[FileRecord] = Field(default_factory=list)
    dirs: list[str] = Field(default_factory=list)


class JournalEndpoint(BaseModel):
    url: str
    security: str


class Journal(BaseModel):
    """The on-disk record of one transaction; ``step`` says how far it got."""

    version: int = 1
    txid: str
    started: datetime
    updated: datetime
    step: Step = "journaled"
    plan_path: str
    plan_sha256: str
    files: list[FileRecord] = Field(default_factory=list)
    trees: list[TreeRecord] = Field(default_factory=list)
    created_dirs: list[str] = Field(default_factory=list)
    unit_changed: bool = False
    restarted: bool = False
    was_running: bool = True
    endpoints_before: list[JournalEndpoint] = Field(default_factory=list)
    endpoints_after: list[JournalEndpoint] = Field(default_factory=list)
    error: str | None = None
    rolled_back_at: datetime | None = None
    mode: str | None = None  # the plan's mode, for 'dockwiz history'
    archived: bool = False  # a newer transaction took JOURNAL_PATH; this one lives in its dir

    @property
    def finished(self) -> bool:
        return self.step in FINISHED_STEPS

    @property
    def backup_dir(self) -> str:
        return f"{BACKUP_ROOT}/{self.txid}"

    @property
    def path(self) -> str:
        """Where this journal is saved: JOURNAL_PATH while it is the newest transaction."""
        return f"{self.backup_dir}/journal.json" if self.archived else JOURNAL_PATH


def new_txid() -> str:
    """Sortable by time, unique across two wizards started in the same second."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ensure_state_dir(host: Host) -> Path:
    """/var/lib/dockwiz, created 0700 root:root, and refused if anyone but root could write it.

    Its content is an instruction to root (a rollback writes what the journal says), so it is
    only ever trusted when nobody else can have put it there (trust.py).
    """
    ensure_dir(host.writable(str(Path(STATE_DIR).parent)), mode=0o755)  # /var/lib: a normal dir
    owner = 0 if os.geteuid() == 0 else None
    local = host.writable(STATE_DIR)
    ensure_dir(local, mode=0o700, uid=owner, gid=owner)
    trust.check_state_dir(host)
    return local


def _ensure_state_dirs(host: Host, txid: str) -> None:
    ensure_state_dir(host)
    ensure_dir(host.writable(BACKUP_ROOT), mode=0o700)
    ensure_dir(host.writable(f"{BACKUP_ROOT}/{txid}/files"), mode=0o700)


def _topmost_missing(host: Host, host_dir: str) -> str | None:
    """The highest ancestor of ``host_dir`` that does not exist yet (None if it exists)."""
    cur = Path(host_dir)
    top: Path | None = None
    while not host.path(str(cur)).exists():
        top = cur
        if cur.parent == cur:
            break
        cur = cur.parent
    return str(top) if top is not None else None


def _host_rel(host: Host, local: Path) -> str:
    """The host path of ``local`` without following links (a link stays what it is)."""
    return "/" + local.relative_to(host.root).as_posix()


class JournalWriter:
    """Builds a journal, its backups, and keeps it current as the transaction advances."""

    def __init__(self, host: Host, txid: str, plan_json: str) -> None:
        self.host = host
        _ensure_state_dirs(host, txid)
        plan_path = f"{BACKUP_ROOT}/{txid}/plan.json"
        atomic_write(host.writable(plan_path), plan_json, mode=0o600)
        now = datetime.now(UTC)
        self.journal = Journal(
            txid=txid, started=now, updated=now, plan_path=plan_path,
            plan_sha256=sha256_of(plan_json.encode()),
        )
        self._counter = 0
        self._seen: set[str] = set()

    def _backup(self, host_path: str) -> FileRecord:
        local = self.host.path(host_path)
        if not local.exists() and not local.is_symlink():
            return FileRecord(path=host_path, existed=False)
        if local.is_symlink() or not local.is_file():
            raise DockwizError(
                f"{host_path} is not a regular file; dockwiz will not replace it",
                "move it aside or replace it with a plain file, then plan again",
            )
        data = local.read_bytes()
        st = local.stat()
        self._counter += 1
        backup = f"{self.journal.backup_dir}/files/{self._counter:04d}"
        atomic_write(self.host.writable(backup), data, mode=0o600)
        return FileRecord(
            path=host_path, existed=True, backup=backup, sha256=sha256_of(data),
            mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
        )

    def add_file(self, host_path: str) -> None:
        if host_path in self._seen:
            return
        self.host.writable(host_path)
        self._seen.add(host_path)
        self.journal.files.append(self._backup(host_path))
        self._note_parent(str(Path(host_path).parent))

    def add_tree(self, host_dir: str) -> None:
        """Record a directory's whole content (the PKI may add files the plan never names)."""
        self.host.writable(host_dir)
        if any(host_dir == t.path or host_dir.startswith(t.path + "/") for t in self.journal.trees):
            return
        local = self.host.path(host_dir)
        record = TreeRecord(path=host_dir, existed=local.is_dir())
        if record.existed:
            count = 0
            for dirpath, dirnames, filenames in os.walk(local):
                for d in dirnames:
                    record.dirs.append(_host_rel(self.host, Path(dirpath) / d))
                for name in filenames:
                    if (Path(dirpath) / name).is_symlink():
                        # the admin's link (e.g. to a cert elsewhere): kept, never followed
                        record.dirs.append(_host_rel(self.host, Path(dirpath) / name))
                        continue
                    count += 1
                    if count > MAX_TREE_FILES:
                        raise DockwizError(
                            f"{host_dir} holds more than {MAX_TREE_FILES} files",
                            "point the certificate directories at dedicated directories",
                        )
                    file_path = _host_rel(self.host, Path(dirpath) / name)
                    self._seen.add(file_path)
                    record.files.append(self._backup(file_path))
        self.journal.trees.append(record)
        self._note_parent(host_dir)

    def _note_parent(self, host_dir: str) -> None:
        top = _topmost_missing(self.host, host_dir)
        if top is not None and top not in self.journal.created_dirs:
            self.journal.created_dirs.append(top)

    def commit(self) -> None:
        """Make the backups and the journal durable: after this, targets may change."""
        # what a recover would refuse to act on, an apply must refuse to start
        trust.check_records(self.journal, [t.path for t in self.journal.trees])
        files_dir = self.host.writable(f"{self.journal.backup_dir}/files")
        fsync_dir(files_dir)
        _archive_current(self.host)
        save_journal(self.host, self.journal)


def save_journal(host: Host, journal: Journal) -> None:
    journal.updated = datetime.now(UTC)
    ensure_state_dir(host)
    atomic_write(host.writable(journal.path), journal.model_dump_json(indent=2), mode=0o600)


def _archive_current(host: Host) -> None:
    """Keep the previous transaction's journal in its own backup dir before a new one takes
    JOURNAL_PATH: it stays on the rollback stack ('dockwiz history', 'dockwiz rollback')."""
    previous = load_journal(host)
    if previous is None:
        return
    previous.archived = True
    if host.writable(previous.backup_dir).is_dir():
        save_journal(host, previous)


def load_journal(host: Host) -> Journal | None:
    """The newest transaction's journal, or None."""
    return load_journal_file(host, JOURNAL_PATH)


def load_journal_file(host: Host, host_path: str) -> Journal | None:
    """A journal, or None if there is none.

    A damaged journal is an error, not a shrug; so is one that someone but root could have
    written, or one naming a path no plan touches (trust.py): nothing is acted on then.
    """
    local = host.writable(host_path)
    if not local.exists() and not local.is_symlink():
        return None
    trust.check_journal_file(host, host_path)
    try:
        journal = Journal.model_validate_json(local.read_bytes())
    except ValueError as exc:
        raise DockwizError(
            f"the apply journal {host_path} is damaged: {exc}",
            f"inspect it and the backups under {BACKUP_ROOT}/ by hand, then remove it",
        ) from exc
    trust.check_records(journal, [t.path for t in journal.trees])
    return journal
