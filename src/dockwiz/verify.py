"""Verify: prove a daemon is secured the way a legitimate client and an attacker see it.

An open port proves nothing: a TLS listener that takes any client, or a daemon that trusts the
wrong CA, answers just as well. So verify talks to the daemon for real: the issued client bundle
must get in (our own TLS client, then the docker CLI exactly as the user will run it), and every
way in that should be shut must be shut: no client certificate, a certificate from a rogue CA,
an expired one, plain HTTP to the TLS port, plain TCP on 2375. Each probe says what it tried,
what it saw and, when it is not what a secured daemon does, the likely cause and the fix, named
after the failures users hit most (DOMAIN §7).

The probes run concurrently (they are independent and mostly wait on the network), TCP ones on
a thread inside the host's network namespace (a lab's), so the TCP listeners seen are the
daemon's own, never this machine's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import ipaddress
import json
import os
import shlex
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockwiz import pki
from dockwiz.dockerapi import (
    ApiResponse,
    ClientFiles,
    Endpoint,
    ProbeError,
    ProbeErrorKind,
    ProbeOutcome,
    fetch_server_cert,
    get_unix,
    is_ip,
    parse_endpoint,
    ping_endpoint,
    plain_http,
    tls_request,
)
from dockwiz.errors import DockwizError
from dockwiz.models.results import DetectedMode, Handoff, Probe, VerifyReport
from dockwiz.netns import in_host_netns

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.models.host_state import HostState

__all__ = [
    "FAILURES",
    "FAILURE_OF_KIND",
    "ClientFiles",
    "Handoff",
    "Probe",
    "ProbeOutcome",
    "VerifyReport",
    "failure_for",
    "ping_endpoint",
    "verify_host",
]

MODES: tuple[str, ...] = ("unix", "ssh", "tls", "mtls")
DEFAULT_CLIENT = "dockwiz-client"
PLAIN_PORT = 2375
TLS_PORT = 2376
PROBE_TIMEOUT = 3.0
CLI_TIMEOUT = 20.0
CERT_WARN_DAYS = 30

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


class Why(NamedTuple):
    failure_id: str
    cause: str
    fix: str


# -- probe bookkeeping -----------------------------------------------------------------------
def _probe(
    pid: str,
    title: str,
    target: str,
    expect: Literal["succeed", "fail"],
    succeeded: bool | None,
    saw: str,
    why: Why | None = None,
    *,
    warning: str | None = None,
    cis: str | None = None,
) -> Probe:
    """A probe passes when it did what a secured daemon makes it do; skipped ones pass."""
    if succeeded is None:
        return Probe(
            id=pid, title=title, target=target, expect=expect, outcome="skipped", passed=True,
            saw=saw, warning=warning, cis=cis,
        )
    passed = succeeded == (expect == "succeed")
    return Probe(
        id=pid,
        title=title,
        target=target,
        expect=expect,
        outcome="succeeded" if succeeded else "failed",
        passed=passed,
        saw=saw,
        cause=None if passed or why is None else why.cause,
        fix=None if passed or why is None else why.fix,
        failure_id=None if passed or why is None else why.failure_id,
        warning=warning,
        cis=cis,
    )


# -- context ---------------------------------------------------------------------------------
@dataclass
class _Target:
    """A TCP endpoint and the address a client dials for it."""

    endpoint: Endpoint
    dial: str

    @property
    def port(self) -> int:
        assert self.endpoint.port is not None
        return self.endpoint.port

    @property
    def url(self) -> str:
        shown = f"[{self.dial}]" if ":" in self.dial else self.dial
        return f"tcp://{shown}:{self.port}"


@dataclass
class _Ctx:
    host: Host
    state: HostState | None
    mode: DetectedMode
    detected: DetectedMode
    unix: list[Endpoint]
    tcp: list[Endpoint]
    targets: list[_Target]
    addresses: list[str]
    bundle_dir: Path
    bundle_shown: str
    bundle: ClientFiles | None
    bundle_problem: str | None
    server_ca: Path | None
    scratch: Path
    timeout: float = PROBE_TIMEOUT
    former: list[Endpoint] = field(default_factory=list)
    ca_only: str | None = None  # tls mode without a bundle: the daemon's CA (host path) is used

    def net(self, fn: Callable[[], ApiResponse]) -> ApiResponse:
        return in_host_netns(self.host, fn)

    def local(self, host_path: str) -> Path:
        """A host path on this machine, symlinks resolved inside the root (never the
        machine's own /run through a sandbox's ``var/run -> /run``)."""
        from dockwiz.inspect import resolve_in_root

        try:
            return resolve_in_root(self.host, host_path)
        except OSError:
            return self.host.path(host_path)


def detect_mode(state: HostState | None, endpoints: list[Endpoint]) -> DetectedMode:
    """The mode the configuration amounts to (not what was asked for)."""
    if not any(ep.kind == "tcp" for ep in endpoints):
        return "unix" if endpoints else "unknown"
    if state is None or not state.tls.enabled:
        return "tcp"
    return "mtls" if state.tls.verifies_clients else "tls"


def _configured(state: HostState | None) -> list[Endpoint]:
    if state is None:
        return []
    found: list[Endpoint] = []
    for listener in state.configured_hosts:
        with contextlib.suppress(ValueError):
            ep = parse_endpoint(listener.address)
            if ep.kind == "fd" and state.docker_socket is not None:
                ep = Endpoint(url=ep.url, kind="fd", path=state.docker_socket.path)
            found.append(ep)
    return found


def _netns_addresses(host: Host) -> list[str]:
    """Non-loopback IPv4 addresses where the daemon lives (the lab's own, in its namespace)."""
    import psutil

    def collect() -> list[str]:
        out: list[str] = []
        for ifname, addrs in psutil.net_if_addrs().items():
            if ifname.startswith(("docker", "br-", "veth")):
                continue  # container bridges are not how clients reach the daemon
            for a in addrs:
                if a.family.name == "AF_INET" and not ipaddress.ip_address(a.address).is_loopback:
                    out.append(a.address)
        return out

    if host.netns is None and not host.is_real:
        return []  # a sandbox root on this machine's network: probe loopback only
    try:
        return in_host_netns(host, collect)
    except (OSError, DockwizError):
        return []


def _targets(tcp: list[Endpoint], addresses: list[str]) -> list[_Target]:
    """Where clients dial each endpoint: a wildcard is dialled on the host's address and on
    loopback, a specific address on itself."""
    targets: list[_Target] = []
    for ep in tcp:
        if ep.is_wildcard:
            dials = [*addresses[:1], "::1" if ep.host == "::" else "127.0.0.1"]
        else:
            dials = [ep.dial_host]
        targets.extend(_Target(ep, d) for d in dials)
    return targets


def _resolve_bundle(host: Host, bundle_dir: Path | None) -> tuple[Path, str]:
    """The bundle to verify with: the one given, else ``dockwiz-client``, else the only (or
    first) client bundle dockwiz issued on this host."""
    if bundle_dir is not None:
        local = Path(bundle_dir)
        try:
            return local, host.host_path_of(local)
        except ValueError:
            return local, str(local)
    names = pki.list_clients(host)
    name = DEFAULT_CLIENT if DEFAULT_CLIENT in names or not names else names[0]
    shown = f"{pki.CLIENTS_DIR}/{name}"
    return host.path(shown), shown


def _load_bundle(directory: Path, mode: DetectedMode) -> tuple[ClientFiles | None, str | None]:
    files = ClientFiles.from_dir(directory)
    if not directory.is_dir():
        return None, "no such directory"
    if not files.ca.is_file():
        return None, "ca.pem is missing"
    have_pair = files.cert is not None and files.cert.is_file()
    have_pair = have_pair and files.key is not None and files.key.is_file()
    if not have_pair:
        if mode == "mtls":
            return None, "cert.pem or key.pem is missing"
        return ClientFiles(ca=files.ca), None
    return files, None


def _server_ca(host: Host, state: HostState | None) -> tuple[Path, str] | None:
    """For tls mode without a bundle: the CA a client would be given to check the daemon,
    found where tutorials and dockwiz put it (tlscacert, next to tlscert, the dockwiz CA)."""
    from dockwiz.inspect import resolve_in_root

    candidates: list[str] = []
    if state is not None and state.tls.tlscacert:
        candidates.append(state.tls.tlscacert)
    if state is not None and state.tls.tlscert:
        candidates.append(str(Path(state.tls.tlscert).parent / "ca.pem"))
    candidates += [f"{pki.CA_DIR}/ca.pem", f"{pki.DAEMON_TLS_DIR}/ca.pem"]
    for shown in candidates:
        with contextlib.suppress(OSError, ValueError):
            local = resolve_in_root(host, shown)
            if local.is_file():
                return local, shown
    return None


# -- certificate facts -----------------------------------------------------------------------
@dataclass
class CertFacts:
    subject_cn: str | None
    issuer_cn: str | None
    has_san: bool
    dns: list[str]
    ips: list[str]
    not_after: dt.datetime
    not_before: dt.datetime

    def names(self) -> str:
        listed = [*self.dns, *self.ips]
        return ", ".join(listed) if listed else "none"


def cert_facts(der: bytes) -> CertFacts | None:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None

    def cn(name: x509.Name) -> str | None:
        attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else None

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        ips = [str(i) for i in san.get_values_for_type(x509.IPAddress)]
        has_san = True
    except x509.ExtensionNotFound:
        dns, ips, has_san = [], [], False
    return CertFacts(
        subject_cn=cn(cert.subject),
        issuer_cn=cn(cert.issuer),
        has_san=has_san,
        dns=dns,
        ips=ips,
        not_after=cert.not_valid_after_utc,
        not_before=cert.not_valid_before_utc,
    )


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
    exc: ProbeError, ctx: _Ctx, target: _Target, *, sent_client_cert: bool
) -> Why:
    """Cause and fix for a legitimate client's failed TLS call."""
    kind = exc.kind
    where = target.url
    if kind is ProbeErrorKind.REFUSED:
        return _refused_why(ctx, where)
    if kind is ProbeErrorKind.TIMEOUT:
        return Why(
            "not-listening",
            f"{where} did not answer in {ctx.timeout:.0f} s: a firewall drops the traffic or the "
            "daemon hangs",
            "check the daemon's log and any firewall between client and daemon",
        )
    if kind is ProbeErrorKind.TLS_HOSTNAME_MISMATCH:
        der = ctx.net(lambda: _cert_response(target))
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
        return _rejected_client_why(ctx, sent_client_cert)
    if kind is ProbeErrorKind.NOT_TLS:
        return Why(
            "plain-tcp",
            f"{where} answers in plain text, not TLS: the daemon serves this port without TLS",
            "configure TLS with client verification (dockwiz plan --mode mtls) or remove the "
            "TCP listener (dockwiz plan --mode unix)",
        )
    return Why("daemon-down", f"the call failed: {exc.message}", "check the daemon's log")


