"""procnet: a process's listeners from /proc, in its own network namespace."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockwiz.procnet import (
    decode_ipv4,
    decode_ipv6,
    is_loopback,
    listeners_of,
    parse_tcp_table,
    parse_unix_table,
)

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0937 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1
   1: 0100007F:0938 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1
   2: 0100007F:0939 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 3333 1
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue \
rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0948 00000000000000000000000000000000:0000 0A \
00000000:00000000 00:00000000 00000000     0        0 4444 1
"""
UNIX = """\
Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 5555 /run/docker.sock
0000000000000000: 00000002 00000000 00010000 0001 01 6666 @/containerd-shim/abc.sock
0000000000000000: 00000003 00000000 00000000 0001 03 7777 /run/docker.sock
0000000000000000: 00000002 00000000 00000000 0002 01 8888
"""


def test_tcp_table_listen_rows_only() -> None:
    found = parse_tcp_table(TCP, v6=False)
    assert [(x.address, x.loopback) for x in found] == [
        ("tcp://0.0.0.0:2359", False), ("tcp://127.0.0.1:2360", True)]
    assert [x.address for x in parse_tcp_table(TCP, v6=False, inodes={2222})] == [
        "tcp://127.0.0.1:2360"]
    six = parse_tcp_table(TCP6, v6=True)
    assert [(x.address, x.host, x.port, x.loopback) for x in six] == [
        ("tcp://[::1]:2376", "::1", 2376, True)]


def test_unix_table_listening_named_sockets_only() -> None:
    assert [x.address for x in parse_unix_table(UNIX)] == ["unix:///run/docker.sock"]
    assert parse_unix_table(UNIX, inodes={6666, 7777}) == []


def test_address_decoding() -> None:
    assert decode_ipv4("0100007F") == "127.0.0.1"
    assert decode_ipv4("054D4D0A") == "10.77.77.5"
    assert decode_ipv6("00000000000000000000000001000000") == "::1"
    assert is_loopback("localhost") and is_loopback("127.8.9.10") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("docker")


@given(st.text(max_size=300))
def test_parsers_never_raise(text: str) -> None:
    parse_tcp_table(text, v6=False)
    parse_tcp_table(text, v6=True)
    parse_unix_table(text)


def test_listeners_of_this_process() -> None:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    port = tcp.getsockname()[1]
    with tempfile.TemporaryDirectory() as d:
        unix = socket.socket(socket.AF_UNIX)
        unix.bind(f"{d}/api.sock")
        unix.listen()
        try:
            found = listeners_of(os.getpid())
        finally:
            unix.close()
            tcp.close()
    addrs = {x.address for x in found.listeners}
    assert f"tcp://127.0.0.1:{port}" in addrs
    assert f"unix://{d}/api.sock" in addrs
    assert found.unreadable == []


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_listeners_in_another_network_namespace() -> None:
    """A listener inside a namespace is found through the PID's own /proc/PID/net view, and
    is NOT visible in ours (which is why psutil.net_connections would miss it)."""
    code = ("import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1',47613)); "
            "s.listen(); print('up',flush=True); time.sleep(30)")
    proc = subprocess.Popen(["unshare", "--net", "python3", "-c", code],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        found = listeners_of(proc.pid)
        assert [x.address for x in found.listeners] == ["tcp://127.0.0.1:47613"]
        ours = Path("/proc/self/net/tcp").read_text()
        assert ":B9ED " not in ours.upper()  # 47613 = 0xB9ED: not in our namespace
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_unreadable_process_is_reported_not_raised() -> None:
    found = listeners_of(2**22 + 12345)  # no such PID
    assert found.listeners == [] and found.unreadable
