"""The Docker API client's error classification, against real servers on 127.0.0.1.

Every class a probe reports (DOMAIN §7) is produced here by a real Python ``ssl`` server in the
situation that causes it: mutual TLS with good, missing, rogue and expired client certificates;
server certificates without the IP SAN, with only a CN, expired, or from another CA; plain HTTP
to a TLS port and TLS to a plain port.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from verify_helpers import (
    Pki,
    api_handler,
    good_server_cert,
    make_pki,
    raw_leaf,
    serving,
    tls_server,
)

from dockwiz import pki
from dockwiz.dockerapi import (
    ClientFiles,
    ProbeError,
    ProbeErrorKind,
    fetch_server_cert,
    get_unix,
    parse_endpoint,
    ping_endpoint,
    ping_unix,
    plain_http,
    speaks_tls,
    tls_request,
)
from dockwiz.host import Host


@pytest.fixture(scope="module")
def p(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _kind(call) -> ProbeErrorKind:  # type: ignore[no-untyped-def]
    with pytest.raises(ProbeError) as info:
        call()
    return info.value.kind


# -- mutual TLS --------------------------------------------------------------------------------
def test_mtls_with_bundle_reads_ping(p: Pki) -> None:
    bundle = ClientFiles.from_dir(p.bundle())
    with tls_server(p, good_server_cert(p), verify_clients=True) as srv:
        resp = tls_request("127.0.0.1", srv.port, ca=bundle.ca, cert=bundle.cert, key=bundle.key)
    assert resp.ok and resp.body == "OK"
    assert resp.tls_version == "TLSv1.3"
    assert resp.headers["api-version"] == "1.41"
    assert resp.peer_cert is not None


def test_missing_client_cert_is_refused_on_first_read_tls13(p: Pki) -> None:
    """TLS 1.3: the handshake completes, the rejection arrives on the first read."""
    with tls_server(p, good_server_cert(p), verify_clients=True) as srv:
        kind = _kind(lambda: tls_request("127.0.0.1", srv.port, ca=p.ca_file))
    assert kind is ProbeErrorKind.TLS_CERTIFICATE_REQUIRED


def test_missing_client_cert_tls12_is_a_rejection_too(p: Pki) -> None:
    with tls_server(p, good_server_cert(p), verify_clients=True, max_tls12=True) as srv:
        kind = _kind(lambda: tls_request("127.0.0.1", srv.port, ca=p.ca_file))
    assert kind is ProbeErrorKind.TLS_BAD_CERTIFICATE


def test_rogue_client_cert_is_bad_certificate(p: Pki) -> None:
    cert, key = p.write("rogue-client", pki.issue_client(p.rogue_ca, "tester"))
    with tls_server(p, good_server_cert(p), verify_clients=True) as srv:
        kind = _kind(lambda: tls_request("127.0.0.1", srv.port, ca=p.ca_file, cert=cert, key=key))
    assert kind is ProbeErrorKind.TLS_BAD_CERTIFICATE


def test_expired_client_cert_is_bad_certificate(p: Pki) -> None:
    cert, key = p.write("expired-client", raw_leaf(p.ca, "old", server=False, expired=True))
    with tls_server(p, good_server_cert(p), verify_clients=True) as srv, \
            pytest.raises(ProbeError) as info:
        tls_request("127.0.0.1", srv.port, ca=p.ca_file, cert=cert, key=key)
    assert info.value.kind is ProbeErrorKind.TLS_BAD_CERTIFICATE
    assert "expired" in info.value.message


# -- the server's certificate ------------------------------------------------------------------
def test_tls_only_server_lets_a_certless_client_in(p: Pki) -> None:
    with tls_server(p, good_server_cert(p), verify_clients=False) as srv:
        resp = tls_request("127.0.0.1", srv.port, ca=p.ca_file)
    assert resp.ok


def test_server_cert_without_ip_san_is_a_hostname_mismatch(p: Pki) -> None:
    no_ip = pki.issue_server(p.ca, ["localhost"], [])
    with tls_server(p, no_ip, verify_clients=False) as srv:
        with pytest.raises(ProbeError) as info:
            tls_request("127.0.0.1", srv.port, ca=p.ca_file)
        assert "127.0.0.1" in info.value.message
        # dialling a name the cert does carry works: the SAN is the only problem
        assert tls_request("127.0.0.1", srv.port, ca=p.ca_file, server_hostname="localhost").ok
    assert info.value.kind is ProbeErrorKind.TLS_HOSTNAME_MISMATCH


def test_cn_only_server_cert_is_rejected_even_for_its_cn(p: Pki) -> None:
    """Like Go: the legacy CN is never used for the host check."""
    cn_only = raw_leaf(p.ca, "localhost", server=True)
    with tls_server(p, cn_only, verify_clients=False) as srv:
        kind = _kind(lambda: tls_request("127.0.0.1", srv.port, ca=p.ca_file,
                                         server_hostname="localhost"))
    assert kind is ProbeErrorKind.TLS_HOSTNAME_MISMATCH


def test_server_cert_from_another_ca_is_unknown_ca(p: Pki) -> None:
    rogue = pki.issue_server(p.rogue_ca, ["localhost"], ["127.0.0.1"])
    with tls_server(p, rogue, verify_clients=False) as srv:
        kind = _kind(lambda: tls_request("127.0.0.1", srv.port, ca=p.ca_file))
    assert kind is ProbeErrorKind.TLS_UNKNOWN_CA


def test_expired_server_cert(p: Pki) -> None:
    old = raw_leaf(p.ca, "localhost", server=True, ips=("127.0.0.1",), expired=True)
    with tls_server(p, old, verify_clients=False) as srv:
        kind = _kind(lambda: tls_request("127.0.0.1", srv.port, ca=p.ca_file))
    assert kind is ProbeErrorKind.TLS_EXPIRED


def test_fetch_server_cert_without_verifying(p: Pki) -> None:
    no_ip = pki.issue_server(p.ca, ["localhost"], [])
    with tls_server(p, no_ip, verify_clients=True) as srv:
        der = fetch_server_cert("127.0.0.1", srv.port)
    assert der == no_ip.cert.public_bytes(__import__("cryptography.hazmat.primitives.serialization",
                                                      fromlist=["Encoding"]).Encoding.DER)


# -- plain and TLS mixed up -------------------------------------------------------------------
def test_plain_http_to_tls_port_is_malformed_http(p: Pki) -> None:
    with tls_server(p, good_server_cert(p), verify_clients=True) as srv:
        assert speaks_tls("127.0.0.1", srv.port)
        kind = _kind(lambda: plain_http("127.0.0.1", srv.port))
    assert kind is ProbeErrorKind.MALFORMED_HTTP


def test_tls_alert_bytes_in_place_of_http_is_malformed_http() -> None:
    """What a Go < 1.12 daemon sends to a plain-HTTP client (moby#31888)."""

    def alert(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"\x15\x03\x01\x00\x02\x02\x16")

    with serving(alert) as srv, pytest.raises(ProbeError) as info:
        plain_http("127.0.0.1", srv.port)
    assert info.value.kind is ProbeErrorKind.MALFORMED_HTTP
    assert "\\x15\\x03\\x01" in info.value.message


def test_go_style_400_to_plain_http_is_malformed_http() -> None:
    def go_answer(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS "
                     b"server.\n")

    with serving(go_answer) as srv:
        kind = _kind(lambda: plain_http("127.0.0.1", srv.port))
    assert kind is ProbeErrorKind.MALFORMED_HTTP


def test_plain_api_answers_plain_http_and_tls_is_not_tls(p: Pki) -> None:
    with serving(api_handler) as srv:
        resp = plain_http("127.0.0.1", srv.port)
        assert resp.ok and resp.body == "OK"
        assert not speaks_tls("127.0.0.1", srv.port)
        kind = _kind(lambda: tls_request("127.0.0.1", srv.port, ca=p.ca_file))
    assert kind is ProbeErrorKind.NOT_TLS


def test_refused_and_timeout() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        assert _kind(lambda: plain_http("127.0.0.1", port)) is ProbeErrorKind.REFUSED

    def silent(conn: socket.socket) -> None:
        time.sleep(1.0)

    with serving(silent) as srv:
        started = time.monotonic()
        kind = _kind(lambda: plain_http("127.0.0.1", srv.port, timeout=0.3))
        assert time.monotonic() - started < 0.9
    assert kind is ProbeErrorKind.TIMEOUT


# -- unix socket -------------------------------------------------------------------------------
def test_unix_socket_with_a_path_longer_than_sun_path(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    sock_path = deep / "docker.sock"
    assert len(str(sock_path)) > 108
    with serving(api_handler, unix_path=sock_path):
        assert ping_unix(sock_path).body == "OK"
        assert '"ApiVersion":"1.41"' in get_unix(sock_path, "/version").body
    with pytest.raises(ProbeError) as info:
        ping_unix(tmp_path / "missing.sock")
    assert info.value.kind is ProbeErrorKind.REFUSED


# -- ping_endpoint (the apply health wait) -----------------------------------------------------
def test_ping_endpoint_unix_under_root_and_tls(tmp_path: Path, p: Pki) -> None:
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (root / "var").mkdir()
    (root / "var" / "run").symlink_to("/run")  # must mean the root's /run, not this machine's
    host = Host(root)
    bundle = ClientFiles.from_dir(p.bundle("ping-bundle"))
    with serving(api_handler, unix_path=root / "run" / "docker.sock"), \
            tls_server(p, good_server_cert(p), verify_clients=True) as srv:
        unix = ping_endpoint(host, "unix:///var/run/docker.sock", None, 2.0)
        assert unix.ok and unix.status == 200 and unix.body == "OK"
        tls = ping_endpoint(host, f"tcp://127.0.0.1:{srv.port}", bundle, 2.0)
        assert tls.ok, tls
        no_cert = ping_endpoint(host, f"tcp://127.0.0.1:{srv.port}", ClientFiles(ca=bundle.ca))
        assert not no_cert.ok and no_cert.kind is ProbeErrorKind.TLS_CERTIFICATE_REQUIRED
        plain = ping_endpoint(host, f"tcp://127.0.0.1:{srv.port}", None)
        assert not plain.ok and plain.kind is ProbeErrorKind.MALFORMED_HTTP
    gone = ping_endpoint(host, "unix:///var/run/docker.sock", None)
    assert not gone.ok and gone.kind is ProbeErrorKind.REFUSED
    bad = ping_endpoint(host, "ftp://x", None)
    assert not bad.ok and bad.kind is ProbeErrorKind.OTHER


# -- endpoint parsing --------------------------------------------------------------------------
def test_parse_endpoint_forms() -> None:
    assert parse_endpoint("fd://").kind == "fd"
    assert parse_endpoint("unix:///run/x.sock").path == "/run/x.sock"
    assert parse_endpoint("unix://").path == "/var/run/docker.sock"
    ep = parse_endpoint("tcp://0.0.0.0:2376")
    assert ep.is_wildcard and ep.dial_host == "127.0.0.1"
    assert parse_endpoint("tcp://[::]:2376").dial_host == "::1"
    assert parse_endpoint("tcp://:2375").dial_host == "localhost"
    assert parse_endpoint("10.0.0.5").port == 2375
    with pytest.raises(ValueError):
        parse_endpoint("ssh://user@host")


@given(
    st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(lambda a: f"[{a}]")),
    st.integers(1, 65535),
)
def test_parse_endpoint_roundtrip(host: str, port: int) -> None:
    ep = parse_endpoint(f"tcp://{host}:{port}")
    assert ep.kind == "tcp" and ep.port == port
    assert ep.url == f"tcp://{host}:{port}"
    assert parse_endpoint(ep.url) == ep


@given(st.text(max_size=40))
def test_parse_endpoint_raises_only_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_endpoint(text)
