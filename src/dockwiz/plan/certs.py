"""Which certificates the plan creates, reuses or renews (actions only: key material is made
at apply time), and existing material found where the tutorials put it."""

from __future__ import annotations

from typing import Literal

from dockwiz.host import Host
from dockwiz.models.host_state import CertInfo, HostState, MaterialChoice
from dockwiz.models.intent import TCP_MODES, Intent, Mode
from dockwiz.models.plan import CertAction
from dockwiz.plan.listeners import _ip_in
from dockwiz.plan.work import _tls_paths, _Work
from dockwiz.policy import (
    is_ip,
    is_wildcard,
    strip_brackets,
)


def _cert_at(state: HostState, path: str) -> CertInfo | None:
    for info in state.certs:
        if info.path == path and info.exists:
            return info
    return None


def _server_sans(work: _Work) -> tuple[list[str], list[str]]:
    """The names a client may dial: the admin's, else the listen address plus loopback."""
    intent = work.intent
    dns = list(dict.fromkeys(intent.sans_dns))
    ips = list(dict.fromkeys(strip_brackets(i) for i in intent.sans_ip))
    host = work.listen_host
    if not is_wildcard(host):
        if is_ip(host):
            ips = ips if _ip_in(host, ips) else [*ips, host]
        elif host.lower() not in {d.lower() for d in dns}:
            dns.append(host)
    for name in ("localhost",):
        if name not in dns:
            dns.append(name)
    for ip in ("127.0.0.1", "::1"):
        if not _ip_in(ip, ips):
            ips.append(ip)
    return dns, ips


def _found_choice(work: _Work) -> MaterialChoice | None:
    """What to do with the certificates the tutorials left (issue 14 §2), or None if none."""
    from dockwiz.pki.discover import material_choice

    found = work.state.found_material
    if not found:
        return None
    intent = work.intent
    choice = material_choice(found, work.listen_host, tls_dir=intent.tls_dir.rstrip("/"),
                             ca_dir=intent.ca_dir.rstrip("/"))
    if choice.action != "none" and not intent.reuse_certs:
        return MaterialChoice(
            action="fresh",
            reason="new certificates were asked for (--no-reuse): the certificates found stay "
            "where they are, and clients holding certificates from them need new bundles",
        )
    return None if choice.action == "none" else choice  # nothing worth a word in the preview


def _found_cert(work: _Work, path: str | None) -> CertInfo | None:
    return next((f.cert for f in work.state.found_material if f.path == path), None)


def _days_left(info: CertInfo | None) -> int:
    """Whole days until ``info`` expires, less one (the leaf must end before its CA)."""
    from datetime import UTC, datetime

    if info is None or info.not_after is None:
        return 1 << 30
    return max(1, (info.not_after - datetime.now(UTC)).days - 1)


