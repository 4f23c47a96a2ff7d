"""The host's own name, and the names its certificates carry.

An admin reading a certificate (``openssl x509 -text``, a browser, ``dockwiz certs show``) should
see which host it belongs to: a server certificate whose Common Name is ``localhost`` on a
network-facing daemon looks like a leftover, and every CA called "dockwiz CA" makes the CAs of
two hosts impossible to tell apart in a client's trust store. So the server's CN is the host's
name (its FQDN when one is known) and the CA's name carries the host and the date it was made.

The name comes from the Host root (``/etc/hostname``, ``/etc/hosts``), as the host's own resolver
would give it, so a sandbox or a lab is named from its own files. Only a host without a network
namespace of its own and without ``/etc/hostname`` (this machine, or a sandbox sharing its network)
falls back to this machine's name. No ``cryptography`` import: planning pays nothing for it.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dockwiz.addresses import is_ip, is_loopback

if TYPE_CHECKING:
    from dockwiz.host import Host

CN_MAX = 64
"""X.520 upper bound of a Common Name (RFC 5280 ub-common-name)."""

_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def _read_small(host: Host, host_path: str) -> str | None:
    """A small text file under the root through the one safe reader (a FIFO planted as
    /etc/hostname must not hang inspection); None when it cannot be read."""
    from dockwiz.pki.storage import read_material

    try:
        return read_material(host, host_path)[0].decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return None


def _usable(name: str) -> bool:
    from dockwiz.pki.sans import valid_dns_name

    low = name.lower().rstrip(".")
    return bool(low) and low not in _LOCAL_NAMES and not low.startswith("localhost.") and (
        valid_dns_name(low)
    )


def fqdn_from_hosts(hosts_text: str, short: str) -> str | None:
    """The FQDN /etc/hosts gives ``short`` (the first dotted name on a line naming it), as the
    resolver's ``hostname --fqdn`` would find it: ``127.0.1.1 web1.example.com web1``."""
    want = short.lower()
    for line in hosts_text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        names = [n.lower().rstrip(".") for n in fields[1:]]
        if want in names or any(n.startswith(want + ".") for n in names):
            dotted = [n for n in names if "." in n and n.startswith(want + ".") and _usable(n)]
            if dotted:
                return dotted[0]
    return None


def host_names(host: Host) -> list[str]:
    """The host's names, FQDN first when known, then the short name; [] when it has none.

    A lab without /etc/hostname has no name of its own (its namespace shares this machine's
    UTS name, which resolves to this machine, not to the lab), so it gets none."""
    text = _read_small(host, "/etc/hostname")
    short = (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""
    from_machine = not short and host.netns is None
    if from_machine:
        short = socket.gethostname()
    if not short or not _usable(short):
        return []
    short = short.lower().rstrip(".")
    fqdn = short if "." in short else None
    if fqdn is None:
        fqdn = fqdn_from_hosts(_read_small(host, "/etc/hosts") or "", short)
    if fqdn is None and (from_machine or host.is_real):
        machine = socket.getfqdn(short).lower()
        fqdn = machine if "." in machine and _usable(machine) else None
    head = short.split(".", 1)[0]
    return [n for n in dict.fromkeys((fqdn or short, short, head)) if _usable(n)]


def host_label(host: Host) -> str:
    """What to call the host in a certificate's name: its FQDN or name, else the lab's
    namespace, else 'this host'."""
    names = host_names(host)
    if names:
        return names[0]
    return host.netns or "this host"


def server_common_name(host: Host, dns: Sequence[str] = (), ips: Sequence[str] = ()) -> str:
    """The server certificate's CN: the host's name (FQDN when known).

    Go ignores the CN for host checks (the SANs decide), so this is a label for people. Without
    a host name: the first SAN that is not loopback; ``localhost`` only for a certificate whose
    every SAN is loopback (it is not network-facing then)."""
    names = host_names(host)
    if names:
        return names[0][:CN_MAX]
    return pick_common_name(dns, ips)


def pick_common_name(dns: Sequence[str], ips: Sequence[str]) -> str:
    """A CN from SANs alone: the first name or address a remote client dials, never
    ``localhost`` while another SAN exists."""
    for value in (*dns, *ips):
        if not is_loopback(value) and value.lower() not in _LOCAL_NAMES:
            return value[:CN_MAX]
    return (list(dns) + list(ips) + ["localhost"])[0][:CN_MAX]


def ca_common_name(host: Host, today: dt.date | None = None) -> str:
    """``dockwiz CA for web1.example.com 2026-12-02``: the host and the day the CA was made,
    so two hosts' CAs (or an old and a new one) differ in every client's trust store."""
    day = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    head, tail = "dockwiz CA for ", f" {day}"
    label = host_label(host)
    room = CN_MAX - len(head) - len(tail)
    if len(label) > room and not is_ip(label):
        label = label[:room].rstrip(".-")
    return f"{head}{label[:room]}{tail}"
