"""hostnet: the one list of a host's addresses, for this machine and for a lab's namespace.

The namespace cases run against a real network namespace the test creates and deletes."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwiz import hostnet
from dockwiz.host import CommandResult, Host
from dockwiz.netns import in_host_netns

ADDRESS = "10.254.78.1"  # exists only inside the test's namespace
BRIDGE = "10.254.79.1"  # on a docker bridge inside it: not where clients dial the daemon

IP_JSON = (
    '[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1"},'
    '{"family":"inet6","local":"::1"}]},'
    '{"ifname":"eth0","addr_info":[{"family":"inet","local":"10.0.0.5"},'
    '{"family":"inet6","local":"fd00::5"},{"family":"inet6","local":"fe80::1"}]},'
    '{"ifname":"docker0","addr_info":[{"family":"inet","local":"172.17.0.1"}]},'
    '{"ifname":"br-1234","addr_info":[{"family":"inet","local":"172.18.0.1"}]}]'
)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (the suite runs as root)")
    name = f"dwtest-{secrets.token_hex(3)}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "addr", "add", f"{ADDRESS}/32", "dev", "lo")
        _ip("-n", name, "link", "add", "docker0", "type", "bridge")
        _ip("-n", name, "addr", "add", f"{BRIDGE}/24", "dev", "docker0")
        _ip("-n", name, "link", "set", "docker0", "up")
        yield name
    finally:
        _ip("netns", "del", name)


def test_parse_ip_addr_json() -> None:
    pairs = hostnet.parse_ip_addr_json(IP_JSON)
    assert ("eth0", "10.0.0.5") in pairs and ("lo", "::1") in pairs
    assert hostnet.parse_ip_addr_json("not json") == []
    assert hostnet.parse_ip_addr_json('{"a": 1}') == []


def test_remote_addresses_drop_loopback_ipv6_and_bridges(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def fake_run(self: Host, argv: list[str], **kw: object) -> CommandResult:
        assert argv == ["ip", "-j", "addr"] and kw.get("in_netns") is True
        return CommandResult(argv=list(argv), returncode=0, stdout=IP_JSON, stderr="",
                             duration_s=0)

    monkeypatch.setattr(Host, "run", fake_run)
    lab = Host(tmp_path, netns="dwlab-x")
    assert hostnet.remote_addresses(lab) == ["10.0.0.5"]
    assert "fd00::5" in hostnet.host_addresses(lab) and "127.0.0.1" in hostnet.host_addresses(lab)


def test_a_sandbox_root_shares_this_machines_addresses_but_has_no_remote_ones(
    tmp_path: Path,
) -> None:
    sandbox = Host(tmp_path)
    assert set(hostnet.host_addresses(sandbox)) == set(hostnet.interface_addresses())
    assert "127.0.0.1" in hostnet.host_addresses(sandbox)
    assert hostnet.remote_addresses(sandbox) == []


def test_a_real_namespace_seen_every_way(tmp_path: Path, netns: str) -> None:
    lab = Host(tmp_path, netns=netns)
    everything = hostnet.host_addresses(lab)
    assert ADDRESS in everything and BRIDGE in everything and "127.0.0.1" in everything
    assert ADDRESS not in hostnet.interface_addresses()  # not this machine's
    assert hostnet.remote_addresses(lab) == [ADDRESS]
    # /proc read on a thread inside the namespace (thread-self) sees the same IPv4 addresses as
    # `ip` and psutil there: the three ways cannot drift apart
    proc = set(in_host_netns(lab, hostnet.interface_addresses))
    psutil_seen = {a for _, a in in_host_netns(lab, hostnet.psutil_interfaces)}
    assert {a for a in everything if ":" not in a} == {a for a in proc if ":" not in a}
    assert {a for a in psutil_seen if ":" not in a} == {a for a in proc if ":" not in a}
