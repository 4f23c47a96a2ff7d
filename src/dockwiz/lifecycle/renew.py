"""Renewing before expiry: the server certificate (same CA, same SANs), or the CA itself.

A secured daemon breaks silently the day its server certificate expires. ``renew`` decides from
the certificates on disk whether anything is due (inside the renewal window, default 30 days),
and turns that into an ordinary Plan for ``apply_plan``: journal, backups, atomic writes, a
restart, a health wait over mTLS with a bundle the daemon accepts, rollback on any failure.

- **server**: a new certificate from the same CA with the same SANs (plus any added); every
  client bundle keeps working, because the CA they carry did not change.
- **CA** (``--ca``): a new CA means new client bundles. By default it is a roll-over: the daemon
  trusts old + new CA, every bundle is reissued from the new CA with a ca.pem holding both, and
  the server keeps its certificate (from the old CA, which old bundles still check it against),
  so nobody is cut off; ``--finish-ca-rollover`` then drops the old CA and gives the server a
  certificate from the new one. ``now=True`` does it all at once (old bundles stop at once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dockwiz.docker_paths import CLIENTS_DIR
from dockwiz.errors import DockwizError
from dockwiz.lifecycle.context import DayTwo, day_two
from dockwiz.models.lifecycle import CertExpiry, RenewalStatus
from dockwiz.pki.checks import RENEW_BEFORE_DAYS

if TYPE_CHECKING:
    from cryptography import x509

    from dockwiz.host import Host
    from dockwiz.models.plan import CertAction, Plan

DEFAULT_BEFORE_DAYS = RENEW_BEFORE_DAYS  # one window: inspect's DW-CERT-EXPIRING uses it too


def _expiry(role: str, path: str, cert: x509.Certificate, before: int,
            now: dt.datetime) -> CertExpiry:
    not_after = cert.not_valid_after_utc
    renew_from = not_after - dt.timedelta(days=before)
    return CertExpiry(role=role, path=path, not_after=not_after,
                      days_left=round((not_after - now).total_seconds() / 86400, 2),
                      renew_from=renew_from, due=now >= renew_from)


def renewal_status(host: Host, before: int = DEFAULT_BEFORE_DAYS, *,
                   now: dt.datetime | None = None, ctx: DayTwo | None = None) -> RenewalStatus:
    """Which certificates are due, and when the next renewal will be (None parts: absent)."""
    from dockwiz.docker_paths import CA_DIR
    from dockwiz.pki.lifecycle import load_previous_ca

    if before < 0:
        raise DockwizError(f"--before {before} is negative", "give a number of days, e.g. 30")
    ctx = ctx or day_two(host)
    now = now or dt.datetime.now(dt.UTC)
    status = RenewalStatus(before_days=before)
    if ctx.tls_on:
        status.server = _expiry("server", ctx.cert_path, ctx.server_cert(), before, now)
    try:
        status.ca = _expiry("ca", f"{CA_DIR}/ca.pem", ctx.ca_cert(), before, now)
    except DockwizError:
        status.ca = None
    previous = load_previous_ca(host)
    if previous is not None:
        status.rollover_in_progress = True
        status.previous_ca_not_after = previous.not_valid_after_utc
    dates = [c.renew_from for c in (status.server, status.ca) if c is not None]
    status.next_due = min(dates) if dates else None
    return status


def _server_action(ctx: DayTwo, add_sans: Sequence[str], days: int, why: str) -> CertAction:
    """The current certificate's SANs (and key type) plus the added ones, from the CA."""
    from dockwiz import pki
    from dockwiz.models.plan import CertAction

    cert = ctx.server_cert()
    have_dns, have_ip = pki.split_sans(pki.sans_of(cert))
    add_dns, add_ip = pki.split_sans(list(add_sans))
    dns, ips = pki.validate_sans([*have_dns, *add_dns], [*have_ip, *add_ip])
    return CertAction(role="server", action="renew", cert_path=ctx.cert_path,
                      key_path=ctx.key_path, dns_names=list(dict.fromkeys(dns)),
                      ip_addresses=list(dict.fromkeys(ips)),
                      key_type=pki.key_type_of(cert.public_key()), days=days, reason=why)


