"""Modes, the admin's choices (Intent) and the rules a choice must pass before anything is planned.

The rules live here, apart from the planner, so the TUI can grey out a mode and say why before the
admin has typed anything, and so the one rule that must never be bent (the v27+ rule: no TCP on a
non-loopback address without client-certificate verification, ../shared/DOMAIN.md §1) is checked
in exactly one place. ``check_intent`` never raises: it returns every violation, blocking or not,
so a caller can show them all at once; ``plan.build_plan`` raises on the first blocking one.
"""

from __future__ import annotations

import re
import shlex

from dockwiz.addresses import (
    host_problem,
    is_ip,
    is_loopback,
    is_wildcard,
    parse_listen,
    shown,
    strip_brackets,
    url_host,
    valid_host,
)
from dockwiz.daemon_facts import ANNOUNCED, Exposure, startup_behaviour
from dockwiz.models.host_state import HostState, parse_major
from dockwiz.models.intent import (
    LOOPBACK_DEFAULT,
    TCP_MODES,
    Intent,
    Mode,
    Violation,
)

V27 = 27

# Address syntax lives in dockwiz.addresses; these names stay importable from here for callers
# that learnt them from policy (the planner, the TUI's screens).
__all__ = [
    "V27", "allowed_modes", "check_intent", "effective_major", "is_ip", "is_loopback",
    "is_wildcard", "parse_listen", "resolve_listen_host", "ssh_context_line", "strip_brackets",
    "v27_rules_apply", "valid_host", "valid_user_name",
]

def effective_major(state: HostState, intent: Intent) -> int | None:
    if intent.docker_version:
        return parse_major(intent.docker_version)
    return state.version.major


def v27_rules_apply(major: int | None) -> bool:
    """Unknown version counts as 27+: no insecure default when we cannot tell."""
    return major is None or major >= V27


def _v27_violation(mode: Mode, host: str, major: int | None) -> Violation:
    """The v27 rule, worded true for the daemon at hand (daemon_facts): dockwiz enforces what
    Docker announced, and says apart what this version of dockerd really does today."""
    way_out = [
        "choose mode 'mtls' (clients need a certificate from this host's CA)",
        "bind to loopback: --listen 127.0.0.1:PORT (reach it through an SSH tunnel)",
        "choose mode 'ssh': no TCP at all, clients use ssh://user@host",
    ]
    what = "TLS without client verification" if mode == Mode.TLS else "unauthenticated TCP"
    exposure: Exposure = "tls-only" if mode == Mode.TLS else "plain"
    today = startup_behaviour(major, exposure, tls_explicit=True, loopback=False)
    if v27_rules_apply(major):
        version = "an unknown version (treated as 27 or later)" if major is None else f"{major}"
        return Violation(
            rule="v27-mtls-required",
            message=(
                f"{what} on the non-loopback address {host} is refused for Docker {version}: "
                "dockwiz enforces Docker's announced rule that from 27.0 every TCP listener that "
                "is not loopback verifies client certificates (mutual TLS). What the daemon does "
                f"today: {today} {ANNOUNCED}"
            ),
            way_out=way_out,
            blocking=True,
        )
    return Violation(
        rule="v27-mtls-required",
        message=(
            f"{what} on the non-loopback address {host}: anyone who can reach the port controls "
            f"the daemon, which means root on this host. What the daemon does today: {today} "
            f"{ANNOUNCED} Upgrading this host to 27 or later takes this choice away: dockwiz "
            "will refuse it there."
        ),
        way_out=way_out,
        blocking=False,
    )


def _listen_violations(intent: Intent, host: str, major: int | None) -> list[Violation]:
    problem = host_problem(host)
    if problem:
        return [
            Violation(
                rule="listen-invalid",
                message=f"invalid listen address {shown(host)}: {problem}",
                way_out=["pass --listen ADDR:PORT with an IP address or host name, "
                         "e.g. --listen 10.0.0.5:2376"],
            )
        ]
    if intent.mode == Mode.TLS and not is_loopback(host):
        return [_v27_violation(Mode.TLS, host, major)]
    return []


# POSIX portable user names (the Portable Filename Character Set, no '-' first), as useradd
# accepts them by default, at most 32 characters. Anything else is refused rather than quoted:
# the name ends up in an ssh:// URL and a shell command line an admin copies.
_USER_NAME = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]{0,31}")


def valid_user_name(name: str) -> bool:
    return _USER_NAME.fullmatch(name) is not None


def _ssh_user_violations(intent: Intent) -> list[Violation]:
    if intent.ssh_user is None or valid_user_name(intent.ssh_user):
        return []
    return [
        Violation(
            rule="ssh-user-invalid",
            message=f"invalid SSH user name {shown(intent.ssh_user)}: a POSIX user name is "
            "letters, digits, '.', '_' and '-' (not first), at most 32 characters",
            way_out=["pass --ssh-user with the account clients log in as, e.g. --ssh-user admin"],
        )
    ]


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
    if intent.docker_version and parse_major(intent.docker_version) is None:
        out.append(
            Violation(
                rule="version-invalid",
                message=f"--docker-version {shown(intent.docker_version)} is not a version "
                "(ASCII digits and dots, e.g. 27.3.1)",
                way_out=["pass a version such as 27.3.1 or 20.10.24"],
            )
        )
    if intent.mode in TCP_MODES:
        host = resolve_listen_host(state, intent)
        out.extend(_listen_violations(intent, host, major))
    if major is None and intent.mode in TCP_MODES and not intent.docker_version:
        out.append(
            Violation(
                rule="version-unknown",
                message="the Docker version is unknown, so the Docker 27+ rules apply",
                way_out=["pass --docker-version V to plan for a specific version"],
                blocking=False,
            )
        )
    out.extend(_pki_violations(intent))
    out.extend(_ssh_user_violations(intent))
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
    """The ``docker context create`` command for ssh mode, safe to paste into a shell.

    The user name is validated before planning; whatever arrives here is still quoted, so a
    value can never run as a command. The context name keeps only what docker accepts in one.
    """
    who = f"{user}@" if user else "USER@"
    name = re.sub(r"[^A-Za-z0-9_.+-]+", "-", host).strip("-._+") or "remote"
    docker_arg = f"host=ssh://{who}{url_host(host)}"
    return f"docker context create {shlex.quote(name + '-ssh')} --docker {_shell_word(docker_arg)}"


def _shell_word(value: str) -> str:
    """``value`` as one shell word: in double quotes (as Docker's docs write it) when nothing
    inside is special to a shell there, else single-quoted by ``shlex.quote``."""
    if re.fullmatch(r'[^"$`\\!\n]*', value):
        return f'"{value}"'
    return shlex.quote(value)
