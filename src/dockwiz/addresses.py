"""Address syntax: the one place that says what an IP, a host name and a listen address are.

Policy (which address a mode may use), the planner, the PKI and the probes all ask the same
questions: is this an IP? is it loopback the way dockerd decides it? is it a host name a daemon can
bind and a certificate can name? Answering them in several places let them drift (bracket
handling differed, ``10.77.240.999`` passed as a host name and failed only at dockerd's restart),
so they are answered here, strictly and in ASCII only, and nowhere else.

Pure string logic: no resolving, no sockets.
"""

from __future__ import annotations

import ipaddress
import re

from dockwiz.docker_paths import TLS_PORT

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 1123 label: ASCII letters, digits and '-', 1-63 long, no '-' at either end.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_DIGITS = re.compile(r"[0-9]+")
_HEX_NUMBER = re.compile(r"0[xX][0-9A-Fa-f]*")
_PORT = re.compile(r"[0-9]{1,5}")
EXAMPLE_LISTEN = "10.0.0.5:2376"


def shown(text: str, limit: int = 60) -> str:
    """``text`` quoted for an error message, cut short: a bad value may be thousands long."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def strip_brackets(host: str) -> str:
    """'[::1]' -> '::1'; anything else unchanged (a lone bracket is for the caller to refuse)."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def ip_of(text: str) -> IPAddress | None:
    """The IP ``text`` spells (brackets allowed), or None. ASCII only, no leading zeros."""
    try:
        return ipaddress.ip_address(strip_brackets(text.strip()))
    except ValueError:
        return None


def is_ip(text: str) -> bool:
    return ip_of(text) is not None


def ip_in(host: str, ips: list[str]) -> bool:
    """True when ``host`` is the same IP as one of ``ips`` (however each is spelled)."""
    want = ip_of(host)
    return want is not None and any(ip_of(ip) == want for ip in ips)


def is_loopback(host: str | None) -> bool:
    """The daemon's notion of local (DOMAIN §1): 'localhost' or a loopback IP.

    Go's ``IP.IsLoopback`` (what dockerd asks) counts an IPv4-mapped IPv6 address such as
    ``::ffff:127.0.0.1`` as loopback, so it is loopback here too; Python's ``is_loopback`` says
    no. 0.0.0.0 and :: are wildcards (every interface), not loopback. Other host names are
    treated as remote: we do not resolve them, and guessing "local" would be the unsafe direction.
    """
    if host is None:
        return False
    if strip_brackets(host.strip()).lower() == "localhost":
        return True
    ip = ip_of(host)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def is_wildcard(host: str) -> bool:
    """Every interface: '0.0.0.0', '::' (bracketed or not) or an empty host (':2376')."""
    h = strip_brackets(host.strip())
    return h in ("0.0.0.0", "::", "")  # noqa: S104 - recognising the wildcard, not binding


def looks_like_ipv4(host: str) -> bool:
    """True when ``host`` would be read as an IPv4 address rather than a name.

    A host name's last label is never numeric (RFC 1123 §2.1, RFC 3696 §2; the WHATWG URL
    standard decides the same way), so ``10.77.240.999``, ``1.2.3`` or ``127.1`` are attempts at
    an IPv4 address, valid or not, never host names.
    """
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    last = labels[-1]
    return bool(_DIGITS.fullmatch(last) or _HEX_NUMBER.fullmatch(last))


def host_problem(host: str) -> str | None:
    """Why ``host`` is neither an IP address nor an RFC 1123 host name (None when it is one).

    What dockerd can bind and a certificate can name. The reason names the bad part, so the
    error a user sees says what to change.
    """
    if is_ip(host):
        return None
    if not host:
        return "the address is empty"
    if looks_like_ipv4(host):
        return f"{shown(host)} is not an IPv4 address (four numbers 0-255)"
    if ":" in host or host.startswith("["):
        return f"{shown(host)} is not an IPv6 address (e.g. fd00::5)"
    name = host[:-1] if host.endswith(".") else host
    if len(name) > 253:
        return "a host name is at most 253 characters"
    labels = name.split(".")
    if any(label == "" for label in labels):
        return f"{shown(host)} has an empty label (two dots in a row, or a dot at the start)"
    bad = next((label for label in labels if not _LABEL.fullmatch(label)), None)
    if bad is not None:
        return (
            f"{shown(bad)} in {shown(host)} is not a host name label (ASCII letters, digits "
            "and '-', at most 63, no '-' at either end)"
        )
    return None


def valid_host(host: str) -> bool:
    """An IP address or an RFC 1123 host name (what dockerd can bind and a cert can name)."""
    return host_problem(host) is None


def url_host(host: str) -> str:
    """``host`` as it goes into a URL: an IPv6 address in brackets (tcp://[::1]:2376)."""
    ip = ip_of(host)
    if isinstance(ip, ipaddress.IPv6Address):
        return f"[{strip_brackets(host.strip())}]"
    return host


def parse_port(text: str, *, context: str) -> int:
    """A TCP port: ASCII digits only, 1-65535. ``context`` is the whole value, for the error."""
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise ValueError(
            f"invalid port {shown(text)} in {shown(context)}: a port is a number from 1 to 65535, "
            f"e.g. {EXAMPLE_LISTEN}"
        )
    return int(text)


def parse_listen(text: str, default_port: int = TLS_PORT) -> tuple[str, int]:
    """'ADDR:PORT', '[v6]:PORT', 'tcp://ADDR:PORT' or 'ADDR' -> (host, port), strictly.

    Anything dockerd could not bind is a ValueError whose message names the bad value and shows
    a good one, so it is refused when the plan is made instead of when dockerd restarts.
    """
    raw = text.strip()
    if raw.lower().startswith("tcp://"):
        raw = raw[len("tcp://") :]
    host, port_text = raw, None
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise ValueError(
                f"invalid listen address {shown(text)}: unclosed '[' (e.g. [fd00::5]:2376)"
            )
        host, rest = raw[1:end], raw[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(
                    f"invalid listen address {shown(text)}: expected [ADDR]:PORT, "
                    "e.g. [fd00::5]:2376"
                )
            port_text = rest[1:]
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    elif raw.count(":") > 1:
        raise ValueError(
            f"invalid listen address {shown(text)}: write an IPv6 address as [ADDR]:PORT, "
            "e.g. [fd00::5]:2376"
        )
    if not host:
        raise ValueError(f"invalid listen address {shown(text)}: no address, e.g. {EXAMPLE_LISTEN}")
    problem = host_problem(host)
    if problem:
        raise ValueError(f"invalid listen address {shown(text)}: {problem}; e.g. {EXAMPLE_LISTEN}")
    if port_text is None:
        return host, default_port
    return host, parse_port(port_text, context=text)
