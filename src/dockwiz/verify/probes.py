"""The probes: each tries one way in, as a legitimate client or as an attacker, and says what
it saw against what a secured daemon does.

A probe never raises for the daemon's condition: a refused, reset or rejected call is what it
observed. Attacks do not check the daemon's certificate (the verdict must not depend on SANs or
on which CA the bundle holds) and always read the answer, because with TLS 1.3 a handshake
without a client certificate can succeed and the rejection arrives on the first read.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import stat
from collections.abc import Callable
from typing import Literal

from dockwiz.addresses import is_ip
from dockwiz.dockerapi import (
    ApiResponse,
    ClientFiles,
    Endpoint,
    ProbeError,
    ProbeErrorKind,
    get_unix,
    plain_http,
    tls_request,
)
from dockwiz.models.results import Probe
from dockwiz.pki import cert_facts
from dockwiz.verify.context import Ctx, Target, Why, cert_response, make_probe
from dockwiz.verify.explain import (
    explain_name_mismatch,
    explain_tls_failure,
    listener_origin,
    refused_why,
    tcp_left_why,
    tlsverify_no_ca_why,
)

CERT_WARN_DAYS = 30


def probe_unix(ctx: Ctx, ep: Endpoint) -> list[Probe]:
    """/_ping and /version over the unix socket: the local way in must work."""
    assert ep.path is not None
    local = ctx.local(ep.path)
    target = f"unix://{ep.path}"
    probes: list[Probe] = []
    for pid, url, title in (
        ("unix-ping", "/_ping", "unix socket answers /_ping"),
        ("unix-version", "/version", "unix socket answers /version"),
    ):
        try:
            resp = get_unix(local, url, ctx.timeout)
        except ProbeError as exc:
            probes.append(
                make_probe(pid, title, target, "succeed", False, exc.message,
                       refused_why(ctx, target) if exc.kind is ProbeErrorKind.REFUSED
                       else Why("daemon-down", exc.message, "check the daemon's log"))
            )
            continue
        saw = f"HTTP {resp.status} {resp.body.strip()[:40]}"
        if url == "/version" and resp.ok:
            saw = _version_text(resp.body)
        probes.append(
            make_probe(pid, title, target, "succeed", resp.ok, saw,
                   Why("daemon-down", f"the daemon answered HTTP {resp.status}",
                       "check the daemon's log"))
        )
    return probes


def _version_text(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:60]
    return f"Docker {data.get('Version', '?')}, API {data.get('ApiVersion', '?')}"


def probe_socket_perms(ctx: Ctx, ep: Endpoint) -> Probe:
    """CIS 3.15/3.16: the socket is root-owned, group docker (or root), mode 0660 or stricter."""
    assert ep.path is not None
    target = f"unix://{ep.path}"
    title = "docker.sock owner, group and mode"
    try:
        st = ctx.local(ep.path).stat()
    except OSError as exc:
        return make_probe("socket-perms", title, target, "succeed", None,
                      f"cannot stat the socket: {exc.strerror}", cis="3.15/3.16")
    from dockwiz.inspect import host_accounts

    # names as the HOST ROOT's /etc/passwd and /etc/group say, not this machine's NSS
    accounts = host_accounts(ctx.host)
    # uid/gid 0 are root whatever a (possibly minimal) passwd file says; the group is judged
    # by name because the docker group's gid differs from host to host
    owner = accounts.users.get(st.st_uid, "root" if st.st_uid == 0 else str(st.st_uid))
    group = accounts.groups.get(st.st_gid, "root" if st.st_gid == 0 else str(st.st_gid))
    mode = stat.S_IMODE(st.st_mode)
    saw = f"{owner}:{group} {mode:04o}"
    problems = []
    if st.st_uid != 0:
        problems.append(f"owned by {owner}, not root")
    if st.st_gid != 0 and group != "docker":
        problems.append(f"group {group}: every member of it is root on this host")
    if mode & 0o007 or mode & 0o111 or mode & 0o600 != 0o600:
        problems.append(f"mode {mode:04o} is not 0660 or stricter")
    why = Why(
        "socket-permissions",
        "; ".join(problems) or "",
        f"chown root:docker {ep.path} && chmod 0660 {ep.path} (dockerd sets this itself unless "
        "a wrapper or socket unit changes it: fix SocketMode/SocketGroup in docker.socket)",
    )
    return make_probe("socket-perms", title, target, "succeed", not problems, saw, why,
                  cis="3.15/3.16")


def probe_tls_ping(ctx: Ctx, target: Target) -> Probe:
    """The legitimate client: TLS with the bundle, GET /_ping, and the answer read."""
    title = "TLS with the client bundle, GET /_ping"
    bundle = ctx.bundle
    if bundle is None:
        return bundle_missing_probe(ctx, "tls-ping", title, target.url)
    sent_cert = bundle.cert is not None
    try:
        resp = ctx.net(lambda: tls_request(
            target.dial, target.port, "GET", "/_ping", ca=bundle.ca, cert=bundle.cert,
            key=bundle.key, timeout=ctx.timeout,
        ))
    except ProbeError as exc:
        why = explain_tls_failure(exc, ctx, target, sent_client_cert=sent_cert)
        return make_probe("tls-ping", title, target.url, "succeed", False, exc.message, why)
    saw = f"{resp.tls_version}, HTTP {resp.status} {resp.body.strip()[:20]}"
    return make_probe("tls-ping", title, target.url, "succeed", resp.ok, saw,
                  Why("daemon-down", f"the daemon answered HTTP {resp.status}",
                      "check the daemon's log"))


def bundle_missing_probe(ctx: Ctx, pid: str, title: str, target: str) -> Probe:
    return make_probe(pid, title, target, "succeed", None,
                  "skipped: needs the client bundle (see client-bundle)")


def probe_client_bundle(ctx: Ctx) -> Probe:
    """The bundle a legitimate client uses exists; without it no client can get in."""
    title = "client bundle (ca.pem, cert.pem, key.pem)"
    if ctx.ca_only is not None:
        return make_probe(
            "client-bundle", title, ctx.bundle_shown, "succeed", None,
            f"skipped: no client bundle; the daemon's CA {ctx.ca_only} checks the server",
            warning=f"no client bundle at {ctx.bundle_shown}: give clients the CA certificate "
            f"{ctx.ca_only} as ca.pem so they can verify the daemon (dockwiz certs client makes "
            "a complete bundle)",
        )
    ok = ctx.bundle is not None
    saw = f"found in {ctx.bundle_shown}" if ok else (ctx.bundle_problem or "missing")
    why = Why(
        "bundle-missing",
        f"no usable client bundle at {ctx.bundle_shown} ({ctx.bundle_problem}): verify cannot "
        "act as a legitimate client, and neither can anyone you hand this daemon to",
        "issue one from the daemon's CA (dockwiz certs client) or pass --bundle DIR",
    )
    return make_probe("client-bundle", title, ctx.bundle_shown, "succeed", ok, saw, why)


def probe_server_cert(ctx: Ctx, target: Target) -> Probe:
    """The daemon's certificate verifies against the bundle's CA for the name/IP dialled."""
    title = f"server certificate valid for {target.dial} under the bundle's CA"
    ca = ctx.server_ca
    if ca is None:
        return probe_server_cert_unverified(ctx, target, title)

    def handshake() -> ApiResponse:
        # No client cert: only the server's side is judged here, so a TLS 1.2 daemon's
        # rejection of the missing client cert (after our verification passed) is fine.
        try:
            return tls_request(target.dial, target.port, "GET", "/_ping", ca=ca,
                               timeout=ctx.timeout)
        except ProbeError as exc:
            if exc.kind in (ProbeErrorKind.TLS_BAD_CERTIFICATE,
                            ProbeErrorKind.TLS_CERTIFICATE_REQUIRED):
                return cert_response(target)
            raise

    try:
        resp = ctx.net(handshake)
    except ProbeError as exc:
        why = explain_tls_failure(exc, ctx, target, sent_client_cert=False)
        return make_probe("server-cert", title, target.url, "succeed", False, exc.message, why)
    facts = cert_facts(resp.peer_cert or b"")
    if facts is None:
        return make_probe("server-cert", title, target.url, "succeed", True, "verified")
    days = (facts.not_after - dt.datetime.now(dt.UTC)).days
    warning = None
    if days < CERT_WARN_DAYS:
        warning = f"the server certificate expires in {days} days: renew it (dockwiz certs renew)"
    saw = f"verified; SANs {facts.names()}; expires {facts.not_after:%Y-%m-%d}"
    return make_probe("server-cert", title, target.url, "succeed", True, saw, warning=warning)


_INCONCLUSIVE = (
    ProbeErrorKind.REFUSED,
    ProbeErrorKind.TIMEOUT,
    ProbeErrorKind.NOT_TLS,
    ProbeErrorKind.MALFORMED_HTTP,
)


def _attack(ctx: Ctx, target: Target, files: ClientFiles | None) -> ApiResponse:
    """An attacker's call: it does not check the daemon's certificate (so the result does not
    depend on SANs or on which CA the bundle holds), and it reads the answer."""
    cert = files.cert if files is not None else None
    key = files.key if files is not None else None
    return ctx.net(lambda: tls_request(target.dial, target.port, "GET", "/_ping", ca=None,
                                       cert=cert, key=key, timeout=ctx.timeout))


def _inconclusive(exc: ProbeError) -> str:
    return (f"inconclusive: the call ended before the daemon judged the client ({exc.message}); "
            "see the other probes for this endpoint")


def probe_server_cert_unverified(ctx: Ctx, target: Target, title: str) -> Probe:
    """No CA to check against: still judge the names, which is where most setups break."""
    der = ctx.net(lambda: cert_response(target)).peer_cert
    facts = cert_facts(der) if der else None
    if facts is None:
        return make_probe("server-cert", title, target.url, "succeed", None,
                      "skipped: no CA to verify with and no certificate fetched")
    saw = (f"unverified (no CA found): subject CN {facts.subject_cn!r}, issuer CN "
           f"{facts.issuer_cn!r}, SANs {facts.names() if facts.has_san else 'none'}")
    covered = target.dial in facts.ips if is_ip(target.dial) else target.dial in facts.dns
    if facts.has_san and covered:
        return make_probe("server-cert", title, target.url, "succeed", None,
                      saw + "; names fine, chain not checked")
    return make_probe("server-cert", title, target.url, "succeed", False, saw,
                  explain_name_mismatch(target.dial, facts))


def probe_no_client_cert(ctx: Ctx, target: Target) -> Probe:
    """An attacker without a certificate: must be refused in mtls, is let in by tls mode."""
    title = "TLS without a client certificate, GET /_ping"
    expect: Literal["succeed", "fail"] = "succeed" if ctx.mode == "tls" else "fail"
    warning = None
    if ctx.mode == "tls":
        warning = (
            f"tls mode does not authenticate clients: anyone who can reach {target.url} "
            "controls the daemon, which is root on this host. TLS only encrypts. Use mtls."
        )
    try:
        resp = _attack(ctx, target, None)
    except ProbeError as exc:
        if exc.kind in _INCONCLUSIVE:
            return make_probe("no-client-cert", title, target.url, expect, None, _inconclusive(exc))
        why = None
        if expect == "succeed":
            why = explain_tls_failure(exc, ctx, target, sent_client_cert=False)
        return make_probe("no-client-cert", title, target.url, expect, False, exc.message, why,
                      warning=warning)
    saw = f"{resp.tls_version}, HTTP {resp.status} {resp.body.strip()[:20]}: let in"
    why = Why(
        "no-client-auth",
        f"the daemon let a client without any certificate call the API on {target.url}: it "
        'runs TLS without client verification ("tls": true, "tlsverify": false); anyone who '
        "can reach the port is root on this host",
        'set "tlsverify": true and "tlscacert" in daemon.json (dockwiz plan --mode mtls)',
    )
    return make_probe("no-client-cert", title, target.url, expect, resp.ok, saw, why,
                  warning=warning)


def probe_foreign_client_cert(
    ctx: Ctx, target: Target, pid: str, title: str, make: Callable[[], ClientFiles | str]
) -> Probe:
    """A client certificate the daemon must refuse (rogue CA, expired); ``make`` issues it, or
    says why it cannot."""
    if ctx.mode == "tls":
        return make_probe(pid, title, target.url, "fail", None,
                      "skipped: tls mode lets any client in (see no-client-cert)")
    files = make()
    if isinstance(files, str):
        return make_probe(pid, title, target.url, "fail", None, files)
    try:
        resp = _attack(ctx, target, files)
    except ProbeError as exc:
        if exc.kind in _INCONCLUSIVE:
            return make_probe(pid, title, target.url, "fail", None, _inconclusive(exc))
        return make_probe(pid, title, target.url, "fail", False, exc.message)
    saw = f"{resp.tls_version}, HTTP {resp.status} {resp.body.strip()[:20]}: let in"
    if pid == "rogue-client-cert":
        why = Why(
            "wrong-ca",
            "the daemon accepted a certificate from a CA made up on the spot: its tlscacert "
            "trusts more than your CA (a system bundle, or no client verification at all)",
            'point "tlscacert" at your own CA only and set "tlsverify": true '
            "(dockwiz plan --mode mtls)",
        )
    else:
        why = Why(
            "expired-cert",
            "the daemon accepted an expired client certificate",
            "check what terminates TLS in front of the daemon: dockerd itself refuses these",
        )
    return make_probe(pid, title, target.url, "fail", resp.ok, saw, why)


def probe_plain_http(ctx: Ctx, dial: str, port: int, pid: str, title: str) -> Probe:
    """Plain HTTP where no plain API may answer (the TLS port, 2375, a former listener)."""
    shown = f"[{dial}]" if ":" in dial else dial
    target = f"tcp://{shown}:{port}"
    try:
        resp = ctx.net(lambda: plain_http(dial, port, "/_ping", ctx.timeout))
    except ProbeError as exc:
        return make_probe(pid, title, target, "fail", False, _closed_text(exc))
    docker = resp.ok and ("api-version" in resp.headers or resp.body.strip() == "OK")
    if not docker:
        return make_probe(pid, title, target, "fail", False,
                      f"HTTP {resp.status}: something else answers here, not a Docker API",
                      warning=f"{target} is open but is not the Docker API")
    if ctx.mode in ("unix", "ssh"):
        why = tcp_left_why(
            ctx,
            f"the Docker API still answers in plain HTTP on {target}, yet the mode is "
            f"{ctx.mode}-only: anyone who reaches it is root on this host",
            dial, port,
        )
    else:
        origin, drop = listener_origin(ctx, dial, port)
        why = Why(
            "plain-tcp",
            f"the Docker API answers plain HTTP on {target} with no authentication: anyone who "
            f"can reach it is root on this host (DOMAIN §1); {origin}",
            f"serve TCP only with mutual TLS (dockwiz plan --mode mtls) or drop it: {drop}",
        )
    saw = f"HTTP {resp.status} {resp.body.strip()[:20]} (API {resp.headers.get('api-version')})"
    return make_probe(pid, title, target, "fail", True, saw, why)


def probe_port_closed(ctx: Ctx, dial: str, port: int) -> Probe:
    """unix/ssh mode: nothing may even accept a connection where the daemon could listen,
    TLS or not."""
    shown = f"[{dial}]" if ":" in dial else dial
    target = f"tcp://{shown}:{port}"
    title = f"port {port} closed (unix-only mode)"

    def connect() -> ApiResponse:
        try:
            socket.create_connection((dial, port), timeout=ctx.timeout).close()
        except OSError as exc:
            raise ProbeError(ProbeErrorKind.REFUSED, exc.strerror or str(exc)) from None
        return ApiResponse(status=0, reason="", headers={}, body="")

    try:
        ctx.net(connect)
    except ProbeError as exc:
        return make_probe("port-closed", title, target, "fail", False, f"closed ({exc.message})")
    why = tcp_left_why(
        ctx, f"something accepts connections on {target}, yet the mode is {ctx.mode}-only",
        dial, port,
    )
    return make_probe("port-closed", title, target, "fail", True, "accepts connections", why)


def _closed_text(exc: ProbeError) -> str:
    if exc.kind is ProbeErrorKind.MALFORMED_HTTP:
        return f"not served: the port speaks TLS ({exc.message})"
    return exc.message


def probe_observed_tcp(ctx: Ctx) -> Probe:
    """unix/ssh mode: the daemon process holds no TCP listener at all."""
    title = "no TCP listener left (unix-only mode)"
    if ctx.state is None or ctx.state.process is None:
        return make_probe("tcp-listeners", title, "dockerd", "fail", None,
                      "skipped: the daemon process was not found")
    tcp = [lst.address for lst in ctx.state.listeners if lst.kind == "tcp"]
    configured = [ep.url for ep in ctx.tcp]
    left = tcp + [u for u in configured if u not in tcp]
    why = tcp_left_why(
        ctx, f"the daemon still listens on (or is configured for) {', '.join(left)}", None, None
    )
    saw = "listens on " + ", ".join(left) if left else "no TCP listener"
    return make_probe("tcp-listeners", title, "dockerd", "fail", bool(left), saw, why)


def probe_tls_files(ctx: Ctx) -> Probe:
    """The daemon's TLS settings are complete: mtls needs tlscacert, every file exists."""
    title = "daemon TLS settings complete"
    tls = ctx.state.tls if ctx.state is not None else None
    if tls is None:
        return make_probe("tls-config", title, "daemon config", "succeed", None,
                      "skipped: configuration not read")
    saw = (f"tlsverify {'on' if tls.verifies_clients else 'off'}, tlscacert "
           f"{tls.tlscacert or 'not set'}, tlscert {tls.tlscert or 'not set'}")
    if tls.verifies_clients and not tls.tlscacert:
        return make_probe("tls-config", title, "daemon config", "succeed", False, saw,
                      tlsverify_no_ca_why())
    missing = [p for p in (tls.tlscacert if tls.verifies_clients else None, tls.tlscert,
                           tls.tlskey) if p and not ctx.local(p).exists()]
    if not (tls.tlscert and tls.tlskey):
        missing.append("tlscert/tlskey not set")
    why = Why(
        "tls-files",
        f"the daemon's TLS files are missing: {', '.join(missing)}; dockerd will not start",
        "issue them (dockwiz certs server) or fix the paths in daemon.json",
    )
    return make_probe("tls-config", title, "daemon config", "succeed", not missing, saw, why)


def probe_mode(ctx: Ctx, expected: str) -> Probe:
    ok = ctx.detected == expected or {ctx.detected, expected} == {"unix", "ssh"}
    cause = f"expected {expected}, but the configuration amounts to {ctx.detected}"
    fix = f"plan and apply the {expected} mode (dockwiz plan --mode {expected})"
    if expected in ("unix", "ssh") and ctx.detected in ("tcp", "tls", "mtls"):
        origin, fix = listener_origin(ctx, None, None)  # the TCP listeners make the difference
        cause = f"{cause}: the daemon is asked for TCP listeners; {origin}"
    why = Why("mode-mismatch", cause, fix)
    return make_probe("mode", f"daemon runs in {expected} mode", "daemon config", "succeed", ok,
                  f"detected {ctx.detected}", why)

