"""Day-two findings for inspect: a certificate inside its renewal window, renewal unscheduled.

Built here, next to what decides renewal, so inspect and ``renew`` can never disagree about
when a certificate is due; findings.py only has to add them to the list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockwiz.errors import DockwizError

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.lifecycle.models import RenewalSchedule, RenewalStatus
    from dockwiz.models.host_state import Finding, HostState


def renewal_findings(status: RenewalStatus, schedule: RenewalSchedule) -> list[Finding]:
    """DW-RENEW-DUE (a certificate is inside the window, default 30 days before expiry),
    DW-RENEW-CA-DUE, DW-RENEW-ROLLOVER (a CA roll-over waits to be finished) and
    DW-RENEW-UNSCHEDULED (TLS in use, nothing renews it)."""
    from dockwiz.models.host_state import Finding

    out: list[Finding] = []
    if status.server is not None and status.server.due:
        out.append(Finding(
            id="DW-RENEW-DUE", severity="high" if status.server.days_left < 7 else "medium",
            title=f"The server certificate expires {status.server.not_after:%Y-%m-%d}",
            why="When it expires every TLS client is locked out at once.",
            fix="dockwiz renew (same CA and names: client bundles keep working)",
            evidence=f"{status.server.path}: {status.server.days_left:.0f} days left"))
    if status.ca is not None and status.ca.due:
        out.append(Finding(
            id="DW-RENEW-CA-DUE", severity="high",
            title=f"The CA expires {status.ca.not_after:%Y-%m-%d}",
            why="Every certificate it signed stops working with it; a new CA means new client "
                "bundles.",
            fix="dockwiz renew --ca (a roll-over: old bundles keep working until "
                "'dockwiz renew --finish-ca-rollover')",
            evidence=f"{status.ca.path}: {status.ca.days_left:.0f} days left"))
    if status.rollover_in_progress:
        out.append(Finding(
            id="DW-RENEW-ROLLOVER", severity="low",
            title="A CA roll-over is under way: the daemon still trusts the old CA",
            why="Bundles from the old CA keep access until the roll-over is finished.",
            fix="once every client has its new bundle: dockwiz renew --finish-ca-rollover"))
    if status.server is not None and not schedule.scheduled:
        out.append(Finding(
            id="DW-RENEW-UNSCHEDULED", severity="low",
            title="Nothing renews the daemon's certificates automatically",
            why="A secured daemon breaks silently the day its certificate expires.",
            fix="dockwiz renew --install-timer (a daily systemd timer, or cron)",
            evidence=schedule.detail))
    return out


def host_renewal_findings(host: Host, state: HostState) -> list[Finding]:
    """The findings for a host whose state inspect just built (no second inspect), never
    raising: inspect must not fail on them."""
    from dockwiz.lifecycle.context import DayTwo
    from dockwiz.lifecycle.renew import renewal_status
    from dockwiz.lifecycle.timer import renewal_schedule

    try:
        status = renewal_status(host, ctx=DayTwo(host, state))
        return renewal_findings(status, renewal_schedule(host))
    except (DockwizError, OSError):
        return []
