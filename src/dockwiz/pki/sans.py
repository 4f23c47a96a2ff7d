"""Subject alternative names: validating what the admin gives, detecting what clients dial.

Go (dockerd, the docker CLI) checks the dialled name or IP against the SANs only (the legacy
Common Name is ignored), so every way a client reaches the daemon must be a valid SAN here.
No ``cryptography`` import: ``dockwiz plan`` validates SANs without paying for it.
"""

from __future__ import annotations

import ipaddress
import re
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


def default_sans(host: Host, listen_host: str) -> tuple[list[str], list[str]]:
    """The names and addresses clients can actually dial the daemon by when it listens on
    ``listen_host``: (dns, ips).

    - a loopback address (or ``localhost``): ``localhost``, 127.0.0.1, ::1 (and the address
      itself, e.g. 127.0.0.2): only local clients reach it;
    - a specific address or name: that address plus the host's names (FQDN, short name);
    - a wildcard (0.0.0.0, ::, empty): the host's own addresses that are not loopback and not
      on a container bridge (docker0's 172.17.0.1, br-*, veth*: clients never dial the daemon
      there), plus its names, plus loopback (clients on the host itself, dockwiz's own checks).

    Link-local IPv6 addresses are left out: they need a zone a certificate cannot carry."""
    from dockwiz.addresses import is_loopback, is_wildcard, strip_brackets
    from dockwiz.pki.names import host_names

    target = strip_brackets(listen_host.strip())
    loop_dns, loop_ips = ["localhost"], ["127.0.0.1", "::1"]
    if target and is_loopback(target):
        ips = [*loop_ips, target] if is_ip(target) else loop_ips
        return loop_dns, _dialable(ips)
    names = host_names(host)
    if target and not is_wildcard(target):
        if is_ip(target):
            return _valid_names(names), _dialable([target])
        return _valid_names([target.lower(), *names]), []
    from dockwiz import hostnet

    own = [a for a in hostnet.san_addresses(host) if not is_loopback(a)]
    return _valid_names([*names, *loop_dns]), _dialable([*own, *loop_ips])


def detect_sans(host: Host) -> tuple[list[str], list[str]]:
    """Every name and address a client may dial this host by: :func:`default_sans` of a
    wildcard listener (the host's names and addresses, loopback included, container bridges
    left out). For a lab host the addresses are those inside its network namespace."""
    return default_sans(host, "0.0.0.0")  # noqa: S104 - the wildcard's SANs, not a bind


def valid_dns_name(name: str) -> bool:
    try:
        validate_dns_name(name)
    except DockwizError:
        return False
    return True


def _valid_names(names: Sequence[str]) -> list[str]:
    return [d for d in dict.fromkeys(n.lower().rstrip(".") for n in names) if valid_dns_name(d)]


def _dialable(ips: Sequence[str]) -> list[str]:
    out: list[str] = []
    for value in ips:
        try:
            ip = ipaddress.ip_address(value.split("%", 1)[0])
        except ValueError:
            continue
        if not (ip.is_unspecified or ip.is_multicast or ip.is_link_local) and str(ip) not in out:
            out.append(str(ip))
    return out
