"""The host's own network addresses: one list, whether the host is this machine or a lab.

Two callers need them: the certificate's SANs (every address a client may dial, loopback
included) and verify (where a remote client reaches the daemon: not loopback, not a container
bridge). The first version listed them three ways (pki read /proc or ran ``ip`` in the lab's
namespace, verify asked psutil inside the namespace) and the lists drifted. Here:

- :func:`interfaces` is the one source: ``(ifname, address)`` pairs of the host's network. For a
  host with a network namespace (a lab) it runs ``ip -j addr`` through ``Host.run(in_netns=True)``
  (the Host decides how its namespace is entered); otherwise it reads this machine's own.
- :func:`host_addresses` is every address (for SANs); on this machine it reads /proc, because
  psutil costs 20-50 ms of import on the benchmarked ``dockwiz certs init`` path.
- :func:`remote_addresses` is where a remote client dials the daemon (verify's list).

A sandbox root without a namespace shares this machine's network: its addresses are this
machine's (a certificate for it must name them), but verify probes only loopback there.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockwiz.host import Host

BRIDGE_PREFIXES = ("docker", "br-", "veth")
"""Container bridges and their veth ends: not how clients reach the daemon."""


def _proc_net() -> Path:
    """``/proc/thread-self/net`` is the calling thread's namespace (a setns thread sees its lab);
    ``/proc/net`` is the process leader's. The first when the kernel has it."""
    own = Path("/proc/thread-self/net")
    return own if own.is_dir() else Path("/proc/net")


def interface_addresses() -> list[str]:
    """The calling thread's network namespace's addresses, read from /proc: the IPv4 ``LOCAL``
    host routes of the FIB trie and the IPv6 ``if_inet6`` table (what ``ip addr`` shows). psutil
    is the fallback when /proc is not readable."""
    net = _proc_net()
    try:
        v4 = parse_fib_trie_locals((net / "fib_trie").read_text(encoding="ascii"))
    except OSError:
        return psutil_addresses()
    try:
        v6 = parse_if_inet6((net / "if_inet6").read_text(encoding="ascii"))
    except OSError:  # IPv6 disabled
        v6 = []
    return v4 + v6


def parse_fib_trie_locals(text: str) -> list[str]:
    """IPv4 addresses with a ``/32 host LOCAL`` entry in /proc/net/fib_trie (order kept)."""
    out: list[str] = []
    last = ""
    for line in text.splitlines():
        item = line.strip()
        if item.startswith("|-- "):
            last = item[4:].strip()
        elif item.startswith("/32 host LOCAL") and last and last not in out:
            out.append(last)
    return out


def parse_if_inet6(text: str) -> list[str]:
    """The addresses of /proc/net/if_inet6 (32 hex digits per line), order kept."""
    out: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if fields and len(fields[0]) == 32:
            with contextlib.suppress(ValueError):
                out.append(str(ipaddress.IPv6Address(bytes.fromhex(fields[0]))))
    return out


def psutil_interfaces() -> list[tuple[str, str]]:
    """``(ifname, address)`` of the calling thread's namespace, from psutil (getifaddrs)."""
    import psutil

    out: list[tuple[str, str]] = []
    for ifname, addrs in psutil.net_if_addrs().items():
        for addr in addrs:
            if addr.family in (socket.AF_INET, socket.AF_INET6):
                out.append((ifname, addr.address.split("%", 1)[0]))
    return out


def psutil_addresses() -> list[str]:
    return [address for _, address in psutil_interfaces()]


def parse_ip_addr_json(text: str) -> list[tuple[str, str]]:
    """``(ifname, address)`` from ``ip -j addr`` output; [] for anything unreadable."""
    try:
        links = json.loads(text)
    except ValueError:
        return []
    if not isinstance(links, list):
        return []
    return [
        (str(link.get("ifname", "")), str(info["local"]))
        for link in links
        if isinstance(link, dict)
        for info in link.get("addr_info", [])
        if isinstance(info, dict) and info.get("family") in ("inet", "inet6") and info.get("local")
    ]


def interfaces(host: Host) -> list[tuple[str, str]]:
    """``(ifname, address)`` of the host's network: inside its namespace when it has one."""
    if host.netns is None:
        return psutil_interfaces()
    result = host.run(["ip", "-j", "addr"], in_netns=True, timeout=10)
    return parse_ip_addr_json(result.stdout) if result.ok else []


def host_addresses(host: Host) -> list[str]:
    """Every address of the host's network, loopback included (the SAN candidates).

    A lab: the addresses inside its namespace, never this machine's. Otherwise this machine's
    own (a sandbox root shares this machine's network), read from /proc without psutil."""
    if host.netns is None:
        return interface_addresses()
    return [address for _, address in interfaces(host)]


def remote_addresses(host: Host) -> list[str]:
    """Where a remote client reaches the host's daemon: its IPv4 addresses that are not
    loopback and not on a container bridge. A sandbox root without its own namespace gives
    none: it shares this machine's network, so only loopback is probed there."""
    if host.netns is None and not host.is_real:
        return []
    out: list[str] = []
    for ifname, address in interfaces(host):
        if ifname.startswith(BRIDGE_PREFIXES):
            continue
        with contextlib.suppress(ValueError):
            ip = ipaddress.ip_address(address)
            if ip.version == 4 and not ip.is_loopback and address not in out:
                out.append(address)
    return out
