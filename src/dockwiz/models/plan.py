"""The exact change a plan makes: files with their before and after, certificates, service steps.

Data only, so it can be saved (``plan --save``), journaled, diffed and shown without importing
the planner; plan.py builds it, diffs.py renders it, apply/ carries it out.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from dockwiz.models.host_state import FileMove
from dockwiz.models.intent import Intent, Violation


class FileChange(BaseModel):
    """One file's before/after text. ``after=None`` deletes; ``before=None`` creates."""

    path: str
    before: str | None
    after: str | None
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    role: str
    reason: str
    mode_before: int | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after or (
            self.mode_before is not None and self.mode_before != self.mode
        )


class CertAction(BaseModel):
    """A certificate and key the PKI module makes (or keeps) at apply time."""

    role: Literal["ca", "server", "client"]
    action: Literal["create", "reuse", "renew", "revoke"]
    cert_path: str
    key_path: str
    cert_mode: int = 0o444
    key_mode: int = 0o400
    dns_names: list[str] = Field(default_factory=list)
    ip_addresses: list[str] = Field(default_factory=list)
    key_type: str = "ecdsa-p256"
    days: int = 365
    reason: str = ""
    name: str | None = None
    """A client's bundle name (several clients in one plan: renew --ca, revoke); None means
    the intent's ``client_name``."""
    endpoint: str | None = None
    """The endpoint a reissued client bundle keeps pointing at."""
    trust_path: str | None = None
    """For the CA of a day-two plan (renew, clients, revoke): the daemon's tlscacert, rewritten
    with the CA(s) it must trust."""
    trust_previous: bool = False
    """CA roll-over (``renew --ca``): the daemon's tlscacert and the bundles' ca.pem also hold
    the previous CA until ``renew --finish-ca-rollover``."""


class ServiceAction(BaseModel):
    """A service step, in order. ``stage`` is a file written right before this step.

    It exists for one case (DOMAIN §9): switching live-restore on by a reload *before* the
    restart a hosts/TLS change needs, so running containers survive it. The staged daemon.json is
    the current one plus ``live-restore: true``; the final files are written after it.
    """

    kind: Literal["daemon-reload", "reload", "restart"]
    reason: str
    stage: FileChange | None = None


class Endpoint(BaseModel):
    url: str
    security: Literal["socket", "plain", "tls", "mtls"]


class Plan(BaseModel):
    intent: Intent
    docker_version: str | None = None
    files: list[FileChange] = Field(default_factory=list)
    certs: list[CertAction] = Field(default_factory=list)
    actions: list[ServiceAction] = Field(default_factory=list)
    endpoints_before: list[Endpoint] = Field(default_factory=list)
    endpoints_after: list[Endpoint] = Field(default_factory=list)
    violations: list[Violation] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    client_bundle: str | None = None
    running_containers: int | None = None
    exec_start_before: list[str] | None = None
    exec_start_after: list[str] | None = None
    daemon_json_after: dict[str, Any] | None = None
    material_moves: list[FileMove] = Field(default_factory=list)
    """Existing certificate files moved or copied into dockwiz's places before any certificate
    is issued (issue 14 §2: the tutorials' CA is kept, its key leaves the daemon's directory)."""
    material_reason: str | None = None
    """Why the found material is reused or not (pki.discover.material_choice), for the preview."""
    material_action: str | None = None
    """material_choice's verdict: reuse, reuse-ca, fresh or none (None: nothing was judged)."""

    @property
    def is_empty(self) -> bool:
        """Nothing to write, issue or restart: applying would change nothing."""
        return (
            not self.material_moves
            and not any(f.changed for f in self.files)
            and all(c.action == "reuse" for c in self.certs)
            and not self.actions
        )
