"""Certificates an admin would not object to: named after their host, SANs clients can dial.

Issue 14 §3: the server certificate's CN was ``localhost`` on a network-facing daemon, every CA
was "dockwiz CA" (two hosts' CAs looked alike in a trust store), and the default SANs held
docker0's 172.17.0.1. These tests pin the host's name (from the root's /etc/hostname and
/etc/hosts), the CN and CA names, and ``default_sans`` for each kind of listen address.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.x509.oid import NameOID

from dockwiz import hostnet, pki
from dockwiz.cli import main
from dockwiz.host import CommandResult, Host


def _named(tmp_path: Path, hostname: str, hosts: str | None = None) -> Host:
    host = Host(tmp_path / "root")
    host.path("/etc").mkdir(parents=True)
    host.path("/etc/hostname").write_text(hostname + "\n")
    if hosts is not None:
        host.path("/etc/hosts").write_text(hosts)
    return host


DEBIAN_HOSTS = "127.0.0.1\tlocalhost\n127.0.1.1\tweb1.example.com\tweb1\n\n# IPv6\n::1 localhost\n"


def _cn(cert: object) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)  # type: ignore[attr-defined]
    return str(attrs[0].value)


# -- the host's name ----------------------------------------------------------------------------
def test_fqdn_comes_from_the_roots_etc_hosts(tmp_path: Path) -> None:
    host = _named(tmp_path, "web1", DEBIAN_HOSTS)
    assert pki.host_names(host) == ["web1.example.com", "web1"]
    assert pki.server_common_name(host, ["localhost"], ["127.0.0.1"]) == "web1.example.com"


def test_an_fqdn_in_etc_hostname_is_taken_as_it_is(tmp_path: Path) -> None:
    host = _named(tmp_path, "Docker1.Corp.Example.")
    assert pki.host_names(host) == ["docker1.corp.example", "docker1"]


def test_localhost_is_never_the_hosts_name(tmp_path: Path) -> None:
    host = _named(tmp_path, "localhost", "127.0.0.1 localhost.localdomain localhost\n")
    assert pki.host_names(host) == []


def test_a_lab_without_hostname_has_no_name_and_its_cn_is_a_dialled_address(
    tmp_path: Path,
) -> None:
    lab = Host(tmp_path, netns="dwlab-7")
    assert pki.host_names(lab) == []
    assert pki.server_common_name(lab, ["localhost"], ["127.0.0.1", "10.77.0.2"]) == "10.77.0.2"
    assert pki.ca_common_name(lab, dt.date(2026, 12, 2)) == "dockwiz CA for dwlab-7 2026-12-02"


def test_a_fifo_as_etc_hostname_does_not_hang(tmp_path: Path) -> None:
    import os

    host = Host(tmp_path, netns="dwlab-8")
    host.path("/etc").mkdir(parents=True)
    os.mkfifo(host.path("/etc/hostname"))
    assert pki.host_names(host) == []  # read through the safe reader: refused, not blocked


# -- CN and CA name -------------------------------------------------------------------------------
def test_ca_name_says_host_and_date_and_fits_a_common_name(tmp_path: Path) -> None:
    host = _named(tmp_path, "web1", DEBIAN_HOSTS)
    day = dt.date(2026, 12, 2)
    assert pki.ca_common_name(host, day) == "dockwiz CA for web1.example.com 2026-12-02"
    long = _named(tmp_path / "long", "a" * 60 + ".example.com")
    name = pki.ca_common_name(long, day)
    assert len(name) <= 64 and name.endswith(" 2026-12-02")
    assert pki.issue_ca(name).common_name == name  # the CA can carry it


def test_default_cn_is_never_localhost_while_another_san_exists(
    ca: pki.Issued,
) -> None:
    server = pki.issue_server(ca, ["localhost", "docker.example.com"], ["127.0.0.1", "10.0.0.5"])
    assert _cn(server.cert) == "docker.example.com"
    by_ip = pki.issue_server(ca, ["localhost"], ["127.0.0.1", "10.0.0.5"])
    assert _cn(by_ip.cert) == "10.0.0.5"
    local_only = pki.issue_server(ca, ["localhost"], ["127.0.0.1"])
    assert _cn(local_only.cert) == "localhost"  # a loopback-only cert is not network-facing


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.issue_ca()


def test_certs_init_names_the_ca_and_server_after_the_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = _named(tmp_path, "web1", DEBIAN_HOSTS)
    code = main(["certs", "init", "--root", str(host.root), "--no-detect",
                 "--san", "10.0.0.5", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert data["ca"]["subject"] == f"CN=dockwiz CA for web1.example.com {today}"
    assert data["server"]["subject"] == "CN=web1.example.com"
    assert data["server"]["sans"] == ["10.0.0.5"]  # explicit --san values kept as given


def test_certs_ca_name_and_cn_options_still_win(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = _named(tmp_path, "web1", DEBIAN_HOSTS)
    code = main(["certs", "init", "--root", str(host.root), "--no-detect", "--san", "10.0.0.5",
                 "--ca-name", "Ops CA", "--cn", "docker-prod", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ca"]["subject"] == "CN=Ops CA"
    assert data["server"]["subject"] == "CN=docker-prod"


# -- default SANs ---------------------------------------------------------------------------------
LAB_IP_JSON = json.dumps([
    {"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1"},
                                   {"family": "inet6", "local": "::1"}]},
    {"ifname": "eth0", "addr_info": [{"family": "inet", "local": "10.77.0.2"},
                                     {"family": "inet6", "local": "fd00::2"},
                                     {"family": "inet6", "local": "fe80::1"}]},
    {"ifname": "docker0", "addr_info": [{"family": "inet", "local": "172.17.0.1"}]},
    {"ifname": "br-0a1b2c", "addr_info": [{"family": "inet", "local": "172.18.0.1"}]},
    {"ifname": "veth12ab", "addr_info": [{"family": "inet6", "local": "fd99::1"}]},
])


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    """A lab host whose namespace has eth0, docker0, a compose bridge and a veth end."""

    def fake_run(self: Host, argv: list[str], **kw: object) -> CommandResult:
        assert argv == ["ip", "-j", "addr"] and kw.get("in_netns")
        return CommandResult(argv=list(argv), returncode=0, stdout=LAB_IP_JSON, stderr="",
                             duration_s=0)

    monkeypatch.setattr(Host, "run", fake_run)
    host = Host(tmp_path, netns="dwlab-9")
    host.path("/etc").mkdir(parents=True)
    host.path("/etc/hostname").write_text("web1\n")
    host.path("/etc/hosts").write_text(DEBIAN_HOSTS)
    return host


def test_wildcard_listen_gives_the_hosts_addresses_without_container_bridges(lab: Host) -> None:
    for wildcard in ("0.0.0.0", "::", "[::]", ""):
        dns, ips = pki.default_sans(lab, wildcard)
        assert dns == ["web1.example.com", "web1", "localhost"]
        assert ips == ["10.77.0.2", "fd00::2", "127.0.0.1", "::1"]
        assert not {"172.17.0.1", "172.18.0.1", "fd99::1", "fe80::1"} & set(ips)
    pki.validate_sans(dns, ips)


def test_specific_listen_address_gives_it_and_the_hosts_names(lab: Host) -> None:
    assert pki.default_sans(lab, "10.77.0.2") == (["web1.example.com", "web1"], ["10.77.0.2"])
    assert pki.default_sans(lab, "[fd00::2]") == (["web1.example.com", "web1"], ["fd00::2"])
    dns, ips = pki.default_sans(lab, "Docker.Example.com")
    assert dns == ["docker.example.com", "web1.example.com", "web1"] and ips == []


def test_loopback_listen_gives_only_loopback(lab: Host) -> None:
    for listen in ("127.0.0.1", "localhost", "::1", "[::1]"):
        assert pki.default_sans(lab, listen) == (["localhost"], ["127.0.0.1", "::1"])
    assert pki.default_sans(lab, "127.0.0.2") == (["localhost"], ["127.0.0.1", "::1", "127.0.0.2"])


FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 172.17.0.0/16 2 0 2
           |-- 172.17.0.0
              /16 link UNICAST
           |-- 172.17.0.1
              /32 host LOCAL
     +-- 192.0.2.0/24 2 0 2
           |-- 192.0.2.2
              /32 host LOCAL
"""
ROUTE = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
)
IF_INET6 = (
    "00000000000000000000000000000001 01 80 10 80       lo\n"
    "fd000000000000000000000000000002 04 40 00 82     eth0\n"
    "fd990000000000000000000000000001 05 40 00 80  docker0\n"
)


