"""Where Docker and dockwiz keep things on a host, and the ports the daemon's API uses.

Host paths as the daemon sees them (resolve them through ``Host.path``). One module so that a
path or a port has one spelling: the first version had the default socket five times and port
2376 four times, and two of the copies had drifted.
"""

from __future__ import annotations

# -- the daemon's own files --------------------------------------------------------------------
DAEMON_JSON = "/etc/docker/daemon.json"
DOCKER_SERVICE = "docker.service"
DOCKER_SOCKET_UNIT = "docker.socket"
DROPIN_DIR = "/etc/systemd/system/docker.service.d"
DROPIN_PATH = f"{DROPIN_DIR}/dockwiz.conf"
SYSV_DEFAULTS = "/etc/default/docker"

SOCKET_PATH = "/var/run/docker.sock"
"""The unix socket the CLI dials by default (``/var/run`` is a link to ``/run`` on Debian)."""
SOCKET_URL = f"unix://{SOCKET_PATH}"
SOCKET_UNIT_PATH = "/run/docker.sock"
"""What Debian's docker.socket unit names in ListenStream: the same socket by its other path."""

# -- TLS material ------------------------------------------------------------------------------
DAEMON_TLS_DIR = "/etc/docker/tls"
"""Where dockerd reads its material: ``ca.pem``, ``server-cert.pem``, ``server-key.pem``.

Modes follow CIS Docker Benchmark 3.9-3.14: certificates 0444, the server key exactly 0400,
all owned by root."""

CA_DIR = "/etc/dockwiz/ca"
"""The CA's own root-only (0700) directory: ``ca-key.pem`` (0400) and ``ca.pem``.

The CA key never goes in the daemon's directory. Whoever holds it can mint a client certificate
that dockerd accepts, i.e. root on this host and on every host trusting the CA: it must not be
read by the daemon (which never needs it), not be swept up with the daemon's config by backup or
config-management tools that copy /etc/docker, and not be exposed by a looser mode on
/etc/docker. A separate 0700 directory also lets an admin move the CA key offline (or encrypt it
with a passphrase) without touching what the daemon reads."""

CLIENTS_DIR = "/etc/dockwiz/clients"
"""``<name>/`` (0700) per client: ``ca.pem cert.pem key.pem`` (the docker CLI's
DOCKER_CERT_PATH names), ``env.sh`` and ``context.txt``."""

DEFAULT_CLIENT = "dockwiz-client"

REVOKED_DIR = "/etc/dockwiz/revoked"
"""``<name>/`` per revoked client: its last bundle, kept (0700) so verify can prove it is
refused and the admin can see who was revoked; no CA trusts it any more."""

PREVIOUS_CA_PATH = f"{CA_DIR}/previous-ca.pem"
"""During a CA roll-over (``renew --ca``): the old CA certificate the daemon still trusts until
``renew --finish-ca-rollover``. Its key is gone: nothing can be signed with it any more."""

# -- scheduled renewal ---------------------------------------------------------------------------
RENEW_SERVICE_PATH = "/etc/systemd/system/dockwiz-renew.service"
RENEW_TIMER_PATH = "/etc/systemd/system/dockwiz-renew.timer"
RENEW_TIMER_WANTS = "/etc/systemd/system/timers.target.wants/dockwiz-renew.timer"
RENEW_CRON_PATH = "/etc/cron.d/dockwiz-renew"
RENEW_RANDOM_DELAY = "1h"
"""The renewal timer's RandomizedDelaySec: hosts renewing at once would restart at once."""

# -- dockwiz's state ---------------------------------------------------------------------------
STATE_DIR = "/var/lib/dockwiz"
JOURNAL_PATH = f"{STATE_DIR}/journal.json"
BACKUP_ROOT = f"{STATE_DIR}/backups"

# -- ports -------------------------------------------------------------------------------------
PLAIN_PORT = 2375
"""Docker's conventional port for the unencrypted API: never opened by dockwiz, always probed."""
TLS_PORT = 2376
"""Docker's conventional port for the TLS API."""
