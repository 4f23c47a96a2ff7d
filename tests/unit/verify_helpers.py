"""Real servers on 127.0.0.1 (and unix sockets) for the verify/dockerapi unit tests.

They stand in for dockerd where a daemon is not the point: a Python ``ssl`` server that answers
``/_ping`` like the Docker API, with or without client verification, with whatever certificate
the test hands it. Nothing here is mocked: the client under test opens real sockets.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockwiz import pki

PING_ANSWER = (
    b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 2\r\nConnection: close\r\n\r\nOK"
)
VERSION_BODY = b'{"Version":"20.10.24","ApiVersion":"1.41"}'


def api_answer(request: bytes) -> bytes:
    if request.startswith(b"GET /version"):
        return (
            b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(VERSION_BODY)}\r\n".encode()
            + b"Connection: close\r\n\r\n"
            + VERSION_BODY
        )
    return PING_ANSWER


@dataclass
class Pki:
    """A CA, server certs of several kinds, and client certs good and bad, written to disk."""

    dir: Path
    ca: pki.Issued
    rogue_ca: pki.Issued

    def write(self, name: str, issued: pki.Issued) -> tuple[Path, Path]:
        cert, key = self.dir / f"{name}-cert.pem", self.dir / f"{name}-key.pem"
        cert.write_bytes(issued.cert_pem())
        key.write_bytes(issued.key_pem())
        return cert, key

    @property
    def ca_file(self) -> Path:
        path = self.dir / "ca.pem"
        if not path.exists():
            path.write_bytes(self.ca.cert_pem())
        return path

    @property
    def rogue_ca_file(self) -> Path:
        path = self.dir / "rogue-ca.pem"
        if not path.exists():
            path.write_bytes(self.rogue_ca.cert_pem())
        return path

    def bundle(self, name: str = "bundle") -> Path:
        """A DOCKER_CERT_PATH-style client bundle from the real CA."""
        directory = self.dir / name
        directory.mkdir(exist_ok=True)
        (directory / "ca.pem").write_bytes(self.ca.cert_pem())
        client = pki.issue_client(self.ca, "tester")
        (directory / "cert.pem").write_bytes(client.cert_pem())
        (directory / "key.pem").write_bytes(client.key_pem())
        return directory


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    return Pki(directory, pki.issue_ca("test CA"), pki.issue_ca("rogue CA"))


def raw_leaf(
    ca: pki.Issued,
    cn: str,
    *,
    server: bool,
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    expired: bool = False,
) -> pki.Issued:
    """A leaf pki refuses to make: CN only (no SAN at all), or already expired."""
    key = pki.generate_key("ecdsa-p256")
    now = dt.datetime.now(dt.UTC)
    start, end = (
        (now - dt.timedelta(days=5), now - dt.timedelta(days=1))
        if expired
        else (now - dt.timedelta(minutes=5), now + dt.timedelta(days=5))
    )
    eku = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    )
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return pki.Issued(builder.sign(ca.key, hashes.SHA256()), key)


class Server:
    """A one-thread TCP (or unix) server; ``handle(conn)`` serves each connection."""

    def __init__(self, handle: Callable[[socket.socket], None], unix_path: Path | None = None):
        self._handle = handle
        if unix_path is None:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            _bind_unix(self.sock, unix_path)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                self._handle(conn)
            except (OSError, ssl.SSLError) as exc:
                self.errors.append(exc)
            finally:
                with contextlib.suppress(OSError):
                    conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _bind_unix(sock: socket.socket, path: Path) -> None:
    """Bind also where the path exceeds sun_path (deep pytest temp dirs)."""
    import os

    if len(os.fsencode(path)) <= 107:
        sock.bind(str(path))
        return
    fd = os.open(path.parent, os.O_PATH)
    try:
        sock.bind(f"/proc/self/fd/{fd}/{path.name}")
    finally:
        os.close(fd)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def api_handler(conn: socket.socket) -> None:
    """A plain-HTTP Docker API; like Go's server it answers garbage (a TLS hello) with 400."""
    first = conn.recv(4096)
    if not first[:3].isalpha():
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n400 Bad Request")
        return
    rest = b"" if b"\r\n\r\n" in first else _read_request(conn)
    conn.sendall(api_answer(first + rest))


def tls_handler(ctx: ssl.SSLContext) -> Callable[[socket.socket], None]:
    """Serve one TLS request. A rejected client's socket is closed a moment after the alert,
    as Go does, so the alert is read before the close (an instant close with the client's
    request unread makes the kernel send a reset, and the client may see only that)."""

    def handle(conn: socket.socket) -> None:
        tls = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
            tls.sendall(api_answer(_read_request(tls)))
        except ssl.SSLError:
            time.sleep(0.05)
            raise
        finally:
            tls.close()

    return handle


def server_context(
    cert: Path, key: Path, ca: Path | None, *, max_tls12: bool = False
) -> ssl.SSLContext:
    """Like dockerd: TLS 1.2+, and with ``ca`` client certificates are required (tlsverify)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if max_tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    if ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(str(ca))
    return ctx


@contextlib.contextmanager
def serving(handle: Callable[[socket.socket], None], unix_path: Path | None = None
            ) -> Iterator[Server]:
    server = Server(handle, unix_path)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def tls_server(
    p: Pki, server: pki.Issued, *, verify_clients: bool, max_tls12: bool = False
) -> Iterator[Server]:
    cert, key = p.write(f"server-{id(server)}", server)
    ctx = server_context(cert, key, p.ca_file if verify_clients else None, max_tls12=max_tls12)
    with serving(tls_handler(ctx)) as srv:
        yield srv


def good_server_cert(p: Pki) -> pki.Issued:
    return pki.issue_server(p.ca, ["localhost"], ["127.0.0.1"])