def _plan_certs(work: _Work) -> tuple[list[CertAction], str | None]:
    """CA, server (and client for mtls): reuse what is valid, renew or create the rest.

    With no CA of dockwiz's own yet, a sound CA found where the tutorials put it is kept (its
    files moved into dockwiz's places first, see ``Plan.material_moves``): the server and
    client certificates are then signed by it, so clients it already signed keep working."""
    from dockwiz import pki

    intent = work.intent
    if intent.mode not in TCP_MODES:
        return [], None
    state = work.state
    paths = _tls_paths(work)
    ca_dir = intent.ca_dir.rstrip("/")
    ca_cert, ca_key = f"{ca_dir}/ca.pem", f"{ca_dir}/ca-key.pem"
    ca_info = _cert_at(state, ca_cert)
    choice = _found_choice(work) if ca_info is None or not ca_info.exists else None
    work.material = choice
    kept = choice is not None and choice.keeps_ca
    ca_problems = pki.check_ca_cert(ca_info) if ca_info else ["no CA yet"]
    if ca_info is not None and ca_info.key_matches is None and not ca_problems:
        ca_problems = [] if ca_info.key_mode is not None else [f"the CA key {ca_key} is missing"]
    ca_ok = intent.reuse_certs and not ca_problems
    if kept:
        assert choice is not None
        found_ca = _found_cert(work, choice.ca_cert)
        ca_action = CertAction(
            role="ca", action="reuse", cert_path=ca_cert, key_path=ca_key,
            key_type=(found_ca.key_type if found_ca else None) or intent.key_type,
            days=pki.DEFAULT_CA_DAYS,
            reason=f"the existing CA {choice.ca_cert} is kept (moved here before anything is "
            f"issued); the daemon's copy is {paths['ca']}",
        )
    else:
        ca_action = CertAction(
            role="ca",
            action="reuse" if ca_ok else "create",
            cert_path=ca_cert,
            key_path=ca_key,
            key_type=ca_info.key_type or intent.key_type if ca_ok and ca_info else intent.key_type,
            days=pki.DEFAULT_CA_DAYS,
            reason=(
                f"the CA in {ca_dir} is valid; the daemon's copy is {paths['ca']}"
                if ca_ok
                else f"{'; '.join(ca_problems)}: a new CA in {ca_dir} (0700, never read by the "
                f"daemon); its certificate is copied to {paths['ca']}"
            ),
        )
    actions: list[CertAction] = [ca_action]
    dns, ips = _server_sans(work)
    server_days, client_days = intent.server_days, intent.client_days
    if kept:  # a leaf may not outlive the CA that signs it: cap at the kept CA's last day
        assert choice is not None
        left = _days_left(_found_cert(work, choice.ca_cert))
        server_days, client_days = min(server_days, left), min(client_days, left)
    server = _cert_at(state, paths["cert"])
    problems = pki.check_server_cert(server, work.listen_host, ca_info) if server else []
    if kept:
        assert choice is not None
        server = _found_cert(work, choice.server_cert) if choice.action == "reuse" else None
        if server is not None:
            server_action = "reuse"
            why = f"the existing {choice.server_cert}, kept: {choice.reason}"
        else:
            server_action = "create"
            why = f"signed by the kept CA {choice.ca_cert}" + (
                f" ({'; '.join(choice.problems)})" if choice.problems else "")
    elif server is None:
        server_action, why = "create", "no server certificate yet"
    elif not ca_ok:
        server_action, why = "create", "signed by the new CA"
    elif problems:
        server_action, why = "renew", "; ".join(problems)
    else:
        server_action, why = "reuse", f"valid and covers {work.listen_host}"
    if server_action != "reuse" and server is not None and intent.reuse_certs is False:
        why = "replacing on request (--no-reuse)"
    actions.append(
        CertAction(
            role="server", action=server_action, cert_path=paths["cert"], key_path=paths["key"],
            dns_names=dns if server_action != "reuse" or server is None else server.dns_names,
            ip_addresses=ips if server_action != "reuse" or server is None else server.ip_addresses,
            key_type=intent.key_type, days=server_days, reason=why,
        )
    )
    bundle: str | None = None
    if intent.mode == Mode.MTLS:
        bundle = f"{intent.clients_dir.rstrip('/')}/{intent.client_name}"
        ccert = f"{bundle}/cert.pem"
        client = _cert_at(state, ccert)
        cproblems = pki.check_client_cert(client, ca_info) if client else ["no client yet"]
        reuse = ca_ok and not cproblems and not kept
        actions.append(
            CertAction(
                role="client", action="reuse" if reuse else "create", cert_path=ccert,
                key_path=f"{bundle}/key.pem", dns_names=[], ip_addresses=[],
                key_type=intent.key_type, days=client_days,
                reason=(
                    f"client {intent.client_name!r} is valid"
                    if reuse
                    else f"client {intent.client_name!r} signed by the kept CA (bundle: ca.pem, "
                    f"cert.pem, key.pem, env.sh in {bundle})"
                    if kept
                    else f"client {intent.client_name!r}: {'; '.join(cproblems)} "
                    f"(bundle: ca.pem, cert.pem, key.pem, env.sh in {bundle})"
                    if ca_ok
                    else f"client {intent.client_name!r} signed by the new CA (bundle: ca.pem, "
                    f"cert.pem, key.pem, env.sh in {bundle})"
                ),
            )
        )
    return actions, bundle


def observe_material(host: Host, state: HostState, intent: Intent) -> HostState:
    """A copy of ``state`` that also knows dockwiz's own CA, server and client files.

    inspect records the certificates the daemon's config points at; whether dockwiz's CA key
    and client bundle exist is needed to decide reuse versus create. Reads only.
    """
    from dockwiz import pki

    ca_dir = intent.ca_dir.rstrip("/")
    tls = intent.tls_dir.rstrip("/")
    bundle = f"{intent.clients_dir.rstrip('/')}/{intent.client_name}"
    wanted: list[tuple[str, str, Literal["ca", "server", "client"]]] = [
        (f"{ca_dir}/ca.pem", f"{ca_dir}/ca-key.pem", "ca"),
        (f"{tls}/server-cert.pem", f"{tls}/server-key.pem", "server"),
        (f"{bundle}/cert.pem", f"{bundle}/key.pem", "client"),
    ]
    known = {c.path for c in state.certs if c.key_path or c.role == "ca"}
    extra = [
        pki.cert_info(host, cert, key, role=role)
        for cert, key, role in wanted
        if cert not in known or role == "ca"
    ]
    others = [c for c in state.certs if c.path not in {e.path for e in extra}]
    return state.model_copy(update={"certs": [*others, *extra]})
