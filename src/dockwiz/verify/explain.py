"""Why a probe saw what it saw, and what fixes it: the DOMAIN §7 failure ids and their texts.

Every failed probe names one id of :data:`FAILURES`, a cause in the words of what was seen, and
a fix the admin can act on. The texts live here, apart from the probes, so one failure reads
the same whichever probe (our TLS client, the docker CLI, the apply health wait) ran into it.
"""

from __future__ import annotations

from dockwiz.addresses import is_ip
from dockwiz.dockerapi import ProbeError, ProbeErrorKind, ProbeOutcome
from dockwiz.pki import CertFacts, cert_facts
from dockwiz.verify.context import Ctx, Target, Why, cert_response
from dockwiz.verify.sources import removal, sources_for

FAILURES: dict[str, str] = {
    "missing-ip-san": "server certificate lacks the IP SAN clients dial (DOMAIN §7.1, moby#8943)",
    "legacy-cn": "server certificate relies on the legacy Common Name (DOMAIN §7.2)",
    "name-not-in-san": "server certificate does not name the host clients dial (DOMAIN §6)",
    "bad-certificate": "the daemon rejected the client certificate (DOMAIN §7.3, moby#17314)",
    "wrong-ca": "client and daemon do not trust the same CA (DOMAIN §7.3)",
    "plain-http-to-tls": "plain HTTP sent to the TLS port (DOMAIN §7.8, moby#31888)",
    "tls-verify-env-misuse": "DOCKER_TLS_VERIFY misunderstood (DOMAIN §7.7, moby#22411)",
    "tlsverify-no-ca": "tlsverify without tlscacert: dockerd uses root's ~/.docker/ca.pem (§2)",
    "no-client-auth": "TLS without client verification: anyone who reaches the port is root",
    "plain-tcp": "the API is served over plain TCP with no authentication (DOMAIN §1)",
    "tcp-listener-left": "a TCP listener is left although the mode is unix-only",
    "expired-cert": "a certificate is expired or not yet valid",
    "daemon-down": "the daemon does not answer",
    "not-listening": "nothing listens on the configured endpoint",
    "bundle-missing": "the client bundle is missing or incomplete",
    "socket-permissions": "docker.sock is more open than root:docker 0660 (CIS 3.15/3.16)",
    "mode-mismatch": "the daemon runs in a different mode than expected",
    "tls-files": "a TLS file the daemon is configured with is missing",
}


FAILURE_OF_KIND: dict[ProbeErrorKind, str] = {
    ProbeErrorKind.REFUSED: "not-listening",
    ProbeErrorKind.TIMEOUT: "not-listening",
    ProbeErrorKind.TLS_BAD_CERTIFICATE: "bad-certificate",
    ProbeErrorKind.TLS_CERTIFICATE_REQUIRED: "bad-certificate",
    ProbeErrorKind.TLS_UNKNOWN_CA: "wrong-ca",
    ProbeErrorKind.TLS_HOSTNAME_MISMATCH: "missing-ip-san",  # or legacy-cn, once the cert is seen
    ProbeErrorKind.TLS_EXPIRED: "expired-cert",
    ProbeErrorKind.NOT_TLS: "plain-tcp",
    ProbeErrorKind.MALFORMED_HTTP: "plain-http-to-tls",
    ProbeErrorKind.HTTP_ERROR: "daemon-down",
}


def failure_for(outcome: ProbeOutcome) -> str | None:
    """The DOMAIN §7 id for a failed ``ping_endpoint`` (for the apply health wait and the TUI);
    a name mismatch is refined by :func:`explain_name_mismatch` where the cert is at hand."""
    if outcome.ok or outcome.kind is None:
        return None
    return FAILURE_OF_KIND.get(outcome.kind)


def _reissue_server_fix(dialled: str) -> str:
    return (
        f"re-issue the server certificate with a SAN for {dialled} and every other name or IP "
        f"clients dial (dockwiz certs renew --san {dialled}), then restart the daemon"
    )


