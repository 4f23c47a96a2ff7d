"""Day-two data: what renew, clients and the timer report, as models a screen can show."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class CertExpiry(BaseModel):
    """One certificate's life: when it ends and when dockwiz renews it."""

    role: Literal["ca", "server"]
    path: str
    not_after: datetime
    days_left: float
    renew_from: datetime
    """``not_after`` minus the renewal window: from then on ``renew`` acts."""
    due: bool


class RenewalStatus(BaseModel):
    """What ``renew`` decides: which certificates are due, and when the next one will be."""

    before_days: int
    server: CertExpiry | None = None
    ca: CertExpiry | None = None
    rollover_in_progress: bool = False
    previous_ca_not_after: datetime | None = None
    next_due: datetime | None = None

    @property
    def server_due(self) -> bool:
        return self.server is not None and self.server.due

    @property
    def ca_due(self) -> bool:
        return self.ca is not None and self.ca.due


class RenewalSchedule(BaseModel):
    """Whether renewal runs by itself: a systemd timer or a cron entry, and what they say."""

    kind: Literal["systemd-timer", "cron"] | None = None
    files: list[str] = Field(default_factory=list)
    enabled: bool = False
    detail: str = ""

    @property
    def scheduled(self) -> bool:
        return self.kind is not None and self.enabled


class ClientInfo(BaseModel):
    """One client bundle as ``clients list`` shows it."""

    name: str
    bundle: str
    fingerprint: str | None = None
    serial: str | None = None
    not_after: datetime | None = None
    days_left: float | None = None
    endpoint: str | None = None
    signed_by_current_ca: bool = False
    trusted_by_daemon: bool = False
    revoked: bool = False
    error: str | None = None
