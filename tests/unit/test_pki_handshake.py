"""Real TLS handshakes with the certificates pki issues: a Python ``ssl`` server on 127.0.0.1
that requires client certificates (as dockerd with tlsverify does), and clients that must be
accepted (our client cert) or refused (no cert, another CA's cert, a name not in the SANs).

With TLS 1.3 the server's verdict on the client certificate arrives after the handshake, so
every client sends a byte and reads the answer before it counts as accepted.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockwiz import pki


@dataclass
class Material:
    ca: pki.Issued
    server: pki.Issued
    client: pki.Issued
    other_client: pki.Issued  # same name, issued by an unrelated CA
    rogue_server: pki.Issued  # right names, issued by an unrelated CA


_CACHE: dict[str, Material] = {}


def material(key_type: pki.KeyType) -> Material:
    if key_type not in _CACHE:
        ca = pki.issue_ca(key_type=key_type)
        other_ca = pki.issue_ca("evil CA", key_type="ecdsa-p256")
        _CACHE[key_type] = Material(
            ca=ca,
            server=pki.issue_server(ca, ["localhost"], ["127.0.0.1", "::1"], key_type=key_type),
            client=pki.issue_client(ca, "laptop", key_type=key_type),
            other_client=pki.issue_client(other_ca, "laptop"),
            rogue_server=pki.issue_server(other_ca, ["localhost"], ["127.0.0.1"]),
        )
    return _CACHE[key_type]


def _files(tmp: Path, name: str, issued: pki.Issued) -> tuple[str, str]:
    cert, key = tmp / f"{name}-cert.pem", tmp / f"{name}-key.pem"
    cert.write_bytes(issued.cert_pem())
    key.write_bytes(issued.key_pem())
    return str(cert), str(key)


class MtlsServer:
    """Accepts connections, requires a client cert signed by the CA, answers b'ok' to a byte."""

    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.ctx = ctx
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            raw.settimeout(5)
            try:
                with self.ctx.wrap_socket(raw, server_side=True) as conn:
                    if conn.recv(1):
                        conn.sendall(b"ok")
            except (ssl.SSLError, OSError) as exc:
                self.errors.append(str(exc))
            finally:
                raw.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=5)


@contextlib.contextmanager
def serving(tmp: Path, ca: pki.Issued, server: pki.Issued, tls13: bool) -> Iterator[MtlsServer]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*_files(tmp, "server", server))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=ca.cert_pem().decode())
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    srv = MtlsServer(ctx)
    try:
        yield srv
    finally:
        srv.close()


def talk(tmp: Path, port: int, ca: pki.Issued, client: pki.Issued | None, server_name: str) -> str:
    """'ok' when the server accepted us; otherwise the error that ended the exchange."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca.cert_pem().decode())
    if client is not None:
        ctx.load_cert_chain(*_files(tmp, "client", client))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname=server_name) as conn,
        ):
            conn.sendall(b"x")
            answer = conn.recv(2)
            return answer.decode() if answer else "closed by server"
    except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
        return f"error: {exc}"


KEY_TYPES: list[pki.KeyType] = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "ed25519"]


@pytest.mark.parametrize("tls13", [True, False], ids=["tls1.3", "tls1.2"])
@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_mutual_tls_accepts_our_client_and_refuses_the_rest(
    tmp_path: Path, key_type: pki.KeyType, tls13: bool
) -> None:
    m = material(key_type)
    with serving(tmp_path, m.ca, m.server, tls13) as srv:
        # accepted: our client, by every name and address in the SANs
        for name in ("localhost", "127.0.0.1"):
            assert talk(tmp_path, srv.port, m.ca, m.client, name) == "ok", name
        # refused: no client certificate (TLS 1.3: only seen on the first read)
        assert talk(tmp_path, srv.port, m.ca, None, "localhost") != "ok"
        # refused: a client certificate from another CA
        assert talk(tmp_path, srv.port, m.ca, m.other_client, "localhost") != "ok"
        # refused by the client: a name that is not in the SANs
        result = talk(tmp_path, srv.port, m.ca, m.client, "docker.example.com")
        assert result.startswith("error") and "match" in result, result
        # refused by the client: an IP that is not in the SANs
        assert talk(tmp_path, srv.port, m.ca, m.client, "127.0.0.2").startswith("error")
        assert any("certificate" in e for e in srv.errors), srv.errors


def test_rsa_4096_option_handshakes(tmp_path: Path) -> None:
    m = material("rsa-4096")
    with serving(tmp_path, m.ca, m.server, tls13=True) as srv:
        assert talk(tmp_path, srv.port, m.ca, m.client, "127.0.0.1") == "ok"
        assert talk(tmp_path, srv.port, m.ca, None, "127.0.0.1") != "ok"


def test_client_refuses_a_server_from_another_ca(tmp_path: Path) -> None:
    m = material("ecdsa-p256")
    with serving(tmp_path, m.ca, m.rogue_server, tls13=True) as srv:
        result = talk(tmp_path, srv.port, m.ca, m.client, "localhost")
    assert result.startswith("error") and "certificate verify failed" in result


def test_a_client_certificate_cannot_serve(tmp_path: Path) -> None:
    """The client cert carries clientAuth only: a client refuses it as a server's."""
    m = material("ecdsa-p256")
    with serving(tmp_path, m.ca, m.client, tls13=True) as srv:
        result = talk(tmp_path, srv.port, m.ca, m.client, "localhost")
    assert result.startswith("error")


def test_written_bundle_and_daemon_files_handshake(tmp_path: Path) -> None:
    """The files as stored (daemon dir and client bundle) are what the handshake uses."""
    from dockwiz.host import Host

    host = Host(tmp_path / "root")
    m = material("ecdsa-p256")
    pki.write_ca(host, m.ca)
    pki.write_server_material(host, m.ca, m.server)
    bundle = pki.write_client_bundle(host, m.ca, m.client, "laptop", "127.0.0.1")
    ca_path, cert_path, key_path = pki.server_paths()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(host.path(cert_path), host.path(key_path))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(host.path(ca_path))
    srv = MtlsServer(ctx)
    try:
        cdir = host.path(bundle.dir)
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.load_verify_locations(cdir / "ca.pem")
        cctx.load_cert_chain(cdir / "cert.pem", cdir / "key.pem")
        with (
            socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw,
            cctx.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
        ):
            conn.sendall(b"x")
            assert conn.recv(2) == b"ok"
    finally:
        srv.close()
