"""run_in_netns against a real network namespace created (and deleted) by the test."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

from dockwiz.errors import DockwizError
from dockwiz.host import Host
from dockwiz.netns import in_host_netns, run_in_netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

ADDRESS = "10.254.77.1"  # exists only inside the test's namespace


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"dwtest-{secrets.token_hex(3)}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "addr", "add", f"{ADDRESS}/32", "dev", "lo")
        yield name
    finally:
        _ip("netns", "del", name)


def test_sockets_made_in_the_namespace_live_there(netns: str) -> None:
    listener = run_in_netns(netns, lambda: _listen(ADDRESS))
    port = listener.getsockname()[1]
    accepted = threading.Thread(target=lambda: listener.accept()[0].close(), daemon=True)
    accepted.start()
    try:
        def dial() -> str:
            with socket.create_connection((ADDRESS, port), timeout=2) as s:
                return str(s.getpeername()[0])

        assert run_in_netns(netns, dial) == ADDRESS
        # from this thread (the machine's namespace) the lab address does not exist
        with pytest.raises(OSError):
            socket.create_connection((ADDRESS, port), timeout=0.5).close()
    finally:
        accepted.join(2)
        listener.close()


def _listen(address: str) -> socket.socket:
    s = socket.socket()
    s.bind((address, 0))
    s.listen(1)
    return s


def test_caller_thread_stays_in_its_namespace(netns: str) -> None:
    before = os.readlink(f"/proc/self/task/{threading.get_native_id()}/ns/net")
    inside = run_in_netns(netns, lambda: os.readlink(
        f"/proc/self/task/{threading.get_native_id()}/ns/net"))
    after = os.readlink(f"/proc/self/task/{threading.get_native_id()}/ns/net")
    assert before == after != inside


def test_exceptions_are_re_raised(netns: str) -> None:
    def boom() -> None:
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        run_in_netns(netns, boom)


def test_missing_namespace_is_a_user_error() -> None:
    with pytest.raises(DockwizError, match="does not exist"):
        run_in_netns("dwtest-never-made", lambda: 1)
    with pytest.raises(DockwizError, match="invalid"):
        run_in_netns("../etc", lambda: 1)


def test_in_host_netns_runs_directly_without_a_namespace(tmp_path) -> None:  # type: ignore[no-untyped-def]
    here = threading.get_ident()
    assert in_host_netns(Host(tmp_path), threading.get_ident) == here


def test_in_host_netns_uses_the_hosts_namespace(tmp_path, netns: str) -> None:  # type: ignore[no-untyped-def]
    def addresses() -> list[str]:
        import psutil

        return [a.address for addrs in psutil.net_if_addrs().values() for a in addrs]

    assert ADDRESS in in_host_netns(Host(tmp_path, netns=netns), addresses)
    assert ADDRESS not in addresses()
