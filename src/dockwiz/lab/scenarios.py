"""The lab's starting states: packaged files as Debian ships them, and the seeds' mistakes.

Each scenario is a tutorial from the seeds taken literally, mistakes included, because those are
the hosts the wizard meets. ``dockwiz.lab`` turns a :class:`ScenarioSpec` into a running (or
deliberately failing) daemon; the texts here are the files it writes, byte for byte.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

LabState = Literal["running", "stopped", "failed"]
CertKind = Literal["none", "selfsigned-no-san", "server", "mtls"]

# -- packaged files, as Debian 12's docker.io ships them -------------------------------------
DEBIAN_DOCKER_SERVICE = """\
[Unit]
Description=Docker Application Container Engine
Documentation=https://docs.docker.com
After=network-online.target docker.socket firewalld.service containerd.service
Wants=network-online.target containerd.service
Requires=docker.socket

[Service]
Type=notify
# the default is not to use systemd for cgroups because the delegate issues still
# exists and systemd currently does not support the cgroup feature set required
# for containers run by docker
EnvironmentFile=-/etc/default/docker
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS
ExecReload=/bin/kill -s HUP $MAINPID
LimitNOFILE=1048576
# Having non-zero Limit*s causes performance problems due to accounting overhead
# in the kernel. We recommend using cgroups to do container-local accounting.
LimitNPROC=infinity
LimitCORE=infinity
# Uncomment TasksMax if your systemd version supports it.
# Only systemd 226 and above support this version.
TasksMax=infinity
TimeoutStartSec=0
# set delegate yes so that systemd does not reset the cgroups of docker containers
Delegate=yes
# kill only the docker process, not all processes in the cgroup
KillMode=process
# restart the docker process if it exits prematurely
Restart=on-failure
StartLimitBurst=3
StartLimitInterval=60s

[Install]
WantedBy=multi-user.target
"""

DEBIAN_DOCKER_SOCKET = """\
[Unit]
Description=Docker Socket for the API

[Socket]
# If /var/run is not implemented as a symlink to /run, you may need to
# specify ListenStream=/var/run/docker.sock instead.
ListenStream=/run/docker.sock
SocketMode=0660
SocketUser=root
SocketGroup=docker

[Install]
WantedBy=sockets.target
"""

DEBIAN_DEFAULT_DOCKER = """\
# Here in Debian, this file is sourced by:
#   - /etc/init.d/docker (sysvinit)
#   - /etc/init/docker (upstart)
#   - systemd's docker.service

# Use of this file for configuring your Docker daemon is discouraged.

# The recommended alternative is "/etc/docker/daemon.json", as described in:
#   https://docs.docker.com/engine/reference/commandline/dockerd/#daemon-configuration-file

