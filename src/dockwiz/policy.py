"""Modes, the admin's choices (Intent) and the rules a choice must pass before anything is planned.

The rules live here, apart from the planner, so the TUI can grey out a mode and say why before the
admin has typed anything, and so the one rule that must never be bent (the v27+ rule: no TCP on a
non-loopback address without client-certificate verification, ../shared/DOMAIN.md §1) is checked
in exactly one place. ``check_intent`` never raises: it returns every violation, blocking or not,
so a caller can show them all at once; ``plan.build_plan`` raises on the first blocking one.
"""

from __future__ import annotations

import ipaddress
import re

from dockwiz.models.host_state import HostState, parse_major
from dockwiz.models.intent import (
    DEFAULT_TLS_PORT,
    LOOPBACK_DEFAULT,
    TCP_MODES,
    Intent,
    Mode,
    Violation,
)

V27 = 27

def strip_brackets(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def is_loopback(host: str | None) -> bool:
    """The daemon's notion of local (DOMAIN §1): 'localhost' or a loopback IP.

    0.0.0.0 and :: are wildcards (every interface), not loopback. Other host names are treated
    as remote: we do not resolve them, and guessing "local" would be the unsafe direction
    (``127.evil.example`` and ``localhost.localdomain`` are names, not loopback IPs). An
    IPv4-mapped ``::ffff:127.x.y.z`` is loopback as Go (and so dockerd) sees it: ``To4()``
    turns it into 127.x.y.z, and binding it listens on the IPv4 loopback only.
    """
    if host is None:
        return False
    h = strip_brackets(host.strip()).lower()
    if h == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


def is_wildcard(host: str) -> bool:
    h = strip_brackets(host.strip())
    return h in ("0.0.0.0", "::", "")  # noqa: S104 - recognising the wildcard, not binding


_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(strip_brackets(text))
    except ValueError:
        return False
    return True


def valid_host(host: str) -> bool:
    """An IP address or an RFC 1123 host name (what dockerd can bind and a cert can name)."""
    if is_ip(host):
        return True
    if len(host) > 253 or not host:
        return False
    return all(_HOSTNAME_LABEL.match(label) for label in host.rstrip(".").split("."))


def effective_major(state: HostState, intent: Intent) -> int | None:
    if intent.docker_version:
        return parse_major(intent.docker_version)
    return state.version.major


def v27_rules_apply(major: int | None) -> bool:
    """Unknown version counts as 27+: no insecure default when we cannot tell."""
    return major is None or major >= V27


def _v27_violation(mode: Mode, host: str, major: int | None) -> Violation:
    way_out = [
        "choose mode 'mtls' (clients need a certificate from this host's CA)",
        "bind to loopback: --listen 127.0.0.1:PORT (reach it through an SSH tunnel)",
        "choose mode 'ssh': no TCP at all, clients use ssh://user@host",
    ]
    what = "TLS without client verification" if mode == Mode.TLS else "unauthenticated TCP"
    if v27_rules_apply(major):
        shown = "an unknown version (treated as 27 or later)" if major is None else f"{major}"
        return Violation(
            rule="v27-mtls-required",
            message=(
                f"{what} on the non-loopback address {host} is refused: Docker {shown} requires "
                "client-certificate verification (mutual TLS) for every TCP listener that is not "
                "loopback, and fails to start otherwise."
            ),
            way_out=way_out,
            blocking=True,
        )
    return Violation(
        rule="v27-mtls-required",
        message=(
            f"WARNING: {what} on the non-loopback address {host}. Docker {major} still starts, "
            "but anyone who can reach the port controls the daemon, which means root on this "
            "host. The daemon logs three warnings and sleeps 1 s at every start (15 s more when "
            "TLS is not set explicitly on a non-loopback address), and Docker 27 or later "
            "refuses to start with this configuration: the next upgrade breaks it."
        ),
        way_out=way_out,
        blocking=False,
    )


def _listen_violations(intent: Intent, host: str, major: int | None) -> list[Violation]:
    out: list[Violation] = []
    if not valid_host(host):
        out.append(
            Violation(
                rule="listen-invalid",
                message=f"invalid listen address {host!r}: not an IP address or a host name",
                way_out=["pass --listen ADDR:PORT with an IP address (e.g. 10.0.0.5:2376)"],
            )
        )
        return out
    if intent.mode == Mode.TLS and not is_loopback(host):
        out.append(_v27_violation(Mode.TLS, host, major))
    return out


def check_intent(state: HostState, intent: Intent) -> list[Violation]:
    """Every rule the intent breaks on this host, blocking first."""
    major = effective_major(state, intent)
    out: list[Violation] = []
    if state.rootless:
        out.append(
            Violation(
                rule="rootless",
                message="the running daemon is rootless: its configuration lives in the user's "
                "~/.config/docker, which dockwiz does not manage",
                way_out=["secure the rootful system daemon, or configure rootless Docker by hand"],
            )
        )
    if intent.mode in TCP_MODES:
        host = resolve_listen_host(state, intent)
        out.extend(_listen_violations(intent, host, major))
    if intent.docker_version and parse_major(intent.docker_version) is None:
        out.append(
            Violation(
                rule="version-invalid",
                message=f"--docker-version {intent.docker_version!r} is not a version",
                way_out=["pass a version such as 27.3.1 or 20.10.24"],
            )
        )
    if major is None and intent.mode in TCP_MODES:
        out.append(
            Violation(
                rule="version-unknown",
                message="the Docker version is unknown, so the Docker 27+ rules apply",
                way_out=["pass --docker-version V to plan for a specific version"],
                blocking=False,
            )
        )
    out.extend(_pki_violations(intent))
    if intent.hardening.userns_remap:
        out.append(
            Violation(
                rule="userns-remap",
                message="userns-remap: existing images, containers and volumes become invisible "
                "to the daemon (it switches to a new storage directory) until it is turned off",
                way_out=["leave userns-remap off on a host with containers you need"],
                blocking=False,
            )
        )
    out.sort(key=lambda v: not v.blocking)
    return out


def _pki_violations(intent: Intent) -> list[Violation]:
    """Key type and client name, checked before planning so apply never fails on them."""
    if intent.mode not in TCP_MODES:
        return []
    from dockwiz import pki  # cryptography is heavy: only when a TCP mode needs certificates

    out: list[Violation] = []
    if intent.key_type not in pki.KEY_TYPES:
        out.append(
            Violation(
                rule="key-type-invalid",
                message=f"unknown key type {intent.key_type!r}",
                way_out=[f"choose one of {', '.join(pki.KEY_TYPES)}"],
            )
        )
    if intent.mode == Mode.MTLS and not re.fullmatch(
        r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", intent.client_name
    ):
        out.append(
            Violation(
                rule="client-name-invalid",
                message=f"invalid client name {intent.client_name!r}",
                way_out=["use letters, digits, '.', '_' or '-' (up to 64 characters)"],
            )
        )
    return out


def allowed_modes(
    state: HostState, listen_host: str | None, docker_version: str | None = None
) -> dict[Mode, Violation | None]:
    """For each mode, the blocking violation that disables it (or a warning), else None."""
    result: dict[Mode, Violation | None] = {}
    for mode in Mode:
        intent = Intent(mode=mode, listen_host=listen_host, docker_version=docker_version)
        found = [v for v in check_intent(state, intent) if v.rule != "version-unknown"]
        blocking = [v for v in found if v.blocking]
        result[mode] = blocking[0] if blocking else (found[0] if found else None)
    return result


def resolve_listen_host(state: HostState, intent: Intent) -> str:
    """The address a TCP mode binds when the admin did not say.

    An explicit choice wins. Otherwise keep a TCP address the daemon is already configured with
    (admins expect their address to stay) unless it is a wildcard or the mode is TLS-only on a
    non-loopback address; else loopback, the only default that cannot expose anything.
    """
    if intent.listen_host:
        return strip_brackets(intent.listen_host.strip())
    if intent.mode == Mode.MTLS:
        for listener in state.configured_hosts:
            if listener.kind == "tcp" and listener.host and not is_wildcard(listener.host):
                return strip_brackets(listener.host)
    return LOOPBACK_DEFAULT


def ssh_context_line(user: str | None, host: str) -> str:
    who = f"{user}@" if user else "USER@"
    return f'docker context create {host}-ssh --docker "host=ssh://{who}{host}"'


def parse_listen(text: str) -> tuple[str, int]:
    """'ADDR:PORT', '[v6]:PORT' or 'ADDR' -> (host, port); bad input is a clear ValueError."""
    raw = text.strip()
    if raw.startswith("tcp://"):
        raw = raw[len("tcp://") :]
    host, port_text = raw, ""
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise ValueError(f"invalid listen address {text!r}: unclosed '['")
        host, rest = raw[1:end], raw[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"invalid listen address {text!r}: expected [ADDR]:PORT")
            port_text = rest[1:]
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    elif raw.count(":") > 1:
        raise ValueError(f"invalid listen address {text!r}: write IPv6 as [ADDR]:PORT")
    if not host or not valid_host(host):
        raise ValueError(f"invalid listen address {text!r}: expected ADDR:PORT, e.g. 10.0.0.5:2376")
    if not port_text:
        return host, DEFAULT_TLS_PORT
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"invalid port in {text!r}: expected 1-65535")
    return host, int(port_text)
