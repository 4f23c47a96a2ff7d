"""HostState: what is on a Docker host now, as observed by inspect (never changed by it).

These models cross every boundary (CLI ``--json``, the plan, the TUI, the journal), so they are
plain data: host paths as the daemon sees them, modes as ints, times as aware datetimes.
Anything inspect could not read is recorded in ``unreadable`` with the reason, never guessed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from dockwiz.models.lifecycle import RenewalSchedule

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


class Finding(BaseModel):
    """One security or correctness observation, with why it matters and how to fix it."""

    id: str
    severity: Severity
    title: str
    why: str
    fix: str
    cis: str | None = None
    evidence: str | None = None


class JsonProblem(BaseModel):
    """A strict-JSON error at a 1-based line and column."""

    line: int
    col: int
    message: str


class DaemonJsonState(BaseModel):
    path: str
    exists: bool
    readable: bool = True
    text: str | None = None
    data: dict[str, Any] | None = None
    error: JsonProblem | None = None
    has_comments: bool = False
    has_trailing_commas: bool = False
    repairable: bool = False
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


class DropIn(BaseModel):
    path: str
    text: str
    sets_exec_start: bool = False


class UnitState(BaseModel):
    """docker.service: the packaged fragment, its drop-ins, and the ExecStart that wins."""

    path: str | None = None
    exists: bool = False
    dropins: list[DropIn] = Field(default_factory=list)
    exec_start: list[str] | None = None
    exec_start_source: str | None = None
    problems: list[str] = Field(default_factory=list)
    mode: int | None = None


class SocketUnitState(BaseModel):
    path: str | None = None
    exists: bool = False
    listen_stream: list[str] = Field(default_factory=list)
    socket_mode: str | None = None
    socket_user: str | None = None
    socket_group: str | None = None


class SocketFile(BaseModel):
    path: str
    exists: bool
    is_socket: bool = False
    mode: int | None = None
    owner: str | None = None
    group: str | None = None


class Listener(BaseModel):
    """An endpoint the daemon is configured with, or was seen listening on."""

    kind: Literal["unix", "tcp", "fd"]
    address: str
    host: str | None = None
    port: int | None = None
    loopback: bool = True
    source: Literal["flag", "daemon.json", "docker.socket", "observed", "default"] = "observed"
    listening: bool | None = None
    origin: str | None = None  # the file and line (or key) that configures it (effective.py)


class DaemonProcess(BaseModel):
    pid: int
    exe: str | None = None
    argv: list[str] = Field(default_factory=list)
    uid: int | None = None
    user: str | None = None
    rootless: bool = False


class TlsSettings(BaseModel):
    """The daemon's effective TLS settings after merging flags and daemon.json (§2)."""

    tls: bool | None = None
    tlsverify: bool | None = None
    tlscacert: str | None = None
    tlscert: str | None = None
    tlskey: str | None = None

    @property
    def enabled(self) -> bool:
        """``--tlsverify`` given at all (even false) turns TLS on; so does ``tls: true``."""
        return bool(self.tls) or self.tlsverify is not None

    @property
    def verifies_clients(self) -> bool:
        """``tls: true`` with tlsverify unset means verification ON (dockerd default)."""
        if self.tlsverify is not None:
            return self.tlsverify
        return bool(self.tls)


class CertInfo(BaseModel):
    path: str
    role: Literal["ca", "server", "client", "unknown"] = "unknown"
    exists: bool = True
    readable: bool = True
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    subject: str | None = None
    issuer: str | None = None
    dns_names: list[str] = Field(default_factory=list)
    ip_addresses: list[str] = Field(default_factory=list)
    not_before: datetime | None = None
    not_after: datetime | None = None
    key_type: str | None = None
    is_ca: bool = False
    ext_key_usage: list[str] = Field(default_factory=list)
    self_signed: bool = False
    key_path: str | None = None
    key_mode: int | None = None
    key_matches: bool | None = None
    error: str | None = None


