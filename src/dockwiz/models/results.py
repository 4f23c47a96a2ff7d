"""What happened: an apply's steps and outcome, and what each verify probe saw.

Data only: printed by ``--json``, shown by the screens, compared by the tests. The code that
produces them lives in apply/ and verify/.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from dockwiz.docker_paths import JOURNAL_PATH

StepStatus = Literal["ok", "failed", "skipped", "rolled-back", "running"]

DetectedMode = Literal["unix", "ssh", "tcp", "tls", "mtls", "unknown"]
"""What a running daemon looks like from outside. Wider than ``models.intent.Mode`` (what an
admin can choose): a daemon found serving plain TCP, or not answering at all, is a state to
report, never a mode to offer."""


class ApplyStep(BaseModel):
    """One step as the admin sees it, live (``on_step``) and in the final report."""

    name: str
    status: StepStatus
    detail: str = ""
    seconds: float = 0.0


class ApplyResult(BaseModel):
    """What happened: success, or the failure, why (dockerd's words) and how it was undone."""

    ok: bool
    txid: str | None = None
    steps: list[ApplyStep] = Field(default_factory=list)
    error: str | None = None
    failed_step: str | None = None
    daemon_log: str | None = None
    rolled_back: bool = False
    recovery_ok: bool | None = None
    not_restored: list[str] = Field(default_factory=list)  # paths a rollback could not put back
    downtime_s: float | None = None
    client_bundle: str | None = None
    journal_path: str = JOURNAL_PATH


class Probe(BaseModel):
    """One thing verify tried, what it saw, and whether that is what a secured daemon does."""

    id: str
    title: str
    target: str
    expect: Literal["succeed", "fail"]
    outcome: Literal["succeeded", "failed", "skipped"]
    passed: bool
    saw: str
    cause: str | None = None
    fix: str | None = None
    failure_id: str | None = None
    warning: str | None = None
    cis: str | None = None
    duration_s: float = 0.0


class Handoff(BaseModel):
    """What to give the user of the daemon: the bundle, env.sh, and a docker context line."""

    bundle_dir: str
    endpoint: str
    env_sh: str
    context_create: str
    # Where the bundle is on THIS machine when the host root is not "/" (a lab): the host
    # path above is what the daemon's host and a copied bundle use, not a path you can open here.
    local_dir: str | None = None


class VerifyReport(BaseModel):
    host: str
    mode: DetectedMode
    detected_mode: DetectedMode
    expected_mode: str | None = None
    endpoints: list[str] = Field(default_factory=list)
    bundle: str | None = None
    probes: list[Probe] = Field(default_factory=list)
    passed: bool = False
    warnings: list[str] = Field(default_factory=list)
    handoff: Handoff | None = None
    summary: str = ""
    duration_s: float = 0.0

    @property
    def failed(self) -> list[Probe]:
        return [p for p in self.probes if not p.passed]
