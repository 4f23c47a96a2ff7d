"""Compatibility name: the journal now lives in ``dockwiz.apply.journal``.

Kept so modules outside the apply package (the TUI, its tests) keep importing
``dockwiz.journal`` unchanged until the integrator switches them; nothing else lives here.
"""

from __future__ import annotations

from dockwiz.apply.history import prune_backups
from dockwiz.apply.journal import (
    FileRecord,
    Journal,
    JournalEndpoint,
    JournalWriter,
    Step,
    TreeRecord,
    load_journal,
    new_txid,
    save_journal,
)
from dockwiz.docker_paths import BACKUP_ROOT, JOURNAL_PATH, STATE_DIR

__all__ = [
    "BACKUP_ROOT", "JOURNAL_PATH", "STATE_DIR", "FileRecord", "Journal", "JournalEndpoint",
    "JournalWriter", "Step", "TreeRecord", "load_journal", "new_txid", "prune_backups",
    "save_journal",
]
