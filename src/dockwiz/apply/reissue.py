"""Day-two certificates at apply time: renew, CA roll-over, reissued and revoked bundles.

A day-two plan (built by :mod:`dockwiz.lifecycle`) is recognised by its CA CertAction naming the
daemon's trust file (``trust_path``). Unlike a day-one plan it names every client by
``CertAction.name`` and writes to the exact paths daemon.json names, because the daemon is
already running with them. It runs at the same point of the transaction as day one's
``issue_certificates``: after the journal backed up every tree written here, so a failure or a
signal puts every old byte back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockwiz.apply.certs import _key_type

if TYPE_CHECKING:
    from cryptography import x509

    from dockwiz.host import Host
    from dockwiz.models.plan import CertAction, Plan
    from dockwiz.pki import Issued


def is_day_two(plan: Plan) -> bool:
    return any(c.role == "ca" and c.trust_path for c in plan.certs)


def carry_out(host: Host, plan: Plan) -> str | None:
    """Issue and write what the plan's day-two CertActions ask for; return the bundle to dial
    the health wait with (the first one written, else the plan's)."""
    from dockwiz.pki import lifecycle

    ca_action = next(c for c in plan.certs if c.role == "ca" and c.trust_path)
    assert ca_action.trust_path is not None
    ca, previous = _the_ca(host, ca_action)
    trust = lifecycle.trust_pem(ca, previous)
    lifecycle.write_trust(host, ca_action.trust_path, trust)
    for action in plan.certs:
        if action.role == "server" and action.action != "reuse":
            _write_server(host, ca, action)
    first: str | None = None
    for action in plan.certs:
        if action.role != "client" or action.action == "reuse":
            continue
        name = action.name or plan.intent.client_name
        if action.action == "revoke":
            lifecycle.revoke_bundle(host, name)
            continue
        from dockwiz import pki

        issued = pki.issue_client(ca, name, key_type=_key_type(action.key_type), days=action.days)
        bundle = lifecycle.write_bundle(host, ca, issued, name, action.endpoint or
                                        "tcp://localhost:2376", trust,
                                        overwrite=action.action == "renew")
        first = first or bundle.dir
    return first or plan.client_bundle


def _the_ca(host: Host, action: CertAction) -> tuple[Issued, x509.Certificate | None]:
    """The CA to sign with (new for 'renew') and the previous one still trusted, if any."""
    from dockwiz import pki
    from dockwiz.pki import lifecycle

    if action.action == "renew":
        old = _current_ca_cert(host)
        ca = pki.issue_ca(common_name=_ca_name(), key_type=_key_type(action.key_type),
                          days=action.days)
        pki.write_ca(host, ca, overwrite=True)
        if action.trust_previous and old is not None:
            lifecycle.write_previous_ca(host, old)
            return ca, old
        lifecycle.drop_previous_ca(host)
        return ca, None
    ca = pki.load_ca(host)
    if action.trust_previous:
        return ca, lifecycle.load_previous_ca(host)
    lifecycle.drop_previous_ca(host)
    return ca, None


def _current_ca_cert(host: Host) -> x509.Certificate | None:
    from dockwiz import pki
    from dockwiz.docker_paths import CA_DIR

    try:
        data, _ = pki.read_material(host, f"{CA_DIR}/ca.pem")
    except OSError:
        return None
    return pki.load_certificate(data)


def _ca_name() -> str:
    """A new CA gets a dated name, so the old and the new one are told apart in any listing."""
    import datetime as dt

    return f"dockwiz CA {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}"


def _write_server(host: Host, ca: Issued, action: CertAction) -> None:
    from dockwiz import pki
    from dockwiz.pki.storage import PUBLIC_DIR_MODE, _check_leaf, _File, _write_all

    issued = pki.issue_server(ca, action.dns_names, action.ip_addresses,
                              key_type=_key_type(action.key_type), days=action.days)
    _check_leaf(ca, issued, "server")
    _write_all(host, [
        _File(action.cert_path, issued.cert_pem(), action.cert_mode, PUBLIC_DIR_MODE),
        _File(action.key_path, issued.key_pem(), action.key_mode, PUBLIC_DIR_MODE),
    ], True)
