"""The listening sockets of one process, read from /proc in that process's own network namespace.

``psutil.net_connections`` reads the *caller's* namespace, so a lab daemon's ``10.x`` listener in
its own namespace would be invisible (or, worse, a machine listener would be blamed on it). Here
the socket inodes come from ``/proc/PID/fd`` and are matched against ``/proc/PID/net/{tcp,tcp6,
unix}``, which the kernel renders from the namespace *that process* lives in.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from dockwiz.addresses import is_loopback as is_loopback  # the one rule, re-exported
from dockwiz.models.host_state import Listener

PROC = Path("/proc")
TCP_LISTEN = "0A"
UNIX_ACCEPTCON = 0x00010000


@dataclass
class ProcListeners:
    """Listeners found, plus the /proc paths that could not be read (and why)."""

    listeners: list[Listener] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def socket_inodes(pid: int, proc: Path = PROC) -> set[int]:
    """Socket inode numbers held open by ``pid``; raises OSError when fd/ is not readable."""
    inodes: set[int] = set()
    fd_dir = proc / str(pid) / "fd"
    for entry in fd_dir.iterdir():
        try:
            target = str(entry.readlink())
        except OSError:
            continue  # the fd closed while we looked
        if target.startswith("socket:[") and target.endswith("]"):
            inodes.add(int(target[8:-1]))
    return inodes


def decode_ipv4(hexaddr: str) -> str:
    """/proc renders an IPv4 address as one little-endian 32-bit word in hex."""
    return str(ipaddress.IPv4Address(bytes.fromhex(hexaddr)[::-1]))


def decode_ipv6(hexaddr: str) -> str:
    """/proc renders an IPv6 address as four 32-bit words, each in host (little-endian) order."""
    raw = bytes.fromhex(hexaddr)
    swapped = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(swapped))


def tcp_listener(ip: str, port: int) -> Listener:
    shown = f"[{ip}]" if ":" in ip else ip
    return Listener(
        kind="tcp",
        address=f"tcp://{shown}:{port}",
        host=ip,
        port=port,
        loopback=is_loopback(ip),
        source="observed",
        listening=True,
    )


def parse_tcp_table(text: str, v6: bool, inodes: set[int] | None = None) -> list[Listener]:
    """LISTEN rows of a /proc/net/tcp{,6} table, restricted to ``inodes`` when given."""
    out: list[Listener] = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 10 or cols[3] != TCP_LISTEN:
            continue
        try:
            inode = int(cols[9])
            hexip, hexport = cols[1].split(":")
            ip = decode_ipv6(hexip) if v6 else decode_ipv4(hexip)
            port = int(hexport, 16)
        except ValueError:
            continue
        if inodes is not None and inode not in inodes:
            continue
        out.append(tcp_listener(ip, port))
    return out


def parse_unix_table(text: str, inodes: set[int] | None = None) -> list[Listener]:
    """Listening, path-bound rows of /proc/net/unix (abstract sockets start with '@')."""
    out: list[Listener] = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 8:
            continue  # unbound socket: no path column
        try:
            flags = int(cols[3], 16)
            inode = int(cols[6])
        except ValueError:
            continue
        path = " ".join(cols[7:])
        if not flags & UNIX_ACCEPTCON or path.startswith("@"):
            continue
        if inodes is not None and inode not in inodes:
            continue
        out.append(
            Listener(kind="unix", address=f"unix://{path}", loopback=True,
                     source="observed", listening=True)
        )
    return out


def listeners_of(pid: int, proc: Path = PROC) -> ProcListeners:
    """Every TCP and unix listener of ``pid`` as its own network namespace sees it.

    A unix socket belongs to the namespace it was *created* in: one handed over by socket
    activation (systemd, or a lab's activator outside the lab namespace) appears in the
    creator's table, so inodes not found in the daemon's own unix table are looked up in ours
    too (inode numbers are unique across namespaces, so this cannot mismatch).
    """
    result = ProcListeners()
    try:
        inodes = socket_inodes(pid, proc)
    except OSError as exc:
        result.unreadable.append(f"{proc / str(pid) / 'fd'}: {exc.strerror or exc}")
        return result
    seen: set[str] = set()
    tables = [(proc / str(pid) / "net" / n, n) for n in ("tcp", "tcp6", "unix")]
    tables.append((proc / "self" / "net" / "unix", "unix"))
    for path, kind in tables:
        try:
            text = path.read_text()
        except OSError as exc:
            if kind != "tcp6" and "self" not in path.parts:  # no IPv6: no tcp6 table, fine
                result.unreadable.append(f"{path}: {exc.strerror or exc}")
            continue
        found = (
            parse_unix_table(text, inodes) if kind == "unix"
            else parse_tcp_table(text, kind == "tcp6", inodes)
        )
        for listener in found:
            if listener.address not in seen:
                seen.add(listener.address)
                result.listeners.append(listener)
    return result


def port_holders(port: int, netns_pid: int, proc: Path = PROC) -> list[tuple[int, str]]:
    """(pid, name) of every process in ``netns_pid``'s network namespace holding a TCP socket
    that listens on ``port``: who to stop when a port is taken. The LISTEN rows' inodes come
    from that namespace's /proc/PID/net tables, their owners from a scan of /proc/*/fd;
    processes we may not look into are skipped."""
    inodes: set[int] = set()
    for name in ("tcp", "tcp6"):
        try:
            text = (proc / str(netns_pid) / "net" / name).read_text()
        except OSError:
            continue
        for line in text.splitlines()[1:]:
            cols = line.split()
            if len(cols) >= 10 and cols[3] == TCP_LISTEN and cols[1].endswith(f":{port:04X}"):
                inodes.add(int(cols[9]))
    if not inodes:
        return []
    try:
        netns = (proc / str(netns_pid) / "ns" / "net").readlink()
    except OSError:
        return []
    holders: list[tuple[int, str]] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            same_netns = (entry / "ns" / "net").readlink() == netns
            if not same_netns or not socket_inodes(int(entry.name), proc) & inodes:
                continue
            holders.append((int(entry.name), (entry / "comm").read_text().strip()))
        except OSError:
            continue
    return holders
