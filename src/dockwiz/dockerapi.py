"""A tiny client for the Docker Engine API: unix socket, plain TCP and TLS, stdlib only.

Why not the docker SDK or ``requests``: the probes must see the raw failure (which TLS alert,
which verification error, what bytes came back) to explain it, must run on a thread inside a
lab's network namespace, and must be cheap enough for a health wait that polls. The docker CLI
remains the final judge in verify; this client is the fast, precise one.

Every function either returns an :class:`ApiResponse` (any HTTP status) or raises
:class:`ProbeError` whose ``kind`` is one of a few classes a user can act on (DOMAIN §7).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import BaseModel

from dockwiz.docker_paths import PLAIN_PORT, SOCKET_PATH
from dockwiz.netns import in_host_netns
from dockwiz.unixsock import connect_unix

if TYPE_CHECKING:
    from dockwiz.host import Host

MAX_BODY = 1 << 20
USER_AGENT = "dockwiz-verify"


class ProbeErrorKind(StrEnum):
    """What went wrong, in classes that each have one explanation and one fix."""

    REFUSED = "refused"
    TIMEOUT = "timeout"
    TLS_BAD_CERTIFICATE = "tls_bad_certificate"  # the server rejected our client cert (alert)
    TLS_CERTIFICATE_REQUIRED = "tls_certificate_required"  # TLS 1.3 alert: no cert sent
    TLS_UNKNOWN_CA = "tls_unknown_ca"  # we do not trust the server cert's issuer
    TLS_HOSTNAME_MISMATCH = "tls_hostname_mismatch"  # the dialled name/IP is not in the SANs
    TLS_EXPIRED = "tls_expired"  # the server cert is expired or not yet valid
    NOT_TLS = "not_tls"  # TLS spoken to a port that answers in plain text
    MALFORMED_HTTP = "malformed_http"  # plain HTTP spoken to a TLS port (moby#31888)
    HTTP_ERROR = "http_error"
    OTHER = "other"


class ProbeError(Exception):
    """A failed API call, classified, with the raw message kept for the report."""

    def __init__(self, kind: ProbeErrorKind, message: str) -> None:
        super().__init__(f"{kind.value}: {message}")
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class ApiResponse:
    """One HTTP answer; ``peer_cert`` is the server's DER certificate for TLS calls."""

    status: int
    reason: str
    headers: dict[str, str]
    body: str
    tls_version: str | None = None
    peer_cert: bytes | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class ClientFiles:
    """A client's TLS material as local paths; ``cert``/``key`` absent means no client auth."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None

    @classmethod
    def from_dir(cls, directory: Path) -> ClientFiles:
        """The docker CLI's DOCKER_CERT_PATH layout: ca.pem, cert.pem, key.pem (DOMAIN §5)."""
        return cls(ca=directory / "ca.pem", cert=directory / "cert.pem", key=directory / "key.pem")


class ProbeOutcome(BaseModel):
    """The result of one ``/_ping``: what the apply health wait and the TUI need, nothing more."""

    endpoint: str
    ok: bool
    status: int | None = None
    body: str | None = None
    kind: ProbeErrorKind | None = None
    message: str | None = None
    duration_s: float = 0.0