def explain_name_mismatch(dialled: str, facts: CertFacts | None) -> Why:
    """Which of DOMAIN §7.1/§7.2 a name mismatch is, from the certificate the server sent."""
    if facts is not None and not facts.has_san:
        return Why(
            "legacy-cn",
            f"the server certificate has no subjectAltName, only the legacy Common Name "
            f"{facts.subject_cn!r}; Go clients such as the docker CLI ignore the CN "
            "('x509: certificate relies on legacy Common Name field')",
            _reissue_server_fix(dialled),
        )
    listed = facts.names() if facts is not None else "unknown"
    if is_ip(dialled):
        return Why(
            "missing-ip-san",
            f"the server certificate has no IP SAN for {dialled} (it lists: {listed}); clients "
            f"dialling {dialled} fail with 'x509: cannot validate certificate for {dialled} "
            "because it doesn't contain any IP SANs'",
            _reissue_server_fix(dialled),
        )
    return Why(
        "name-not-in-san",
        f"the server certificate is not valid for {dialled} (it lists: {listed})",
        _reissue_server_fix(dialled),
    )


# -- explanations for TLS and connection failures --------------------------------------------
def explain_tls_failure(
    exc: ProbeError, ctx: Ctx, target: Target, *, sent_client_cert: bool
) -> Why:
    """Cause and fix for a legitimate client's failed TLS call."""
    kind = exc.kind
    where = target.url
    if kind is ProbeErrorKind.REFUSED:
        return refused_why(ctx, where)
    if kind is ProbeErrorKind.TIMEOUT:
        return Why(
            "not-listening",
            f"{where} did not answer in {ctx.timeout:.0f} s: a firewall drops the traffic or the "
            "daemon hangs",
            "check the daemon's log and any firewall between client and daemon",
        )
    if kind is ProbeErrorKind.TLS_HOSTNAME_MISMATCH:
        der = ctx.net(lambda: cert_response(target))
        return explain_name_mismatch(target.dial, cert_facts(der.peer_cert or b""))
    if kind is ProbeErrorKind.TLS_UNKNOWN_CA:
        return Why(
            "wrong-ca",
            f"the daemon's certificate is not signed by the CA in the client bundle "
            f"({ctx.bundle_shown}/ca.pem): the bundle and the daemon come from different CAs",
            "issue the daemon's certificate and the client bundle from the same CA "
            "(dockwiz certs server / dockwiz certs client), or give clients the daemon's CA",
        )
    if kind is ProbeErrorKind.TLS_EXPIRED:
        return Why(
            "expired-cert",
            f"the daemon's certificate is expired or not yet valid ({exc.message})",
            "renew it (dockwiz certs renew) and restart the daemon; check both clocks",
        )
    if kind in (ProbeErrorKind.TLS_BAD_CERTIFICATE, ProbeErrorKind.TLS_CERTIFICATE_REQUIRED):
        return rejected_client_why(ctx, sent_client_cert)
    if kind is ProbeErrorKind.NOT_TLS:
        origin, drop = listener_origin(ctx, target.dial, target.port)
        return Why(
            "plain-tcp",
            f"{where} answers in plain text, not TLS: the daemon serves this port without TLS; "
            f"{origin}",
            "configure TLS with client verification (dockwiz plan --mode mtls) or remove the "
            f"TCP listener: {drop}",
        )
    return Why("daemon-down", f"the call failed: {exc.message}", "check the daemon's log")


def listener_origin(ctx: Ctx, dial: str | None, port: int | None) -> tuple[str, str]:
    """(where a TCP listener comes from, the exact fix that removes it), so that no text sends
    the admin to a command that does not remove it (issue 12 §1). Without ``port``: every TCP
    listener the daemon is asked for."""
    found = ctx.tcp_sources
    if dial is not None and port is not None:
        found = sources_for(found, dial, port)
    return removal(found, ctx.state, port, ctx.mode if ctx.mode in ("unix", "ssh") else "unix")


def tcp_left_why(ctx: Ctx, seen: str, dial: str | None, port: int | None) -> Why:
    """unix/ssh mode, and a TCP listener is still there (``seen`` says what was found)."""
    origin, fix = listener_origin(ctx, dial, port)
    return Why("tcp-listener-left", f"{seen}; {origin}", fix)


