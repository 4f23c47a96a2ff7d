"""Apply a Plan as a transaction that either finishes or puts every byte back.

The package's public face; the parts, one job each:

- ``transaction``: apply_plan, recover, rollback_last; the forward path;
- ``rollback``, ``restore``: undoing a transaction, every record verified, nothing hidden;
- ``journal``: what a transaction touches, its backups, how far it got (certbot's reverter);
- ``trust``: when the state directory and a journal may be believed at all;
- ``lock``: one transaction at a time; ``history``: the transactions as a rollback stack;
- ``freshness``: a saved plan must still be about this host (its "before", the policy);
- ``validate``: our own checks on the written files, then ``dockerd --validate``;
- ``health``: deadlines that know dockerd's sleeps, /_ping probes, the client files to dial with;
- ``certs``: issuing the certificates a plan asks for;
- ``steps``: progress, failures, signals and test-only faults.

Callers import from here (``from dockwiz.apply import apply_plan``); the names below are the
ones the commands, the TUI, the lab, the tests and the benchmarks use.
"""

from __future__ import annotations

from dockwiz.apply.certs import cert_trees, issue_certificates
from dockwiz.apply.health import (
    BASE_DEADLINE_S,
    client_files,
    daemon_file,
    deadline_for,
    health_deadline,
    probe_endpoint,
    wait_endpoints,
)
from dockwiz.apply.journal import (
    FileRecord,
    Journal,
    JournalEndpoint,
    JournalWriter,
    TreeRecord,
    load_journal,
    save_journal,
)
from dockwiz.apply.steps import FAULT_ENV, ApplyInterrupted, OnStep, StepFailed
from dockwiz.apply.transaction import apply_plan, pending_recovery, recover, rollback_last
from dockwiz.apply.validate import validate

__all__ = [
    "BASE_DEADLINE_S",
    "FAULT_ENV",
    "ApplyInterrupted",
    "FileRecord",
    "Journal",
    "JournalEndpoint",
    "JournalWriter",
    "OnStep",
    "StepFailed",
    "TreeRecord",
    "apply_plan",
    "cert_trees",
    "client_files",
    "daemon_file",
    "deadline_for",
    "health_deadline",
    "issue_certificates",
    "load_journal",
    "pending_recovery",
    "probe_endpoint",
    "recover",
    "rollback_last",
    "save_journal",
    "validate",
    "wait_endpoints",
]