# -- HTTP over an already connected socket ---------------------------------------------------
def _request(sock: socket.socket, method: str, url: str, host_header: str) -> ApiResponse:
    request = (
        f"{method} {url} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(request.encode("ascii"))
    response = http.client.HTTPResponse(sock, method=method)
    try:
        response.begin()
        body = response.read(MAX_BODY)
    except http.client.RemoteDisconnected as exc:
        raise ProbeError(
            ProbeErrorKind.OTHER, f"connection closed without a response ({exc})"
        ) from None
    except http.client.BadStatusLine as exc:
        raise _bad_status(exc) from None
    except http.client.HTTPException as exc:
        raise ProbeError(ProbeErrorKind.OTHER, f"bad HTTP response: {exc!r}") from None
    finally:
        response.close()
    headers = {k.lower(): v for k, v in response.getheaders()}
    return ApiResponse(
        status=response.status,
        reason=response.reason,
        headers=headers,
        body=body.decode("utf-8", errors="replace"),
    )


def _bad_status(exc: http.client.BadStatusLine) -> ProbeError:
    raw = exc.args[0] if exc.args else ""
    line = raw if isinstance(raw, str) else repr(raw)
    if line.startswith(("\x15\x03", "'\\x15\\x03")):
        return ProbeError(
            ProbeErrorKind.MALFORMED_HTTP,
            f"malformed HTTP response {line!r}: the port answered with a TLS alert",
        )
    return ProbeError(ProbeErrorKind.OTHER, f"malformed HTTP response {line!r}")


# -- connecting ------------------------------------------------------------------------------
def _connect_tcp(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout=timeout)


@contextlib.contextmanager
def _classified(what: str) -> Iterator[None]:
    """Turn socket, TLS and HTTP exceptions into a ProbeError saying what was tried."""
    try:
        yield
    except ProbeError:
        raise
    except ssl.SSLCertVerificationError as exc:
        raise _classify_verify(exc) from None
    except ssl.SSLError as exc:
        raise _classify_ssl(exc) from None
    except ConnectionRefusedError:
        raise ProbeError(ProbeErrorKind.REFUSED, f"{what}: connection refused") from None
    except FileNotFoundError:
        raise ProbeError(ProbeErrorKind.REFUSED, f"{what}: no such socket") from None
    except TimeoutError:
        raise ProbeError(ProbeErrorKind.TIMEOUT, f"{what}: timed out") from None
    except ConnectionResetError:
        raise ProbeError(ProbeErrorKind.OTHER, f"{what}: connection reset by peer") from None
    except OSError as exc:
        raise ProbeError(ProbeErrorKind.OTHER, f"{what}: {exc.strerror or exc}") from None


# OpenSSL X509_V_ERR_* codes (x509_vfy.h)
_VERIFY_EXPIRED = {9, 10}
_VERIFY_UNKNOWN_CA = {2, 18, 19, 20, 21}
_VERIFY_NAME = {62, 63, 64}


def _classify_verify(exc: ssl.SSLCertVerificationError) -> ProbeError:
    code = exc.verify_code
    message = f"server certificate rejected: {exc.verify_message} (code {code})"
    if code in _VERIFY_NAME:
        return ProbeError(ProbeErrorKind.TLS_HOSTNAME_MISMATCH, message)
    if code in _VERIFY_EXPIRED:
        return ProbeError(ProbeErrorKind.TLS_EXPIRED, message)
    if code in _VERIFY_UNKNOWN_CA:
        return ProbeError(ProbeErrorKind.TLS_UNKNOWN_CA, message)
    return ProbeError(ProbeErrorKind.OTHER, message)


# Alerts the *server* sent about our client certificate (OpenSSL reason names).
_ALERT_CERT_REQUIRED = {"TLSV13_ALERT_CERTIFICATE_REQUIRED"}
_ALERT_BAD_CERT = {
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "SSLV3_ALERT_CERTIFICATE_REVOKED",
    "TLSV1_ALERT_DECRYPT_ERROR",
    "SSLV3_ALERT_HANDSHAKE_FAILURE",
}
_NOT_TLS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"}


def _alert_text(reason: str) -> str:
    """'SSLV3_ALERT_BAD_CERTIFICATE' -> 'remote error: tls: bad certificate' (Go's wording,
    the one users search for)."""
    name = reason.split("_ALERT_", 1)[-1].lower().replace("_", " ")
    return f"remote error: tls: {name}"


def _classify_ssl(exc: ssl.SSLError) -> ProbeError:
    reason = exc.reason or ""
    text = str(exc)
    if reason in _ALERT_CERT_REQUIRED:
        return ProbeError(ProbeErrorKind.TLS_CERTIFICATE_REQUIRED, _alert_text(reason))
    if reason in _ALERT_BAD_CERT:
        return ProbeError(ProbeErrorKind.TLS_BAD_CERTIFICATE, _alert_text(reason))
    if reason in _NOT_TLS:
        return ProbeError(ProbeErrorKind.NOT_TLS, f"the port does not speak TLS: {text}")
    if isinstance(exc, ssl.SSLEOFError) or "UNEXPECTED_EOF" in reason:
        return ProbeError(ProbeErrorKind.OTHER, f"server closed the TLS connection: {text}")
    return ProbeError(ProbeErrorKind.OTHER, text)


# -- public calls ----------------------------------------------------------------------------
def get_unix(path: Path, url: str, timeout: float = 5.0) -> ApiResponse:
    """GET ``url`` over the daemon's unix socket at local path ``path``."""
    with _classified(f"unix socket {path}"):
        sock = connect_unix(path, timeout)
        with sock:
            return _request(sock, "GET", url, "docker")


def ping_unix(path: Path, timeout: float = 5.0) -> ApiResponse:
    return get_unix(path, "/_ping", timeout)


def plain_http(host: str, port: int, url: str = "/_ping", timeout: float = 5.0) -> ApiResponse:
    """Plain HTTP to a TCP port, as ``DOCKER_HOST=tcp://`` without TLS (or an attacker) does.

    A Go TLS server answers plain HTTP either with a TLS alert (old Go: the client sees
    '\\x15\\x03\\x01') or, since Go 1.12, with "400 ... HTTP request to an HTTPS server";
    both mean the port speaks TLS and are reported as ``malformed_http``.
    """
    try:
        with _classified(f"tcp {host}:{port}"):
            sock = _connect_tcp(host, port, timeout)
            with sock:
                response = _request(sock, "GET", url, _host_header(host, port))
    except ProbeError as exc:
        # OpenSSL servers just drop a plain-text client; ask in TLS whether that was why.
        if exc.kind is ProbeErrorKind.OTHER and speaks_tls(host, port, timeout):
            raise ProbeError(
                ProbeErrorKind.MALFORMED_HTTP,
                f"{exc.message} (the port answers a TLS handshake)",
            ) from None
        raise
    if response.status == 400 and "HTTPS server" in response.body:
        raise ProbeError(
            ProbeErrorKind.MALFORMED_HTTP, f"HTTP {response.status} {response.body.strip()!r}"
        )
    return response


def tls_context(
    ca: Path | None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """A client context as strict as Go's: TLS 1.2+, SANs only (no CN fallback), CA pinned.

    ``ca=None`` gives an unverified context, used only to fetch a server certificate in order
    to explain why it was rejected.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.hostname_checks_common_name = False  # Go ignores the legacy CN (DOMAIN §6)
        ctx.load_verify_locations(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key) if key is not None else None)
    return ctx


def tls_request(
    host: str,
    port: int,
    method: str = "GET",
    url: str = "/_ping",
    *,
    ca: Path | None,
    cert: Path | None = None,
    key: Path | None = None,
    server_hostname: str | None = None,
    timeout: float = 5.0,
) -> ApiResponse:
    """One HTTPS request; the answer is always read, since TLS 1.3 servers reject a missing
    or untrusted client certificate only after the client's handshake has completed."""
    try:
        ctx = tls_context(ca, cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ProbeError(ProbeErrorKind.OTHER, f"cannot load client TLS files: {exc}") from None
    name = server_hostname or host
    with _classified(f"tls {host}:{port}"):
        raw = _connect_tcp(host, port, timeout)
        with ctx.wrap_socket(raw, server_hostname=name) as tls:
            peer = tls.getpeercert(binary_form=True)
            version = tls.version()
            response = _request(tls, method, url, _host_header(name, port))
    return ApiResponse(
        status=response.status,
        reason=response.reason,
        headers=response.headers,
        body=response.body,
        tls_version=version,
        peer_cert=peer,
    )


def fetch_server_cert(host: str, port: int, timeout: float = 5.0) -> bytes | None:
    """The server's leaf certificate without verifying it, to explain a verification failure."""
    ctx = tls_context(None)
    try:
        with _connect_tcp(host, port, timeout) as raw, ctx.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None


def speaks_tls(host: str, port: int, timeout: float = 5.0) -> bool:
    """Whether the port answers a TLS ClientHello with TLS (a handshake or a TLS alert)."""
    ctx = tls_context(None)
    try:
        with _connect_tcp(host, port, timeout) as raw, ctx.wrap_socket(raw):
            return True
    except ssl.SSLError as exc:
        return _classify_ssl(exc).kind in (
            ProbeErrorKind.TLS_BAD_CERTIFICATE,
            ProbeErrorKind.TLS_CERTIFICATE_REQUIRED,
        )
    except OSError:
        return False


def _host_header(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- endpoints -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """A daemon address as configured (``-H``/``hosts``), and where a client dials it."""

    url: str
    kind: str  # unix | tcp | fd
    path: str | None = None  # host path of a unix socket
    host: str | None = None  # as configured, may be a wildcard
    port: int | None = None

    @property
    def dial_host(self) -> str:
        """Wildcards are dialled on loopback: the daemon listens there too."""
        if self.host is None or self.host == IPV4_ANY:
            return "127.0.0.1"
        if self.host == "::":
            return "::1"
        return self.host

    @property
    def is_wildcard(self) -> bool:
        return self.host in (IPV4_ANY, "::")


IPV4_ANY = "0.0.0.0"  # noqa: S104 - recognised in configs, never bound


def parse_endpoint(url: str) -> Endpoint:
    """Parse ``unix:///p``, ``tcp://h:p``, ``fd://``; a bare ``h:p`` is TCP like dockerd's -H."""
    text = url.strip()
    if text.startswith("fd://"):
        return Endpoint(url=text, kind="fd", path=SOCKET_PATH)
    if text.startswith("unix://"):
        return Endpoint(url=text, kind="unix", path=text[len("unix://") :] or SOCKET_PATH)
    if text.startswith("/"):
        return Endpoint(url=f"unix://{text}", kind="unix", path=text)
    if "://" not in text:
        text = f"tcp://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("tcp", "http", "https"):
        raise ValueError(f"unsupported endpoint {url!r}: use unix:///PATH or tcp://HOST:PORT")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in endpoint {url!r}") from None
    host = parts.hostname or "localhost"  # dockerd reads ``tcp://:P`` as localhost
    if port is None:
        port = PLAIN_PORT  # dockerd's default for a TCP host without a port
    return Endpoint(url=f"tcp://{_host_header(host, port)}", kind="tcp", host=host, port=port)


def ping_endpoint(
    host: Host,
    endpoint_url: str,
    bundle: ClientFiles | None,
    timeout: float = 2.0,
) -> ProbeOutcome:
    """``GET /_ping`` on one endpoint, the way a client of the configured mode would.

    unix/fd endpoints use the socket file under the host root; TCP endpoints use TLS with
    ``bundle`` (client cert optional) or plain HTTP when ``bundle`` is None, inside the host's
    network namespace. Never raises for a daemon that does not answer: that is the outcome.
    """
    started = time.monotonic()
    try:
        ep = parse_endpoint(endpoint_url)
        call = _ping_call(host, ep, bundle, timeout)
        response = call() if ep.kind != "tcp" else in_host_netns(host, call)
    except ProbeError as exc:
        return ProbeOutcome(
            endpoint=endpoint_url, ok=False, kind=exc.kind, message=exc.message,
            duration_s=time.monotonic() - started,
        )
    except ValueError as exc:
        return ProbeOutcome(
            endpoint=endpoint_url, ok=False, kind=ProbeErrorKind.OTHER, message=str(exc),
            duration_s=time.monotonic() - started,
        )
    return ProbeOutcome(
        endpoint=endpoint_url,
        ok=response.ok,
        status=response.status,
        body=response.body[:200],
        kind=None if response.ok else ProbeErrorKind.HTTP_ERROR,
        message=None if response.ok else f"HTTP {response.status} {response.reason}",
        duration_s=time.monotonic() - started,
    )


def _ping_call(
    host: Host, ep: Endpoint, bundle: ClientFiles | None, timeout: float
) -> Callable[[], ApiResponse]:
    if ep.kind in ("unix", "fd"):
        assert ep.path is not None
        try:  # a sandbox's var/run -> /run must mean the sandbox's /run, not this machine's
            local = host.resolve(ep.path)
        except OSError:
            local = host.path(ep.path)
        return lambda: ping_unix(local, timeout)
    assert ep.port is not None
    dial, port = ep.dial_host, ep.port
    if bundle is None:
        return lambda: plain_http(dial, port, "/_ping", timeout)
    return lambda: tls_request(
        dial, port, "GET", "/_ping", ca=bundle.ca, cert=bundle.cert, key=bundle.key,
        timeout=timeout,
    )
