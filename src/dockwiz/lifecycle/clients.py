"""Client bundles on day two: list them, add one, revoke one.

Revoking is honest about dockerd: it checks no revocation list, so the only way to lock out a
certificate signed by the CA is to stop trusting that CA. ``plan_revoke`` therefore plans a
new CA, a new server certificate and a new bundle for every remaining client, plus moving the
revoked bundle out of the clients directory, all as ONE transaction (rollback puts every old
byte back, so an interrupted revoke leaves every old bundle working). The preview says exactly
who keeps access.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from dockwiz.docker_paths import CLIENTS_DIR
from dockwiz.errors import DockwizError
from dockwiz.lifecycle.context import day_two
from dockwiz.lifecycle.renew import client_actions
from dockwiz.models.lifecycle import ClientInfo

if TYPE_CHECKING:
    from cryptography import x509

    from dockwiz.host import Host
    from dockwiz.models.plan import Plan


def _info(host: Host, name: str, directory: str, ca: x509.Certificate | None,
          trusted: list[x509.Certificate], *, revoked: bool) -> ClientInfo:
    from cryptography.hazmat.primitives import hashes

    from dockwiz import pki

    info = ClientInfo(name=name, bundle=directory, revoked=revoked)
    try:
        cert = pki.load_certificate(pki.read_material(host, f"{directory}/cert.pem")[0])
    except (OSError, DockwizError) as exc:
        info.error = str(exc)
        return info
    info.fingerprint = cert.fingerprint(hashes.SHA256()).hex(":")
    info.serial = f"{cert.serial_number:x}"
    info.not_after = cert.not_valid_after_utc
    info.days_left = round((info.not_after - dt.datetime.now(dt.UTC)).total_seconds() / 86400, 1)
    info.endpoint = None if revoked else pki.bundle_endpoint(host, name)
    info.signed_by_current_ca = ca is not None and pki.verify_issued_by(cert, ca) is None
    info.trusted_by_daemon = any(pki.verify_issued_by(cert, c) is None for c in trusted)
    return info


def list_clients(host: Host, *, include_revoked: bool = True) -> list[ClientInfo]:
    """Every bundle in the clients directory (and the revoked ones kept aside)."""
    from dockwiz import pki
    from dockwiz.pki.lifecycle import revoked_dir, revoked_names

    ctx = day_two(host)
    try:
        ca: x509.Certificate | None = ctx.ca_cert()
    except DockwizError:
        ca = None
    trusted = ctx.trusted()
    out = [_info(host, n, f"{CLIENTS_DIR}/{n}", ca, trusted, revoked=False)
           for n in pki.list_clients(host)]
    if include_revoked:
        out += [_info(host, n, revoked_dir(n), ca, trusted, revoked=True)
                for n in revoked_names(host)]
    return out


def plan_add_client(host: Host, name: str, *, days: int | None = None,
                    key_type: str | None = None, endpoint: str | None = None) -> Plan:
    """A new bundle from the CA the daemon trusts; no restart (the CA did not change). The
    apply's health wait dials the daemon with the new bundle: it proves it gets in."""
    from dockwiz import pki
    from dockwiz.pki.lifecycle import load_previous_ca

    pki.validate_client_name(name)
    ctx = day_two(host)
    ctx.require_mtls()
    ctx.check_ca_is_trusted()
    if pki.client_exists(host, name):
        raise DockwizError(f"a client bundle {name!r} exists already",
                           "choose another name, or revoke it first: dockwiz clients revoke NAME")
    if key_type is not None and key_type not in pki.KEY_TYPES:
        pki.generate_key(key_type)  # raises the error listing the valid types
    [action] = client_actions(ctx, [name], "create", "a new client", days=days,
                              key_type=key_type or pki.DEFAULT_KEY_TYPE)
    if endpoint:
        action.endpoint = pki.normalize_endpoint(endpoint)
    rollover = load_previous_ca(host) is not None
    ca = ctx.ca_action("reuse", trust_previous=rollover, reason="the same CA")
    notes = [f"new bundle {CLIENTS_DIR}/{name} for {action.endpoint}; no restart: the daemon "
             "already trusts this CA"]
    return ctx.plan([ca, action], restart=False, why="", client_bundle=None, notes=notes)


def plan_revoke(host: Host, name: str) -> Plan:
    """Revoke ``name``: new CA, new server certificate, new bundles for everyone else."""
    from dockwiz import pki

    pki.validate_client_name(name)
    ctx = day_two(host)
    ctx.require_mtls()
    ctx.check_ca_is_trusted()
    names = ctx.client_names()
    if name not in names:
        raise DockwizError(f"no client bundle {name!r}", "see 'dockwiz clients list'")
    keep = [n for n in names if n != name]
    if not keep:
        raise DockwizError(
            f"{name!r} is the only client: revoking it leaves nobody who can reach the daemon "
            "over TCP, and nothing to prove the new daemon answers",
            "add the client who keeps access first (dockwiz clients add NAME), or leave TCP: "
            "dockwiz apply --mode unix",
        )
    from dockwiz.lifecycle.renew import _server_action

    certs = [ctx.ca_action("renew", trust_previous=False, reason=f"{name!r} was signed by the "
                           "old CA and dockerd checks no revocation list"),
             _server_action(ctx, (), pki.DEFAULT_LEAF_DAYS, "from the new CA")]
    certs += client_actions(ctx, keep, "renew", "reissued from the new CA")
    [gone] = client_actions(ctx, [name], "revoke", "revoked")
    from dockwiz.pki.lifecycle import revoked_dir

    gone.cert_path, gone.key_path = f"{revoked_dir(name)}/cert.pem", f"{revoked_dir(name)}/key.pem"
    certs.append(gone)
    notes = [f"keeps access (new bundles): {', '.join(keep)}",
             f"loses access: {name} (its bundle moves to {revoked_dir(name)})",
             "any copy of an old bundle stops working: the daemon trusts only the new CA"]
    # the bundle that proves the new daemon answers (rewritten by the apply, before the wait)
    return ctx.plan(certs, restart=True, client_bundle=f"{CLIENTS_DIR}/{keep[0]}", notes=notes,
                    why="dockerd reads its CA and certificate only at start")


def keeps_access(plan: Plan) -> list[str]:
    """Who keeps access after a day-two plan (the names of the bundles it writes)."""
    return [c.name or "" for c in plan.certs
            if c.role == "client" and c.action in ("create", "renew")]


def revoked_by(plan: Plan) -> list[str]:
    return [c.name or "" for c in plan.certs if c.role == "client" and c.action == "revoke"]


def context_commands(plan: Plan) -> list[str]:
    """The hand-off: for every bundle a plan rewrote, the ``docker context update`` a client
    that copied it into a docker context must run (the context store keeps its own copy), and
    the export/import pair for a context on another machine."""
    from dockwiz import pki
    from dockwiz.pki.lifecycle import context_update_command

    out: list[str] = []
    for c in plan.certs:
        if c.role != "client" or c.action not in ("create", "renew") or not c.name:
            continue
        d = pki.client_dir(c.name)
        endpoint = c.endpoint or "tcp://localhost:2376"
        if c.action == "create":
            out.append(pki.client_bundle_text(c.name, d, endpoint)[1])
        else:
            out.append(context_update_command(c.name, d, endpoint))
        out.append(f"# on another machine: copy {d}/ there, then run the same command with its "
                   f"path; or: docker context export {c.name} (here) + docker context import "
                   f"{c.name} {c.name}.dockercontext (there)")
    return out
