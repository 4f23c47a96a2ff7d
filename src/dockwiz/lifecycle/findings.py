"""Day-two findings for inspect: renewal unscheduled, a CA roll-over left unfinished.

Built here, next to what decides renewal, so inspect and ``renew`` can never disagree about
when a certificate is due; findings.py only has to add them to the list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockwiz.errors import DockwizError

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.models.host_state import Finding, HostState
    from dockwiz.models.lifecycle import RenewalSchedule, RenewalStatus


def renew_fix(role: str) -> str:
    """The fix for findings.py's DW-CERT-EXPIRING / DW-CERT-EXPIRED (the 30-day finding, judged
    by pki.checks.expiry with RENEW_BEFORE_DAYS, the window ``renew`` uses too)."""
    if role == "server":
        return "dockwiz renew (same CA and names: client bundles keep working)"
    if role == "ca":
        return ("dockwiz renew --ca (a roll-over: old bundles keep working until "
                "'dockwiz renew --finish-ca-rollover')")
    if role == "client":
        return "a new bundle: dockwiz clients add NAME (then revoke the old one)"
    return "dockwiz renew"


def renewal_findings(status: RenewalStatus, schedule: RenewalSchedule) -> list[Finding]:
    """What inspect does not see yet: DW-RENEW-UNSCHEDULED (TLS in use, nothing renews it)
    and DW-RENEW-ROLLOVER (a CA roll-over waits to be finished). The expiry itself is
    findings.py's DW-CERT-EXPIRING, 30 days before (with :func:`renew_fix` as its fix)."""
    from dockwiz.models.host_state import Finding

    out: list[Finding] = []
    if status.rollover_in_progress:
        out.append(Finding(
            id="DW-RENEW-ROLLOVER", severity="low",
            title="A CA roll-over is under way: the daemon still trusts the old CA",
            why="Bundles from the old CA keep access until the roll-over is finished.",
            fix="once every client has its new bundle: dockwiz renew --finish-ca-rollover",
            evidence=(f"old CA expires {status.previous_ca_not_after:%Y-%m-%d}"
                      if status.previous_ca_not_after else None)))
    if status.server is not None and not schedule.scheduled:
        out.append(Finding(
            id="DW-RENEW-UNSCHEDULED", severity="low",
            title="Nothing renews the daemon's certificates automatically",
            why="A secured daemon breaks silently the day its certificate expires.",
            fix="dockwiz renew --install-timer (a daily systemd timer, or cron)",
            evidence=f"{schedule.detail}; server certificate expires "
                     f"{status.server.not_after:%Y-%m-%d}"))
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
