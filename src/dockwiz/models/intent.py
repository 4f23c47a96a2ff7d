"""What the admin chose: the mode, where it listens, the certificates, the hardening.

Data only: the rules that judge a choice live in policy.py, the planner that turns it into a
Plan in plan.py. Kept apart so screens, the CLI and the journal can name these types without
importing the rules or the planner.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

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
        "clients prove nothing. On Docker 27+ dockwiz allows it on loopback only (Docker has "
        "announced the end of TLS without client verification elsewhere), e.g. behind an SSH "
        "tunnel or a local proxy."
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
    userland_proxy_off: bool = False
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
        key="userland-proxy",
        field="userland_proxy_off",
        title="Published ports through the kernel's NAT, not docker-proxy",
        daemon_key="userland-proxy",
        why="With the userland proxy every published port runs a docker-proxy process as root "
        "that handles the traffic; without it the kernel's NAT rules do the same job with less "
        "code exposed to the network.",
        cost="Hairpin NAT (a container reaching its own published port through the host's "
        "address) then needs iptables; setups without iptables, or that publish IPv6 ports or "
        "reach them on loopback, can break.",
        cis="2.16",
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
