"""Subject alternative names: validating what the admin gives, detecting what clients dial.

Go (dockerd, the docker CLI) checks the dialled name or IP against the SANs only (the legacy
Common Name is ignored), so every way a client reaches the daemon must be a valid SAN here.
No ``cryptography`` import: ``dockwiz plan`` validates SANs without paying for it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dockwiz.addresses import is_ip, looks_like_ipv4
from dockwiz.errors import DockwizError

if TYPE_CHECKING:
    from dockwiz.host import Host

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def validate_dns_name(name: str) -> str:
    """A DNS SAN as Go matches it: LDH labels, an optional leading ``*.`` wildcard."""
    value = name.strip().rstrip(".").lower()
    labels = value.split(".")
    if labels and labels[0] == "*" and len(labels) > 2:
        labels = labels[1:]
    ok = 0 < len(value) <= 253 and all(_LABEL.match(label) for label in labels)
    if not ok or is_ip(value) or looks_like_ipv4(value):
        raise DockwizError(
            f"invalid DNS name for a certificate: {name!r}",
            "use a host name such as docker.example.com (letters, digits, '-', dots)",
        )
    return value


def validate_ip(value: str) -> str:
    try:
        ip = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError as exc:
        raise DockwizError(
            f"invalid IP address for a certificate: {value!r}", "use e.g. 10.0.0.5 or fd00::5"
        ) from exc
    if ip.is_unspecified:
        raise DockwizError(
            f"{ip} is a listen address, not one a client dials, so it cannot be a SAN",
            "add the addresses clients use, e.g. --san 10.0.0.5",
        )
    if ip.is_multicast:
        raise DockwizError(f"{ip} is a multicast address", "add the addresses clients dial")
    return str(ip)


def split_sans(values: Sequence[str]) -> tuple[list[str], list[str]]:
    """Sort --san values into (dns, ips); accepts openssl's ``DNS:``/``IP:`` prefixes too."""
    dns: list[str] = []
    ips: list[str] = []
    for raw in values:
        for item in (part.strip() for part in raw.split(",")):
            if not item:
                continue
            kind, _, rest = item.partition(":")
            if kind.upper() == "DNS" and rest:
                dns.append(rest)
            elif kind.upper() in ("IP", "IP ADDRESS") and rest:
                ips.append(rest)
            elif is_ip(item):
                ips.append(item)
            else:
                dns.append(item)
    return validate_sans(dns, ips)


def validate_sans(
    dns_names: Sequence[str], ip_addresses: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Validated, normalised, de-duplicated, order kept. Raises on the first bad entry."""
    dns = list(dict.fromkeys(validate_dns_name(d) for d in dns_names))
    ips = list(dict.fromkeys(validate_ip(i) for i in ip_addresses))
    return dns, ips


def detect_sans(host: Host) -> tuple[list[str], list[str]]:
    """The names and addresses a client may dial this host by: (dns, ips).

    Always ``localhost``, 127.0.0.1 and ::1 (local clients). For a lab host the addresses are
    those inside its network namespace, never this machine's; the machine's host name is left
    out too because it resolves to the machine, not to the lab. Link-local IPv6 addresses are
    left out: they need a zone a certificate cannot carry."""
    from dockwiz import hostnet

    dns = ["localhost"]
    ips = ["127.0.0.1", "::1"]
    if host.netns is None:
        dns += _host_names(host)
    ips += hostnet.host_addresses(host)
    dns = [d for d in dict.fromkeys(dns) if _valid_dns(d)]
    return dns, [i for i in dict.fromkeys(ips) if _dialable_ip(i)]


def _valid_dns(name: str) -> bool:
    try:
        validate_dns_name(name)
    except DockwizError:
        return False
    return True


def _dialable_ip(value: str) -> bool:
    try:
        ip = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_multicast or ip.is_link_local)


def _host_names(host: Host) -> list[str]:
    """The host's name (and FQDN when it has one) as /etc/hostname under the root names it;
    a sandbox root without one shares this machine's network, so it gets the machine's name."""
    names: list[str] = []
    with contextlib.suppress(OSError):
        names.append(host.resolve("/etc/hostname").read_text(encoding="utf-8").strip())
    hostname = names[0] if names and names[0] else socket.gethostname()
    names.append(hostname)
    fqdn = socket.getfqdn(hostname)
    if "." in fqdn and not fqdn.startswith("localhost"):
        names.append(fqdn)
    return [n.lower() for n in names if n]
