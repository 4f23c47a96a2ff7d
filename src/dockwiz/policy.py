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
from enum import StrEnum

from pydantic import BaseModel, Field

from dockwiz.state import HostState, parse_major

V27 = 27
DEFAULT_TLS_PORT = 2376
LOOPBACK_DEFAULT = "127.0.0.1"


class Mode(StrEnum):
    UNIX = "unix"
    TLS = "tls"
    MTLS = "mtls"
    SSH = "ssh"


TCP_MODES = frozenset({Mode.TLS, Mode.MTLS})

MODE_DESCRIPTIONS: dict[Mode, str] = {
    Mode.UNIX: (
        "Local only. The daemon listens on its unix socket and nowhere else: root and members of "
        "the 'docker' group on this machine can use it, nobody on the network can."
    ),
    Mode.TLS: (
        "Encrypted, but anyone who can reach the port can use it: the daemon proves who it is, "
        "clients prove nothing. Allowed on loopback only (Docker 27+ refuses it elsewhere), e.g. "
        "behind an SSH tunnel or a local proxy."
    ),
    Mode.MTLS: (
        "Mutual TLS. Only clients holding a certificate signed by this host's CA can connect, "
        "from anywhere that can reach the port. The way to expose the API over the network."
    ),
    Mode.SSH: (
        "No TCP at all. Remote users connect with 'docker -H ssh://user@host', which runs over "
        "SSH and reuses SSH keys and accounts: who may connect is who may log in and use docker."
    ),
}


class Hardening(BaseModel):
    """Opt-in daemon hardening; each option changes daemon.json only when switched on."""

    live_restore: bool = False
    icc_off: bool = False
    no_new_privileges: bool = False
    userns_remap: bool = False
    log_rotation: bool = False
    log_max_size: str = Field(default="10m", pattern=r"^[0-9]+[kmg]?$")
    log_max_file: int = Field(default=3, ge=1)

    @classmethod
    def from_keys(cls, keys: list[str]) -> Hardening:
        """Build from CLI keys ('live-restore', 'icc', ...); unknown keys are a clear error."""
        known = {opt.key: opt.field for opt in HARDENING_OPTIONS}
        values: dict[str, bool] = {}
        for raw in keys:
            key = raw.strip()
            if not key:
                continue
            if key not in known:
                raise ValueError(
                    f"unknown hardening option {key!r}; choose from {', '.join(sorted(known))}"
                )
            values[known[key]] = True
        return cls.model_validate(values)

    def enabled_keys(self) -> list[str]:
        return [opt.key for opt in HARDENING_OPTIONS if getattr(self, opt.field)]


class HardeningOption(BaseModel):
    """What one hardening switch does, why, and what it costs: shown before the admin opts in."""

    key: str
    field: str
    title: str
    daemon_key: str
    why: str
    cost: str
    cis: str | None = None
    reloadable: bool = False


HARDENING_OPTIONS: list[HardeningOption] = [
    HardeningOption(
        key="live-restore",
        field="live_restore",
        title="Keep containers running while the daemon restarts",
        daemon_key="live-restore",
        why="Without it every daemon restart (including the one this change needs) stops every "
        "running container.",
        cost="None for most hosts; not compatible with Swarm mode.",
        cis="2.15",
        reloadable=True,
    ),
    HardeningOption(
        key="icc",
        field="icc_off",
        title="No traffic between containers on the default bridge",
        daemon_key="icc",
        why="By default any container can talk to any other on docker0; a compromised one can "
        "probe its neighbours.",
        cost="Containers on the default bridge that talk to each other must be moved to a "
        "user-defined network or linked explicitly.",
        cis="2.2",
    ),
    HardeningOption(
        key="no-new-privileges",
        field="no_new_privileges",
        title="Containers cannot gain privileges (setuid, file capabilities)",
        daemon_key="no-new-privileges",
        why="Stops setuid binaries inside a container from escalating to root in it.",
        cost="Images that rely on sudo/su or setuid helpers inside the container break.",
        cis="2.14",
    ),
    HardeningOption(
        key="userns-remap",
        field="userns_remap",
        title="Map container root to an unprivileged host user",
        daemon_key="userns-remap",
        why="A process that escapes a container is an unprivileged user on the host, not root.",
        cost="Existing images, containers and volumes become invisible (the daemon uses a new "
        "storage directory) until it is switched off again; --privileged and host "
        "namespaces need --userns=host.",
        cis="2.9",
    ),
    HardeningOption(
        key="log-rotation",
        field="log_rotation",
        title="Rotate container logs (max-size / max-file)",
        daemon_key="log-opts",
        why="Unrotated json-file logs grow until the disk is full, which stops the daemon.",
        cost="Old log lines are discarded; applies to containers created after the change.",
        cis=None,
    ),
]


class Intent(BaseModel):
    """The admin's choices; everything else the plan derives from the HostState."""

    mode: Mode
    listen_host: str | None = None
    listen_port: int = Field(default=DEFAULT_TLS_PORT, ge=1, le=65535)
    sans_dns: list[str] = Field(default_factory=list)
    sans_ip: list[str] = Field(default_factory=list)
    key_type: str = "ecdsa-p256"
    server_days: int = Field(default=365, ge=1)
    client_days: int = Field(default=365, ge=1)
    client_name: str = "dockwiz-client"
    tls_dir: str = "/etc/docker/tls"
    ca_dir: str = "/etc/dockwiz/ca"
    clients_dir: str = "/etc/dockwiz/clients"
    reuse_certs: bool = True
    hardening: Hardening = Field(default_factory=Hardening)
    docker_version: str | None = None
    ssh_user: str | None = None


class Violation(BaseModel):
    """A rule an intent breaks. Blocking ones stop the plan; others are loud warnings."""

    rule: str
    message: str
    way_out: list[str] = Field(default_factory=list)
    blocking: bool = True


def strip_brackets(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def is_loopback(host: str | None) -> bool:
    """The daemon's notion of local (DOMAIN §1): 'localhost' or a loopback IP.

    0.0.0.0 and :: are wildcards (every interface), not loopback. Other host names are treated
    as remote: we do not resolve them, and guessing "local" would be the unsafe direction.
    """
    if host is None:
        return False
    h = strip_brackets(host.strip()).lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


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