def _leaf_days(ctx: DayTwo, days: int, warnings: list[str]) -> int:
    """A leaf cannot outlive its CA: shorten it, and say why."""
    left = int((ctx.ca_cert().not_valid_after_utc - dt.datetime.now(dt.UTC)).days) - 1
    if left < 1:
        raise DockwizError("the CA has expired or expires today: no certificate it signs can "
                           "be valid", "renew the CA: dockwiz renew --ca --now")
    if days > left:
        warnings.append(f"the server certificate is issued for {left} days, not {days}: it "
                        f"cannot outlive the CA (renew the CA with 'dockwiz renew --ca')")
        return left
    return days


def plan_renew(host: Host, *, before: int = DEFAULT_BEFORE_DAYS, add_sans: Sequence[str] = (),
               force: bool = False, days: int | None = None) -> Plan:
    """The server certificate renewed when due (or ``force``, or new SANs); an empty plan (its
    notes say when the next renewal is due) when nothing is."""
    return renew_with_status(host, before=before, add_sans=add_sans, force=force, days=days)[1]


def renew_with_status(host: Host, *, before: int = DEFAULT_BEFORE_DAYS,
                      add_sans: Sequence[str] = (), force: bool = False,
                      days: int | None = None) -> tuple[RenewalStatus, Plan]:
    """:func:`plan_renew` and the :class:`RenewalStatus` it decided from (one inspect)."""
    from dockwiz import pki

    ctx = day_two(host)
    ctx.require_tls()
    ctx.check_ca_is_trusted()
    status = renewal_status(host, before, ctx=ctx)
    notes: list[str] = []
    warnings: list[str] = []
    if status.ca_due and status.ca is not None:
        warnings.append(f"the CA expires {status.ca.not_after:%Y-%m-%d}: renewing it means new "
                        "client bundles; run 'dockwiz renew --ca' (a roll-over keeps old "
                        "bundles working until 'dockwiz renew --finish-ca-rollover')")
    if not (force or add_sans or status.server_due):
        if status.next_due is not None:
            notes.append(f"nothing to renew; next renewal due {status.next_due:%Y-%m-%d}")
        return status, ctx.plan([], restart=False, why="", client_bundle=None, notes=notes,
                                warnings=warnings)
    if status.rollover_in_progress:
        raise DockwizError(
            "a CA roll-over is under way: a server certificate from the new CA would cut off "
            "bundles that do not have it yet, one from the old CA cannot be made (its key is "
            "gone)",
            "finish it first: dockwiz renew --finish-ca-rollover",
        )
    why = ("forced" if force else "new SANs" if add_sans and not status.server_due
           else f"expires {status.server.not_after:%Y-%m-%d}" if status.server else "")
    leaf_days = _leaf_days(ctx, days or pki.DEFAULT_LEAF_DAYS, warnings)
    server = _server_action(ctx, add_sans, leaf_days, why)
    ca = ctx.ca_action("reuse", trust_previous=False, reason="same CA: client bundles keep working")
    bundle = ctx.working_bundle() if ctx.mtls else None
    if ctx.mtls and bundle is None:
        raise DockwizError(
            "no client bundle the daemon accepts: the health wait after the restart could not "
            "prove the renewed daemon answers",
            "add one first: dockwiz clients add NAME",
        )
    names = ", ".join([*server.dns_names, *server.ip_addresses])
    notes.append(f"new server certificate for {names}, {leaf_days} days, same CA: every client "
                 "bundle keeps working")
    plan = ctx.plan([ca, server], restart=True, client_bundle=bundle, notes=notes,
                    warnings=warnings, why="dockerd reads its certificate only at start")
    return status, plan