def _refused_why(ctx: _Ctx, where: str) -> Why:
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


def _rejected_client_why(ctx: _Ctx, sent_client_cert: bool) -> Why:
    tls = ctx.state.tls if ctx.state is not None else None
    if tls is not None and tls.verifies_clients and not tls.tlscacert:
        return _tlsverify_no_ca_why()
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


def _tlsverify_no_ca_why() -> Why:
    return Why(
        "tlsverify-no-ca",
        "tlsverify is on but tlscacert is not set, so the daemon checks client certificates "
        "against a CA that is not yours: with --tlsverify flags, ~/.docker/ca.pem of root; with "
        "daemon.json only (Docker 20.10), the system roots. Your clients are refused, or "
        "worse, anyone with a certificate from that CA gets in",
        'set "tlscacert" in daemon.json to the CA that issued the client certificates '
        "(dockwiz plan --mode mtls does this) and restart the daemon",
    )


def _cert_response(target: _Target) -> ApiResponse:
    der = fetch_server_cert(target.dial, target.port)
    return ApiResponse(status=0, reason="", headers={}, body="", peer_cert=der)


# -- the probes ------------------------------------------------------------------------------
def probe_unix(ctx: _Ctx, ep: Endpoint) -> list[Probe]:
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
                _probe(pid, title, target, "succeed", False, exc.message,
                       _refused_why(ctx, target) if exc.kind is ProbeErrorKind.REFUSED
                       else Why("daemon-down", exc.message, "check the daemon's log"))
            )
            continue
        saw = f"HTTP {resp.status} {resp.body.strip()[:40]}"
        if url == "/version" and resp.ok:
            saw = _version_text(resp.body)
        probes.append(
            _probe(pid, title, target, "succeed", resp.ok, saw,
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


def probe_socket_perms(ctx: _Ctx, ep: Endpoint) -> Probe:
    """CIS 3.15/3.16: the socket is root-owned, group docker (or root), mode 0660 or stricter."""
    assert ep.path is not None
    target = f"unix://{ep.path}"
    title = "docker.sock owner, group and mode"
    try:
        st = ctx.local(ep.path).stat()
    except OSError as exc:
        return _probe("socket-perms", title, target, "succeed", None,
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
    return _probe("socket-perms", title, target, "succeed", not problems, saw, why,
                  cis="3.15/3.16")


def probe_tls_ping(ctx: _Ctx, target: _Target) -> Probe:
    """The legitimate client: TLS with the bundle, GET /_ping, and the answer read."""
    title = "TLS with the client bundle, GET /_ping"
    bundle = ctx.bundle
    if bundle is None:
        return _bundle_missing_probe(ctx, "tls-ping", title, target.url)
    sent_cert = bundle.cert is not None
    try:
        resp = ctx.net(lambda: tls_request(
            target.dial, target.port, "GET", "/_ping", ca=bundle.ca, cert=bundle.cert,
            key=bundle.key, timeout=ctx.timeout,
        ))
    except ProbeError as exc:
        why = explain_tls_failure(exc, ctx, target, sent_client_cert=sent_cert)
        return _probe("tls-ping", title, target.url, "succeed", False, exc.message, why)
    saw = f"{resp.tls_version}, HTTP {resp.status} {resp.body.strip()[:20]}"
    return _probe("tls-ping", title, target.url, "succeed", resp.ok, saw,
                  Why("daemon-down", f"the daemon answered HTTP {resp.status}",
                      "check the daemon's log"))


def _bundle_missing_probe(ctx: _Ctx, pid: str, title: str, target: str) -> Probe:
    return _probe(pid, title, target, "succeed", None,
                  "skipped: needs the client bundle (see client-bundle)")


def probe_client_bundle(ctx: _Ctx) -> Probe:
    """The bundle a legitimate client uses exists; without it no client can get in."""
    title = "client bundle (ca.pem, cert.pem, key.pem)"
    if ctx.ca_only is not None:
        return _probe(
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
    return _probe("client-bundle", title, ctx.bundle_shown, "succeed", ok, saw, why)


def probe_server_cert(ctx: _Ctx, target: _Target) -> Probe:
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
                return _cert_response(target)
            raise

    try:
        resp = ctx.net(handshake)
    except ProbeError as exc:
        why = explain_tls_failure(exc, ctx, target, sent_client_cert=False)
        return _probe("server-cert", title, target.url, "succeed", False, exc.message, why)
    facts = cert_facts(resp.peer_cert or b"")
    if facts is None:
        return _probe("server-cert", title, target.url, "succeed", True, "verified")
    days = (facts.not_after - dt.datetime.now(dt.UTC)).days
    warning = None
    if days < CERT_WARN_DAYS:
        warning = f"the server certificate expires in {days} days: renew it (dockwiz certs renew)"
    saw = f"verified; SANs {facts.names()}; expires {facts.not_after:%Y-%m-%d}"
    return _probe("server-cert", title, target.url, "succeed", True, saw, warning=warning)


_INCONCLUSIVE = (
    ProbeErrorKind.REFUSED,
    ProbeErrorKind.TIMEOUT,
    ProbeErrorKind.NOT_TLS,
    ProbeErrorKind.MALFORMED_HTTP,
)


def _attack(ctx: _Ctx, target: _Target, files: ClientFiles | None) -> ApiResponse:
    """An attacker's call: it does not check the daemon's certificate (so the result does not
    depend on SANs or on which CA the bundle holds), and it reads the answer."""
    cert = files.cert if files is not None else None
    key = files.key if files is not None else None
    return ctx.net(lambda: tls_request(target.dial, target.port, "GET", "/_ping", ca=None,
                                       cert=cert, key=key, timeout=ctx.timeout))


def _inconclusive(exc: ProbeError) -> str:
    return (f"inconclusive: the call ended before the daemon judged the client ({exc.message}); "
            "see the other probes for this endpoint")


def probe_server_cert_unverified(ctx: _Ctx, target: _Target, title: str) -> Probe:
    """No CA to check against: still judge the names, which is where most setups break."""
    der = ctx.net(lambda: _cert_response(target)).peer_cert
    facts = cert_facts(der) if der else None
    if facts is None:
        return _probe("server-cert", title, target.url, "succeed", None,
                      "skipped: no CA to verify with and no certificate fetched")
    saw = (f"unverified (no CA found): subject CN {facts.subject_cn!r}, issuer CN "
           f"{facts.issuer_cn!r}, SANs {facts.names() if facts.has_san else 'none'}")
    covered = target.dial in facts.ips if is_ip(target.dial) else target.dial in facts.dns
    if facts.has_san and covered:
        return _probe("server-cert", title, target.url, "succeed", None,
                      saw + "; names fine, chain not checked")
    return _probe("server-cert", title, target.url, "succeed", False, saw,
                  explain_name_mismatch(target.dial, facts))


def probe_no_client_cert(ctx: _Ctx, target: _Target) -> Probe:
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
            return _probe("no-client-cert", title, target.url, expect, None, _inconclusive(exc))
        why = None
        if expect == "succeed":
            why = explain_tls_failure(exc, ctx, target, sent_client_cert=False)
        return _probe("no-client-cert", title, target.url, expect, False, exc.message, why,
                      warning=warning)
    saw = f"{resp.tls_version}, HTTP {resp.status} {resp.body.strip()[:20]}: let in"
    why = Why(
        "no-client-auth",
        f"the daemon let a client without any certificate call the API on {target.url}: it "
        'runs TLS without client verification ("tls": true, "tlsverify": false); anyone who '
        "can reach the port is root on this host",
        'set "tlsverify": true and "tlscacert" in daemon.json (dockwiz plan --mode mtls)',
    )
    return _probe("no-client-cert", title, target.url, expect, resp.ok, saw, why,
                  warning=warning)


def probe_foreign_client_cert(
    ctx: _Ctx, target: _Target, pid: str, title: str, make: Callable[[], ClientFiles | str]
) -> Probe:
    """A client certificate the daemon must refuse (rogue CA, expired); ``make`` issues it, or
    says why it cannot."""
    if ctx.mode == "tls":
        return _probe(pid, title, target.url, "fail", None,
                      "skipped: tls mode lets any client in (see no-client-cert)")
    files = make()
    if isinstance(files, str):
        return _probe(pid, title, target.url, "fail", None, files)
    try:
        resp = _attack(ctx, target, files)
    except ProbeError as exc:
        if exc.kind in _INCONCLUSIVE:
            return _probe(pid, title, target.url, "fail", None, _inconclusive(exc))
        return _probe(pid, title, target.url, "fail", False, exc.message)
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
    return _probe(pid, title, target.url, "fail", resp.ok, saw, why)


def probe_plain_http(ctx: _Ctx, dial: str, port: int, pid: str, title: str) -> Probe:
    """Plain HTTP where no plain API may answer (the TLS port, 2375, a former listener)."""
    shown = f"[{dial}]" if ":" in dial else dial
    target = f"tcp://{shown}:{port}"
    try:
        resp = ctx.net(lambda: plain_http(dial, port, "/_ping", ctx.timeout))
    except ProbeError as exc:
        return _probe(pid, title, target, "fail", False, _closed_text(exc))
    docker = resp.ok and ("api-version" in resp.headers or resp.body.strip() == "OK")
    if not docker:
        return _probe(pid, title, target, "fail", False,
                      f"HTTP {resp.status}: something else answers here, not a Docker API",
                      warning=f"{target} is open but is not the Docker API")
    if ctx.mode in ("unix", "ssh"):
        why = Why(
            "tcp-listener-left",
            f"the Docker API still answers in plain HTTP on {target}, yet the mode is "
            f"{ctx.mode}-only: anyone who reaches it is root on this host",
            'remove every tcp:// entry from "hosts" and -H, then restart (dockwiz plan --mode '
            "unix)",
        )
    else:
        why = Why(
            "plain-tcp",
            f"the Docker API answers plain HTTP on {target} with no authentication: anyone who "
            "can reach it is root on this host (DOMAIN §1)",
            "serve TCP only with mutual TLS (dockwiz plan --mode mtls) or drop it (--mode unix)",
        )
    saw = f"HTTP {resp.status} {resp.body.strip()[:20]} (API {resp.headers.get('api-version')})"
    return _probe(pid, title, target, "fail", True, saw, why)


def probe_port_closed(ctx: _Ctx, dial: str, port: int) -> Probe:
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
        return _probe("port-closed", title, target, "fail", False, f"closed ({exc.message})")
    why = Why(
        "tcp-listener-left",
        f"something accepts connections on {target}, yet the mode is {ctx.mode}-only",
        'remove every tcp:// entry from "hosts" and -H, then restart (dockwiz plan --mode '
        "unix); if it is not dockerd, find it with ss -ltnp",
    )
    return _probe("port-closed", title, target, "fail", True, "accepts connections", why)


def _closed_text(exc: ProbeError) -> str:
    if exc.kind is ProbeErrorKind.MALFORMED_HTTP:
        return f"not served: the port speaks TLS ({exc.message})"
    return exc.message


def probe_observed_tcp(ctx: _Ctx) -> Probe:
    """unix/ssh mode: the daemon process holds no TCP listener at all."""
    title = "no TCP listener left (unix-only mode)"
    if ctx.state is None or ctx.state.process is None:
        return _probe("tcp-listeners", title, "dockerd", "fail", None,
                      "skipped: the daemon process was not found")
    tcp = [lst.address for lst in ctx.state.listeners if lst.kind == "tcp"]
    configured = [ep.url for ep in ctx.tcp]
    left = tcp + [u for u in configured if u not in tcp]
    why = Why(
        "tcp-listener-left",
        f"the daemon still listens on (or is configured for) {', '.join(left)}",
        'remove every tcp:// entry from "hosts" and -H, then restart (dockwiz plan --mode unix)',
    )
    saw = "listens on " + ", ".join(left) if left else "no TCP listener"
    return _probe("tcp-listeners", title, "dockerd", "fail", bool(left), saw, why)


def probe_tls_files(ctx: _Ctx) -> Probe:
    """The daemon's TLS settings are complete: mtls needs tlscacert, every file exists."""
    title = "daemon TLS settings complete"
    tls = ctx.state.tls if ctx.state is not None else None
    if tls is None:
        return _probe("tls-config", title, "daemon config", "succeed", None,
                      "skipped: configuration not read")
    saw = (f"tlsverify {'on' if tls.verifies_clients else 'off'}, tlscacert "
           f"{tls.tlscacert or 'not set'}, tlscert {tls.tlscert or 'not set'}")
    if tls.verifies_clients and not tls.tlscacert:
        return _probe("tls-config", title, "daemon config", "succeed", False, saw,
                      _tlsverify_no_ca_why())
    missing = [p for p in (tls.tlscacert if tls.verifies_clients else None, tls.tlscert,
                           tls.tlskey) if p and not ctx.local(p).exists()]
    if not (tls.tlscert and tls.tlskey):
        missing.append("tlscert/tlskey not set")
    why = Why(
        "tls-files",
        f"the daemon's TLS files are missing: {', '.join(missing)}; dockerd will not start",
        "issue them (dockwiz certs server) or fix the paths in daemon.json",
    )
    return _probe("tls-config", title, "daemon config", "succeed", not missing, saw, why)


def probe_mode(ctx: _Ctx, expected: str) -> Probe:
    ok = ctx.detected == expected or {ctx.detected, expected} == {"unix", "ssh"}
    why = Why(
        "mode-mismatch",
        f"expected {expected}, but the configuration amounts to {ctx.detected}",
        f"plan and apply the {expected} mode (dockwiz plan --mode {expected})",
    )
    return _probe("mode", f"daemon runs in {expected} mode", "daemon config", "succeed", ok,
                  f"detected {ctx.detected}", why)


# -- docker CLI ------------------------------------------------------------------------------
def explain_cli_failure(text: str, ctx: _Ctx, dial: str) -> Why:
    """Map the docker CLI's error text to DOMAIN §7."""
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
        return _rejected_client_why(ctx, True)
    if "expired" in low:
        return Why("expired-cert", text.strip()[:300], "renew it (dockwiz certs renew)")
    if "malformed http response" in low or "http request to an https server" in low:
        return Why(
            "plain-http-to-tls",
            "the CLI spoke plain HTTP to the TLS port: DOCKER_TLS_VERIFY/--tlsverify was not set",
            "export DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (source the bundle's env.sh)",
        )
    if "http response to https client" in low:
        return Why("plain-tcp", "the port serves plain HTTP, not TLS",
                   "configure mutual TLS (dockwiz plan --mode mtls)")
    if "could not read ca" in low or "no such file" in low:
        return Why("bundle-missing", text.strip()[:300],
                   "point DOCKER_CERT_PATH at a bundle with ca.pem, cert.pem and key.pem")
    if "connection refused" in low or "cannot connect" in low:
        return _refused_why(ctx, dial)
    return Why("daemon-down", text.strip()[:300], "check the daemon's log")


def probe_docker_cli(ctx: _Ctx, target: _Target, how: Literal["flags", "env"]) -> Probe:
    """The real client, exactly as the user runs it: flags, or env.sh's variables."""
    pid = "docker-cli" if how == "flags" else "docker-cli-env"
    title = ("docker --tlsverify ... -H URL version" if how == "flags"
             else "DOCKER_HOST/DOCKER_TLS_VERIFY=1/DOCKER_CERT_PATH docker version")
    docker = ctx.host.which("docker")
    if docker is None:
        return _probe(pid, title, target.url, "succeed", None,
                      "skipped: the docker CLI is not installed here")
    bundle = ctx.bundle
    if bundle is None:
        return _bundle_missing_probe(ctx, pid, title, target.url)
    if how == "flags":
        argv = [docker, "--tlsverify", "--tlscacert", str(bundle.ca)]
        if bundle.cert is not None and bundle.key is not None:
            argv += ["--tlscert", str(bundle.cert), "--tlskey", str(bundle.key)]
        argv += ["-H", target.url, "version"]
        env = {"DOCKER_HOST": "", "DOCKER_CONTEXT": "", "DOCKER_TLS_VERIFY": ""}
    else:
        argv = [docker, "version"]
        env = {"DOCKER_HOST": target.url, "DOCKER_TLS_VERIFY": "1",
               "DOCKER_CERT_PATH": str(_cert_path(ctx, bundle)), "DOCKER_CONTEXT": ""}
    result = ctx.host.run(argv, env=env, in_netns=True, timeout=CLI_TIMEOUT)
    server = _server_version(result.stdout)
    if result.ok and server:
        return _probe(pid, title, target.url, "succeed", True, f"Server: Docker Engine {server}")
    text = (result.stderr or result.stdout).strip()
    if result.timed_out:
        text = f"timed out after {CLI_TIMEOUT:.0f} s"
    why = explain_cli_failure(text, ctx, target.dial)
    return _probe(pid, title, target.url, "succeed", False, text.splitlines()[-1][:300]
                  if text else f"exit {result.returncode}", why)


def _cert_path(ctx: _Ctx, bundle: ClientFiles) -> Path:
    """DOCKER_CERT_PATH for the CLI: the bundle, or a directory holding only the CA (so the
    CLI never picks up a daemon's own cert.pem/key.pem lying next to its ca.pem)."""
    if ctx.ca_only is None:
        return ctx.bundle_dir
    directory = ctx.scratch / "ca-only"
    directory.mkdir(mode=0o700, exist_ok=True)
    (directory / "ca.pem").write_bytes(bundle.ca.read_bytes())
    return directory


def _server_version(stdout: str) -> str | None:
    """The 'Version:' line after 'Server:' in ``docker version``'s text."""
    in_server = False
    for line in stdout.splitlines():
        if line.startswith("Server:"):
            in_server = True
        elif in_server and line.strip().startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


# -- bundles for the negative probes ---------------------------------------------------------
def _write_pair(directory: Path, issued: pki.Issued, ca_pem: bytes) -> ClientFiles:
    directory.mkdir(mode=0o700, exist_ok=True)
    (directory / "ca.pem").write_bytes(ca_pem)
    (directory / "cert.pem").write_bytes(issued.cert_pem())
    key = directory / "key.pem"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as fh:
        fh.write(issued.key_pem())
    return ClientFiles(ca=directory / "ca.pem", cert=directory / "cert.pem", key=key)


def rogue_client(scratch: Path) -> ClientFiles:
    """A well-formed client certificate from a CA nobody trusts."""
    rogue = pki.issue_ca("dockwiz verify rogue CA", days=2)
    client = pki.issue_client(rogue, "dockwiz-verify-rogue", days=1)
    return _write_pair(scratch / "rogue", client, rogue.cert_pem())


def expired_client(host: Host, scratch: Path) -> ClientFiles | str:
    """A client certificate signed by the REAL CA but expired; needs the CA key (CA_DIR)."""
    if not host.path(f"{pki.CA_DIR}/ca-key.pem").exists():
        return (f"skipped: the CA key is not at {pki.CA_DIR}/ca-key.pem, so no certificate "
                "from the real CA can be made")
    try:
        ca = pki.load_ca(host)
    except DockwizError as exc:
        return f"skipped: cannot load the CA ({exc.message})"
    now = dt.datetime.now(dt.UTC)
    key = pki.generate_key("ecdsa-p256")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockwiz-verify-expired")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=3))
        .not_valid_after(now - dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, None if isinstance(ca.key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    return _write_pair(scratch / "expired", pki.Issued(cert, key), ca.cert_pem())


# -- handoff ---------------------------------------------------------------------------------
def build_handoff(ctx: _Ctx) -> Handoff | None:
    if ctx.mode not in ("tls", "mtls") or ctx.bundle is None or ctx.ca_only or not ctx.targets:
        return None
    primary = ctx.targets[0]
    env_path = ctx.bundle_dir / "env.sh"
    ctx_path = ctx.bundle_dir / "context.txt"
    env_sh, context = pki.client_bundle_text(ctx.bundle_dir.name, ctx.bundle_shown, primary.url)
    with contextlib.suppress(OSError):
        env_sh = env_path.read_text(encoding="utf-8")
    with contextlib.suppress(OSError):
        context = ctx_path.read_text(encoding="utf-8").strip()
    local = str(ctx.bundle_dir)
    return Handoff(bundle_dir=ctx.bundle_shown, endpoint=primary.url, env_sh=env_sh,
                   context_create=context,
                   local_dir=None if local == ctx.bundle_shown else local)


def probe_env_sh(ctx: _Ctx) -> Probe | None:
    """The bundle's env.sh must turn verification on; ``DOCKER_TLS_VERIFY=0`` does NOT turn it
    off (any non-empty value means on, moby#22411), and an unset one means plain HTTP."""
    env_path = ctx.bundle_dir / "env.sh"
    try:
        text = env_path.read_text(encoding="utf-8")
    except OSError:
        return None
    values: dict[str, str] = {}
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            words = shlex.split(line, comments=True)
            if words and words[0] == "export":
                words = words[1:]
            for word in words:
                k, sep, v = word.partition("=")
                if sep:
                    values[k] = v
    verify = values.get("DOCKER_TLS_VERIFY")
    target = f"{ctx.bundle_shown}/env.sh"
    title = "env.sh turns TLS verification on"
    saw = f"DOCKER_TLS_VERIFY={verify!r} DOCKER_HOST={values.get('DOCKER_HOST')!r}"
    if verify == "1":
        return _probe("env-sh", title, target, "succeed", True, saw)
    if verify:
        why = Why(
            "tls-verify-env-misuse",
            f"DOCKER_TLS_VERIFY={verify} reads as 'off' but the docker CLI treats ANY non-empty "
            "value, 0 included, as on; to really disable it the variable must be unset",
            "write export DOCKER_TLS_VERIFY=1 (verification on is what you want)",
        )
    else:
        why = Why(
            "plain-http-to-tls",
            "DOCKER_TLS_VERIFY is not set: the docker CLI then speaks plain HTTP to the TLS port "
            "and fails with 'malformed HTTP response \"\\x15\\x03\\x01...\"'",
            "add export DOCKER_TLS_VERIFY=1 to env.sh",
        )
    return _probe("env-sh", title, target, "succeed", False, saw, why)


# -- orchestration ---------------------------------------------------------------------------
def _plan_probes(ctx: _Ctx, expected_mode: str | None, use_docker_cli: bool) -> list[
    Callable[[], Probe | list[Probe] | None]
]:
    tasks: list[Callable[[], Probe | list[Probe] | None]] = []
    if expected_mode:
        tasks.append(lambda: probe_mode(ctx, expected_mode))
    for ep in ctx.unix:
        tasks.append(functools.partial(probe_unix, ctx, ep))
        tasks.append(functools.partial(probe_socket_perms, ctx, ep))
    tls_mode = ctx.mode in ("tls", "mtls")
    if tls_mode:
        tasks.append(lambda: probe_tls_files(ctx))
        tasks.append(lambda: probe_client_bundle(ctx))
        tasks.append(lambda: probe_env_sh(ctx))
    if ctx.mode in ("unix", "ssh"):
        tasks.append(lambda: probe_observed_tcp(ctx))
    unix_only = ctx.mode in ("unix", "ssh")
    seen_plain: set[tuple[str, int]] = set()
    for i, target in enumerate(ctx.targets):
        if tls_mode:
            tasks += _tls_target_tasks(ctx, target, first=i == 0, use_cli=use_docker_cli)
        key = (target.dial, target.port)
        if key not in seen_plain and not unix_only:
            seen_plain.add(key)
            title = ("plain HTTP to the TLS port" if tls_mode
                     else "plain HTTP, no authentication")
            tasks.append(functools.partial(
                probe_plain_http, ctx, target.dial, target.port, "plain-http", title))
    closed = [(t.dial, t.port) for t in ctx.targets] if unix_only else []
    for dial, port in closed + _closed_ports(ctx):
        if (dial, port) in seen_plain:
            continue
        seen_plain.add((dial, port))
        if unix_only:
            tasks.append(functools.partial(probe_port_closed, ctx, dial, port))
            continue
        title = f"no plain Docker API on port {port}"
        tasks.append(functools.partial(probe_plain_http, ctx, dial, port, "plain-closed", title))
    return tasks


def _tls_target_tasks(
    ctx: _Ctx, target: _Target, *, first: bool, use_cli: bool
) -> list[Callable[[], Probe | list[Probe] | None]]:
    tasks: list[Callable[[], Probe | list[Probe] | None]] = [
        lambda: probe_tls_ping(ctx, target),
        lambda: probe_server_cert(ctx, target),
    ]
    if not first:
        return tasks  # attacks and the CLI on the address clients use; the rest is redundant
    tasks.append(lambda: probe_no_client_cert(ctx, target))
    tasks.append(lambda: probe_foreign_client_cert(
        ctx, target, "rogue-client-cert", "client certificate from a rogue CA",
        lambda: rogue_client(ctx.scratch)))
    tasks.append(lambda: probe_foreign_client_cert(
        ctx, target, "expired-client-cert", "expired client certificate from the real CA",
        lambda: expired_client(ctx.host, ctx.scratch)))
    if use_cli:
        tasks.append(lambda: probe_docker_cli(ctx, target, "flags"))
        tasks.append(lambda: probe_docker_cli(ctx, target, "env"))
    return tasks


def _closed_ports(ctx: _Ctx) -> list[tuple[str, int]]:
    """Where a plain API must not answer: 2375 on every listen address and loopback, every
    former plain listener, and in unix mode also 2376."""
    dials = {t.dial for t in ctx.targets} | {"127.0.0.1"} | set(ctx.addresses[:1])
    ports = [PLAIN_PORT] + ([TLS_PORT] if ctx.mode in ("unix", "ssh") else [])
    if ctx.mode == "tcp":
        ports = [PLAIN_PORT]
    out = [(d, p) for d in sorted(dials) for p in ports]
    for ep in ctx.former:
        if ep.kind == "tcp" and ep.port is not None:
            dials_former = [ctx.addresses[0]] if ep.is_wildcard and ctx.addresses else []
            out += [(d, ep.port) for d in [*dials_former, ep.dial_host]]
    return out


def verify_host(
    host: Host,
    *,
    endpoints: list[str] | None = None,
    bundle_dir: Path | None = None,
    expected_mode: str | None = None,
    use_docker_cli: bool = True,
    former_endpoints: list[str] | None = None,
    timeout: float = PROBE_TIMEOUT,
) -> VerifyReport:
    """Probe every endpoint of ``host`` as a client and as an attacker; never changes it.

    ``endpoints`` default to the daemon's configuration; ``bundle_dir`` (a local path) to
    ``CLIENTS_DIR/dockwiz-client`` under the host root; ``expected_mode`` (unix, ssh, tls, mtls)
    to what the configuration amounts to. ``former_endpoints`` are listeners a change removed:
    they must be shut now.
    """
    if expected_mode is not None and expected_mode not in MODES:
        raise DockwizError(f"unknown mode {expected_mode!r}", f"use one of {', '.join(MODES)}")
    started = time.monotonic()
    from dockwiz.inspect import inspect_host

    state = inspect_host(host)
    eps = [_parse(u) for u in endpoints] if endpoints else _configured(state)
    if not eps:
        eps = [parse_endpoint("unix:///var/run/docker.sock")]
    detected = detect_mode(state, eps)
    mode: DetectedMode = expected_mode if expected_mode is not None else detected  # type: ignore[assignment]
    addresses = _netns_addresses(host)
    tcp = [ep for ep in eps if ep.kind == "tcp"]
    local_bundle, shown = _resolve_bundle(host, bundle_dir)
    bundle, problem = _load_bundle(local_bundle, mode)
    ca_only: str | None = None
    if bundle is None and mode == "tls" and bundle_dir is None:
        found = _server_ca(host, state)
        if found is not None:  # tls mode needs no client cert: the daemon's CA is enough
            bundle, ca_only = ClientFiles(ca=found[0]), found[1]
    with _scratch() as scratch:
        ctx = _Ctx(
            host=host, state=state, mode=mode, detected=detected,
            unix=_unique_sockets(host, eps), tcp=tcp,
            targets=_targets(tcp, addresses), addresses=addresses, bundle_dir=local_bundle,
            bundle_shown=shown, bundle=bundle, bundle_problem=problem, scratch=scratch,
            server_ca=bundle.ca if bundle is not None else _found_path(_server_ca(host, state)),
            ca_only=ca_only,
            timeout=timeout, former=[_parse(u) for u in former_endpoints or []],
        )
        probes = _run(_plan_probes(ctx, expected_mode, use_docker_cli))
    report = VerifyReport(
        host=host.label, mode=mode, detected_mode=detected, expected_mode=expected_mode,
        endpoints=[ep.url for ep in eps], bundle=shown if bundle is not None else None,
        probes=probes, handoff=build_handoff(ctx),
    )
    report.warnings = _warnings(report, state)
    report.passed = bool(probes) and all(p.passed for p in probes) and detected != "unknown"
    report.summary = _summary(report)
    report.duration_s = round(time.monotonic() - started, 3)
    return report


def _unique_sockets(host: Host, eps: list[Endpoint]) -> list[Endpoint]:
    """unix/fd endpoints, one per socket file (``/var/run`` and ``/run`` are often the same)."""
    from dockwiz.inspect import resolve_in_root

    seen: set[Path] = set()
    out: list[Endpoint] = []
    for ep in eps:
        if ep.kind not in ("unix", "fd") or ep.path is None:
            continue
        try:
            local = resolve_in_root(host, ep.path)
        except OSError:
            local = host.path(ep.path)
        if local not in seen:
            seen.add(local)
            out.append(ep)
    return out


def _found_path(found: tuple[Path, str] | None) -> Path | None:
    return found[0] if found is not None else None


def _parse(url: str) -> Endpoint:
    try:
        return parse_endpoint(url)
    except ValueError as exc:
        raise DockwizError(str(exc), "use unix:///PATH or tcp://HOST:PORT") from None


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """A private temp dir for the throwaway rogue/expired client keys, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="dockwiz-verify-") as name:
        yield Path(name)


def _run(tasks: list[Callable[[], Probe | list[Probe] | None]]) -> list[Probe]:
    """Run the probes concurrently, reporting them in the order they were planned."""
    def timed(task: Callable[[], Probe | list[Probe] | None]) -> list[Probe]:
        started = time.monotonic()
        out = task()
        probes = [] if out is None else out if isinstance(out, list) else [out]
        if len(probes) == 1 and not probes[0].duration_s:
            probes[0].duration_s = round(time.monotonic() - started, 4)
        return probes

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="verify") as pool:
        results = list(pool.map(timed, tasks))
    return [p for group in results for p in group]


def _warnings(report: VerifyReport, state: HostState | None) -> list[str]:
    out = [p.warning for p in report.probes if p.warning]
    major = state.version.major if state is not None else None
    if report.detected_mode == "tls" and major is not None:
        nonlocal_tls = [u for u in report.endpoints if _non_loopback(u)]
        if nonlocal_tls and major >= 27:
            out.append(
                f"Docker {major} requires mutual TLS on a non-loopback TCP address "
                f"({', '.join(nonlocal_tls)}): this configuration is against the v27 rule"
            )
    if report.expected_mode is not None and report.detected_mode != report.expected_mode:
        out.append(f"expected mode {report.expected_mode}, found {report.detected_mode}")
    return list(dict.fromkeys(out))


def _non_loopback(url: str) -> bool:
    with contextlib.suppress(ValueError):
        ep = parse_endpoint(url)
        if ep.kind != "tcp" or ep.host in (None, "localhost"):
            return False
        if ep.is_wildcard:
            return True
        assert ep.host is not None
        return not (is_ip(ep.host) and ipaddress.ip_address(ep.host).is_loopback)
    return False


def _summary(report: VerifyReport) -> str:
    failed = report.failed
    skipped = [p for p in report.probes if p.outcome == "skipped"]
    counts = f"{len(report.probes) - len(failed)}/{len(report.probes)} probes as expected"
    if skipped:
        counts += f", {len(skipped)} skipped"
    if report.detected_mode == "unknown":
        return f"NOT VERIFIED: no daemon endpoint found ({counts})"
    if failed:
        ids = ", ".join(dict.fromkeys(p.failure_id or p.id for p in failed))
        return f"NOT SECURED ({report.mode}): {ids} ({counts})"
    if report.mode == "tls":
        return (f"PASSED as tls ({counts}), but clients are NOT authenticated: anyone who can "
                "reach the port controls the daemon")
    return f"SECURED ({report.mode}): {counts}"