# If that does not suit your needs, try a systemd drop-in file, as described in:
#   https://docs.docker.com/config/daemon/systemd/
"""

# Docker's documented fix for "hosts" in daemon.json (DOMAIN §3), with Debian's binary path.
HOSTS_DROPIN = """\
[Service]
ExecStart=
ExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock
"""

SEED_001_DAEMON_JSON = """\
{
  "icc": false, // prevent inter-container communication on default bridge
  "userns-remap": "default", // isolate container users
  "tlsverify": true, // if TCP enabled
  "tlscacert": "/etc/docker/pki/ca.pem",
  "tlscert": "/etc/docker/pki/server-cert.pem",
  "tlskey": "/etc/docker/pki/server-key.pem",
  "log-driver": "local", // prevent log overflow
  "log-opts": { "max-size": "10m", "max-file": "3" },
  "live-restore": true, // containers keep running if daemon restarts
  "no-new-privileges": true // apply to supported containers
}
"""

SEED_003_DAEMON_JSON = """\
{
  "tlsverify": true,
  "tlscert": "/etc/docker/certs/server.crt",
  "tlskey": "/etc/docker/certs/server.key",
  "hosts": ["tcp://0.0.0.0:2376", "unix:///var/run/docker.sock"]
}
"""

SEED_004_DAEMON_JSON = """\
{
  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]
}
"""

SEED_004_TLS_DAEMON_JSON = """\
{
  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"],
  "tls": true,
  "tlscert": "/etc/docker/certs/cert.pem",
  "tlskey": "/etc/docker/certs/key.pem",
  "tlsverify": false
}
"""

MTLS_DAEMON_JSON = """\
{
  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"],
  "tlsverify": true,
  "tlscacert": "/etc/docker/tls/ca.pem",
  "tlscert": "/etc/docker/tls/server-cert.pem",
  "tlskey": "/etc/docker/tls/server-key.pem"
}
"""


class ScenarioSpec(BaseModel):
    """A starting state: the files a lab host gets, and how its daemon is expected to end up."""

    name: str
    title: str
    source: str
    daemon_json: str | None = None
    dropins: dict[str, str] = Field(default_factory=dict)
    certs: CertKind = "none"
    expect_state: LabState = "running"
    expect_tcp_ports: list[int] = Field(default_factory=list)
    expect_error: str | None = None  # a fragment of dockerd's own reason, for failed states
    slow_start_s: float = 0.0  # dockerd's deliberate startup sleep for this config, if any


SCENARIOS: dict[str, ScenarioSpec] = {
    s.name: s
    for s in (
        ScenarioSpec(
            name="fd-socket",
            title="stock install: unit with -H fd://, empty daemon.json, unix socket only",
            source="Debian 12 docker.io as installed (the package ships no daemon.json; "
            "an empty {} is what most hosts end up with)",
            daemon_json="{}\n",
        ),
        ScenarioSpec(
            name="insecure-tcp",
            title="plain, unauthenticated TCP on 0.0.0.0:2375 (root for anyone on the network)",
            source="seed 004's daemon.json; the hosts conflict it would hit with the stock "
            "unit is fixed with Docker's documented drop-in, not by editing the packaged unit",
            daemon_json=SEED_004_DAEMON_JSON,
            dropins={"override.conf": HOSTS_DROPIN},
            expect_tcp_ports=[2375],
            slow_start_s=16.0,
        ),
        ScenarioSpec(
            name="tls-no-verify",
            title="TLS with a server cert but no client verification on 0.0.0.0:2376",
            source="seed 004 step 2 (tls true, tlsverify false, certs in /etc/docker/certs)",
            daemon_json=SEED_004_TLS_DAEMON_JSON,
            dropins={"override.conf": HOSTS_DROPIN},
            certs="server",
            expect_tcp_ports=[2376],
            slow_start_s=1.0,
        ),
        ScenarioSpec(
            name="tlsverify-no-ca",
            title="tlsverify without tlscacert: client certs are checked against no CA of yours",
            source="seed 003 (self-signed server cert without SANs, no CA configured). Seen "
            "on 20.10: with TLS set only in daemon.json, dockerd does NOT fall back to "
            "~/.docker/ca.pem (that default applies to --tls* flags); it starts, demands a "
            "client cert and verifies it against the system roots, so a private CA's client "
            "certs are refused, even one in /root/.docker/ca.pem",
            daemon_json=SEED_003_DAEMON_JSON,
            dropins={"override.conf": HOSTS_DROPIN},
            certs="selfsigned-no-san",
            expect_tcp_ports=[2376],
        ),
        ScenarioSpec(
            name="commented-json",
            title="daemon.json with // comments: the daemon cannot start",
            source="seed 001's 'hardened' daemon.json, comments and all",
            daemon_json=SEED_001_DAEMON_JSON,
            expect_state="failed",
            expect_error="invalid character '/'",
        ),
        ScenarioSpec(
            name="hosts-conflict",
            title="hosts in daemon.json plus -H fd:// in the unit: the daemon refuses to start",
            source="seed 004's daemon.json on the stock unit, before any fix",
            daemon_json=SEED_004_DAEMON_JSON,
            expect_state="failed",
            expect_error="the following directives are specified both as a flag and in the "
            "configuration file",
        ),
        ScenarioSpec(
            name="mtls",
            title="already secured: mutual TLS on 0.0.0.0:2376 with a CA, plus the unix socket",
            source="the state the wizard's mTLS mode produces (for verify tests)",
            daemon_json=MTLS_DAEMON_JSON,
            dropins={"override.conf": HOSTS_DROPIN},
            certs="mtls",
            expect_tcp_ports=[2376],
        ),
    )
}
