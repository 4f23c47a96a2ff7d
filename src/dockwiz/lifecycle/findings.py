"""Day-two findings for ``renew``'s own report, judged by findings.py (renewal_findings_for),
so inspect (which reads the schedule and the roll-over into the HostState) and ``renew`` can
never disagree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockwiz.findings import renew_fix, renewal_findings_for

__all__ = ["renew_fix", "renewal_findings"]

if TYPE_CHECKING:
    from dockwiz.models.host_state import Finding
    from dockwiz.models.lifecycle import RenewalSchedule, RenewalStatus


def renewal_findings(status: RenewalStatus, schedule: RenewalSchedule) -> list[Finding]:
    """The renewal findings for a status renew computed (findings.py judges; inspect gets the
    same ones from the HostState)."""
    return renewal_findings_for(status.rollover_in_progress,
                                status.server.not_after if status.server else None, schedule)