def refused_why(ctx: Ctx, where: str) -> Why:
    state = ctx.state
    if state is not None and not state.daemon_running:
        reason = f" ({state.daemon_error})" if state.daemon_error else ""
        return Why(
            "daemon-down",
            f"the daemon is not running{reason}",
            "start it and read why it stopped: journalctl -u docker (or the lab's log)",
        )
    return Why(
        "not-listening",
        f"nothing listens on {where}: the running daemon was started without this endpoint "
        "(a restart is pending, or the -H flag and daemon.json disagree)",
        "restart the daemon so it reads its configuration; check 'dockwiz inspect'",
    )


def rejected_client_why(ctx: Ctx, sent_client_cert: bool) -> Why:
    tls = ctx.state.tls if ctx.state is not None else None
    if tls is not None and tls.verifies_clients and not tls.tlscacert:
        return tlsverify_no_ca_why()
    if not sent_client_cert:
        return Why(
            "bad-certificate",
            "the daemon requires a client certificate and the bundle has none "
            "('remote error: tls: bad certificate')",
            "issue a client certificate: dockwiz certs client",
        )
    return Why(
        "bad-certificate",
        "the daemon rejected the bundle's client certificate ('remote error: tls: bad "
        "certificate'): it is not signed by the CA the daemon trusts (tlscacert), is expired, "
        "or lacks clientAuth",
        "issue the client bundle from the CA in the daemon's tlscacert (dockwiz certs client)",
    )


def tlsverify_no_ca_why() -> Why:
    return Why(
        "tlsverify-no-ca",
        "tlsverify is on but tlscacert is not set, so the daemon checks client certificates "
        "against a CA that is not yours: with --tlsverify flags, ~/.docker/ca.pem of root; with "
        "daemon.json only (Docker 20.10), the system roots. Your clients are refused, or "
        "worse, anyone with a certificate from that CA gets in",
        'set "tlscacert" in daemon.json to the CA that issued the client certificates '
        "(dockwiz plan --mode mtls does this) and restart the daemon",
    )


# -- docker CLI ------------------------------------------------------------------------------
def explain_cli_failure(text: str, ctx: Ctx, dial: str, port: int | None = None) -> Why:
    """Map the docker CLI's error text to DOMAIN §7 (``port``: the one the CLI dialled)."""
    low = text.lower()
    fix_server = _reissue_server_fix(dial)
    if "doesn't contain any ip sans" in low:
        return Why("missing-ip-san",
                   f"the docker CLI rejects the daemon's certificate: it has no IP SAN for "
                   f"{dial}, the address the client dials",
                   fix_server)
    if "legacy common name" in low:
        return Why("legacy-cn",
                   "the docker CLI rejects the daemon's certificate: it names the host only in "
                   "the legacy Common Name, which Go ignores", fix_server)
    if "certificate is valid for" in low or "certificate is not valid for" in low:
        return Why("name-not-in-san", text.strip()[:300], fix_server)
    if "signed by unknown authority" in low:
        return Why("wrong-ca", "the daemon's certificate is not signed by the bundle's CA",
                   "issue the daemon's certificate and the client bundle from the same CA")
    if "bad certificate" in low or "certificate required" in low:
        return rejected_client_why(ctx, True)
    if "expired" in low:
        return Why("expired-cert", text.strip()[:300], "renew it (dockwiz certs renew)")
    if "malformed http response" in low or "http request to an https server" in low:
        return Why(
            "plain-http-to-tls",
            "the CLI spoke plain HTTP to the TLS port: DOCKER_TLS_VERIFY/--tlsverify was not set",
            "export DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (source the bundle's env.sh)",
        )
    if "http response to https client" in low:
        origin, drop = listener_origin(ctx, dial, port)
        return Why("plain-tcp", f"the port serves plain HTTP, not TLS; {origin}",
                   f"configure mutual TLS (dockwiz plan --mode mtls) or remove the TCP listener: "
                   f"{drop}")
    if "could not read ca" in low or "no such file" in low:
        return Why("bundle-missing", text.strip()[:300],
                   "point DOCKER_CERT_PATH at a bundle with ca.pem, cert.pem and key.pem")
    if "connection refused" in low or "cannot connect" in low:
        return refused_why(ctx, dial)
    return Why("daemon-down", text.strip()[:300], "check the daemon's log")