class FoundMaterial(BaseModel):
    """A certificate or key file found where tutorials leave them, named by daemon.json or not.

    ``kind`` says what the file is; for a certificate ``cert`` holds what it says (SANs, expiry,
    modes) and ``signed_by`` the found CA certificate that issued it; for a key ``key_of`` is the
    found certificate it belongs to (and ``key_of_role`` that certificate's role). ``note`` says
    why a file was skipped (a FIFO, a device, too large, a link out of the root) or not read."""

    path: str
    kind: Literal["ca", "server", "client", "key", "other", "skipped"]
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    cert: CertInfo | None = None
    signed_by: str | None = None
    key_path: str | None = None
    key_type: str | None = None
    key_encrypted: bool = False
    key_of: str | None = None
    key_of_role: Literal["ca", "server", "client", "unknown"] | None = None
    note: str | None = None


class FileMove(BaseModel):
    """One file the plan moves or copies as part of a transaction (mode is the final mode)."""

    source: str
    destination: str
    mode: int
    dir_mode: int = 0o755
    keep_source: bool = False
    reason: str = ""


class MaterialChoice(BaseModel):
    """What the plan does with found material: reuse it (moving the CA key out of the daemon's
    directory) or start fresh; ``reason`` is the sentence the preview shows."""

    action: Literal["reuse", "reuse-ca", "fresh", "none"]
    reason: str
    ca_cert: str | None = None
    ca_key: str | None = None
    server_cert: str | None = None
    server_key: str | None = None
    moves: list[FileMove] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)

    @property
    def keeps_ca(self) -> bool:
        return self.action in ("reuse", "reuse-ca")


class DockerVersion(BaseModel):
    binary: str | None = None
    api_server: str | None = None
    api_version: str | None = None

    @property
    def effective(self) -> str | None:
        return self.api_server or self.binary

    @property
    def major(self) -> int | None:
        return parse_major(self.effective)


# ASCII digits only: str.isdigit() also accepts '²⁷', which int() then refuses with a traceback.
# At most 6 digits: no real major is longer, and int() of thousands of digits raises.
_MAJOR = re.compile(r"v?([0-9]{1,6})(?:[.+~-].*)?", re.DOTALL)


def parse_major(version: str | None) -> int | None:
    """'20.10.24+dfsg1' -> 20, 'v27' -> 27; None, junk or non-ASCII digits -> None."""
    if not version:
        return None
    match = _MAJOR.fullmatch(version.strip())
    return int(match.group(1)) if match else None


class HostState(BaseModel):
    """Everything inspect observed. ``unreadable`` lists what it could not see, and why."""

    root: str
    is_root: bool
    docker_installed: bool
    dockerd_path: str | None = None
    version: DockerVersion = Field(default_factory=DockerVersion)
    daemon_running: bool = False
    process: DaemonProcess | None = None
    daemon_json: DaemonJsonState
    unit: UnitState = Field(default_factory=UnitState)
    socket_unit: SocketUnitState = Field(default_factory=SocketUnitState)
    docker_socket: SocketFile | None = None
    docker_group_members: list[str] | None = None
    configured_hosts: list[Listener] = Field(default_factory=list)
    listeners: list[Listener] = Field(default_factory=list)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    flag_options: dict[str, Any] = Field(default_factory=dict)
    hosts_conflict: str | None = None
    rootless: bool = False
    userns_remap: str | None = None
    live_restore: bool = False
    running_containers: int | None = None
    daemon_warnings: list[str] = Field(default_factory=list)
    """The daemon's own ``GET /info`` Warnings, verbatim (empty when it was not asked)."""
    certs: list[CertInfo] = Field(default_factory=list)
    found_material: list[FoundMaterial] = Field(default_factory=list)
    renewal: RenewalSchedule | None = None
    ca_rollover: bool = False
    unreadable: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    daemon_error: str | None = None