def test_this_machines_bridges_are_found_in_proc_without_psutil(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = tmp_path / "net"
    net.mkdir()
    (net / "fib_trie").write_text(FIB_TRIE)
    (net / "route").write_text(ROUTE)
    (net / "if_inet6").write_text(IF_INET6)
    monkeypatch.setattr(hostnet, "_proc_net", lambda: net)
    monkeypatch.setattr(hostnet, "psutil_addresses", lambda: pytest.fail("psutil used"))
    sandbox = _named(tmp_path, "web1", DEBIAN_HOSTS)
    assert hostnet.san_addresses(sandbox) == ["127.0.0.1", "192.0.2.2", "::1", "fd00::2"]
    dns, ips = pki.default_sans(sandbox, "0.0.0.0")
    assert ips == ["192.0.2.2", "fd00::2", "127.0.0.1", "::1"]  # no docker0 172.17.0.1
    assert dns == ["web1.example.com", "web1", "localhost"]
    assert pki.detect_sans(sandbox) == (dns, ips)  # what the TUI offers today, bridges gone


def test_parse_proc_route_keeps_connected_routes_only() -> None:
    routes = hostnet.parse_proc_route(ROUTE)
    assert [(name, str(net)) for name, net in routes] == [
        ("eth0", "192.0.2.0/24"), ("docker0", "172.17.0.0/16")
    ]


def test_certs_server_listen_option_uses_default_sans(
    lab: Host, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dockwiz.commands import certs

    monkeypatch.setattr(certs, "host_from_args", lambda args: lab)
    assert main(["certs", "init", "--root", str(lab.root), "--listen", "10.77.0.2:2376",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["server"]["sans"] == ["web1.example.com", "web1", "10.77.0.2"]
    assert data["server"]["subject"] == "CN=web1.example.com"
    bad = main(["certs", "server", "--root", str(lab.root), "--listen", "10.77.240.999"])
    assert bad != 0
    assert "not an IPv4 address" in capsys.readouterr().err