def plan_renew_ca(host: Host, *, now: bool = False, days: int | None = None,
                  key_type: str | None = None) -> Plan:
    """A new CA and every known client bundle reissued from it, in one transaction.

    ``now=False`` (the default) is a roll-over: the daemon trusts old + new CA, bundles carry
    both, the server keeps its certificate; nobody is cut off until the admin finishes it.
    ``now=True`` replaces everything at once: copies of old bundles stop working."""
    from dockwiz import pki

    ctx = day_two(host)
    ctx.require_mtls()
    ctx.check_ca_is_trusted()
    names = ctx.client_names()
    if not names:
        raise DockwizError("no client bundle to reissue: nobody could reach the daemon with "
                           "the new CA", "add one first: dockwiz clients add NAME")
    warnings: list[str] = []
    certs = [ctx.ca_action("renew", trust_previous=not now, days=days, key_type=key_type,
                           reason="the old CA expires" if not now else "replaced at once")]
    if now:
        certs.append(_server_action(ctx, (), pki.DEFAULT_LEAF_DAYS, "from the new CA"))
    else:
        server = ctx.server_cert()
        warnings.append(f"finish the roll-over ('dockwiz renew --finish-ca-rollover') once every "
                        f"client has its new bundle, before the server certificate expires "
                        f"({server.not_valid_after_utc:%Y-%m-%d}) and before the old CA does "
                        f"({ctx.ca_cert().not_valid_after_utc:%Y-%m-%d})")
    certs += client_actions(ctx, names, "renew", "reissued from the new CA")
    notes = [f"new CA; reissued bundles: {', '.join(names)}",
             "the daemon trusts the old and the new CA until the roll-over is finished"
             if not now else "old bundles (and every copy of them) stop working now"]
    return ctx.plan(certs, restart=True, client_bundle=f"{CLIENTS_DIR}/{names[0]}", notes=notes,
                    warnings=warnings, why="dockerd reads its CA and certificate only at start")


def plan_finish_rollover(host: Host) -> Plan:
    """End a roll-over: the daemon trusts only the new CA and serves a certificate from it."""
    from dockwiz import pki
    from dockwiz.pki.lifecycle import load_previous_ca

    ctx = day_two(host)
    ctx.require_mtls()
    if load_previous_ca(host) is None:
        raise DockwizError("no CA roll-over is under way", "start one with 'dockwiz renew --ca'")
    fresh = ctx.bundles_signed_by([ctx.ca_cert()])
    bundle = fresh[0] if fresh else None
    if bundle is None:
        raise DockwizError("no client bundle from the new CA: nobody could reach the daemon "
                           "after the old CA is dropped", "reissue them: dockwiz renew --ca")
    certs = [ctx.ca_action("reuse", trust_previous=False, reason="the old CA is dropped"),
             _server_action(ctx, (), _leaf_days(ctx, pki.DEFAULT_LEAF_DAYS, []),
                            "from the new CA")]
    stale = [n for n in ctx.client_names() if f"{CLIENTS_DIR}/{n}" not in fresh]
    notes = ["the daemon stops trusting the old CA: bundles it signed stop working"]
    warnings = [f"bundles not from the new CA lose access: {', '.join(stale)}"] if stale else []
    return ctx.plan(certs, restart=True, client_bundle=bundle, notes=notes, warnings=warnings,
                    why="dockerd reads its CA and certificate only at start")


def client_actions(ctx: DayTwo, names: Sequence[str], action: str, why: str,
                   days: int | None = None, key_type: str | None = None) -> list[CertAction]:
    """Client CertActions for bundles that exist (endpoint and key type kept)."""
    from dockwiz import pki
    from dockwiz.models.plan import CertAction

    out: list[CertAction] = []
    for name in names:
        d = f"{CLIENTS_DIR}/{name}"
        kt = key_type
        if kt is None:
            try:
                cert = pki.load_certificate(pki.read_material(ctx.host, f"{d}/cert.pem")[0])
                kt = pki.key_type_of(cert.public_key())
            except (OSError, DockwizError):
                kt = pki.DEFAULT_KEY_TYPE
        out.append(CertAction(
            role="client", action=action, name=name,
            cert_path=f"{d}/cert.pem", key_path=f"{d}/key.pem",
            endpoint=pki.bundle_endpoint(ctx.host, name) or _default_endpoint(ctx),
            key_type=kt if kt in pki.KEY_TYPES else pki.DEFAULT_KEY_TYPE,
            days=days or pki.DEFAULT_LEAF_DAYS, reason=why))
    return out


def _default_endpoint(ctx: DayTwo) -> str:
    from dockwiz import pki

    try:
        return pki.default_endpoint(ctx.host, cert=ctx.server_cert())
    except DockwizError:
        return pki.normalize_endpoint("localhost")
