"""Every transaction this host has seen, newest first, and the rollback stack they form.

The newest journal lives at JOURNAL_PATH; older ones are archived in their own backup
directory (``/var/lib/dockwiz/backups/<txid>/journal.json``) when a newer transaction starts.
``rollback`` undoes the newest transaction that changed something and is not undone yet, then
the one before it: a stack. A no-op never becomes a transaction (apply returns "nothing to
do"), so re-applying the mode a host already has can no longer push the real change out of
reach. Backups stay as long as their transaction is on the stack; older ones are pruned (they
hold old private keys).
"""

from __future__ import annotations

import shutil

from dockwiz.apply.journal import Journal, load_journal, load_journal_file
from dockwiz.docker_paths import BACKUP_ROOT
from dockwiz.errors import DockwizError
from dockwiz.host import Host

KEEP_BACKUPS = 5

OUTCOMES = {
    "done": "applied",
    "rolled-back": "rolled back",
    "rollback-failed": "rollback FAILED",
}


def journals(host: Host) -> list[Journal]:
    """Every recorded transaction, newest first (each one trust-checked as it is read)."""
    found: dict[str, Journal] = {}
    current = load_journal(host)
    root = host.writable(BACKUP_ROOT)
    if root.is_dir():
        for d in root.iterdir():
            if d.is_dir() and not d.is_symlink() and (d / "journal.json").exists():
                j = load_journal_file(host, f"{BACKUP_ROOT}/{d.name}/journal.json")
                if j is not None:
                    found[j.txid] = j
    if current is not None:
        found[current.txid] = current  # the live copy wins over an archived duplicate
    return sorted(found.values(), key=lambda j: (j.started, j.txid), reverse=True)


def outcome(journal: Journal) -> str:
    if journal.step == "rolled-back" and journal.error:
        return "failed, rolled back"
    return OUTCOMES.get(journal.step, f"interrupted at '{journal.step}'")


def rollback_target(host: Host) -> Journal:
    """The top of the stack: the newest transaction that is applied and not undone."""
    for journal in journals(host):
        if journal.step == "rolled-back":
            continue  # undone already (or a failed apply that was rolled back)
        if journal.step == "done":
            return journal
        if journal.step == "rollback-failed":
            raise DockwizError(f"the rollback of {journal.txid} failed; the host needs attention",
                               "run 'dockwiz recover' (it can be run again)")
        raise DockwizError(f"the last apply ({journal.txid}) was interrupted",
                           "run 'dockwiz recover' instead")
    raise DockwizError("nothing to roll back: every recorded apply is already undone, or none "
                       "was recorded", "see 'dockwiz history'")


def prune_backups(host: Host, keep: int = KEEP_BACKUPS) -> list[str]:
    """Remove old transactions' backups, but never one still on the stack or the newest."""
    root = host.writable(BACKUP_ROOT)
    if not root.is_dir():
        return []
    stacked = {j.txid for j in journals(host) if j.step == "done" or not j.finished}
    current = load_journal(host)
    if current is not None:
        stacked.add(current.txid)
    txids = sorted((p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink()),
                   reverse=True)
    doomed = [t for t in txids[keep:] if t not in stacked]
    for txid in doomed:
        shutil.rmtree(root / txid)
    return doomed
