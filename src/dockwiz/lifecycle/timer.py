"""Scheduled renewal: a systemd timer + service, or a cron entry on hosts without systemd.

certbot's model: a daily check that does nothing until a certificate is inside its renewal
window, with a random delay so a fleet does not renew at the same second. The unit files are
an ordinary Plan (diff, journal, rollback); enabling the timer (``systemctl enable --now``)
is the one step after the transaction, because it is systemd's own state, not a file.

The service runs ``dockwiz renew --yes --json``: stdout and stderr go to the journal under the
identifier ``dockwiz-renew`` (``journalctl -t dockwiz-renew``), and a renewal that failed (and
was rolled back) leaves the unit failed, visible in ``systemctl --failed``.
"""

from __future__ import annotations

import hashlib
import shlex
from typing import TYPE_CHECKING

from dockwiz.docker_paths import (
    RENEW_CRON_PATH,
    RENEW_RANDOM_DELAY,
    RENEW_SERVICE_PATH,
    RENEW_TIMER_PATH,
)

if TYPE_CHECKING:
    from dockwiz.host import CommandResult, Host
    from dockwiz.models.plan import FileChange, Plan

TIMER_UNIT = "dockwiz-renew.timer"
SERVICE_UNIT = "dockwiz-renew.service"


def renew_command(exe: str) -> list[str]:
    return [exe, "renew", "--yes", "--json"]


def render_service(exe: str) -> str:
    return (
        "# Written by dockwiz (dockwiz renew --install-timer); remove with --remove-timer.\n"
        "[Unit]\n"
        "Description=Renew the Docker daemon's TLS certificates before they expire (dockwiz)\n"
        "After=docker.service network-online.target\n"
        "Wants=network-online.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={shlex.join(renew_command(exe))}\n"
        "StandardOutput=journal\n"
        "StandardError=journal\n"
        "SyslogIdentifier=dockwiz-renew\n"
    )


def render_timer() -> str:
    return (
        "# Written by dockwiz (dockwiz renew --install-timer); remove with --remove-timer.\n"
        "[Unit]\n"
        "Description=Daily check whether the Docker daemon's TLS certificates need renewing\n\n"
        "[Timer]\n"
        "OnCalendar=daily\n"
        f"RandomizedDelaySec={RENEW_RANDOM_DELAY}\n"
        "Persistent=true\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


def cron_time(seed: str) -> tuple[int, int]:
    """(minute, hour) spread over the night by a stable hash of the host: cron has no
    RandomizedDelaySec, and a fixed time per host is easier to read in the log than a sleep."""
    digest = hashlib.sha256(seed.encode()).digest()
    return digest[0] % 60, 1 + digest[1] % 5


def render_cron(exe: str, seed: str) -> str:
    minute, hour = cron_time(seed)
    cmd = shlex.join(renew_command(exe))
    return (
        "# Written by dockwiz (dockwiz renew --install-timer); remove with --remove-timer.\n"
        "# Daily check whether the Docker daemon's TLS certificates need renewing.\n"
        "SHELL=/bin/sh\n"
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        f"{minute} {hour} * * * root {cmd} 2>&1 | logger -t dockwiz-renew\n"
    )


def uses_systemd(host: Host) -> bool:
    return host.path("/run/systemd/system").is_dir()


def _machine_seed(host: Host) -> str:
    for path in ("/etc/machine-id", "/etc/hostname"):
        try:
            return host.read_text(path).strip() or path
        except OSError:
            continue
    return host.label


def _current(host: Host, path: str) -> tuple[str | None, int | None]:
    import stat

    local = host.resolve(path)
    try:
        return local.read_text(), stat.S_IMODE(local.stat().st_mode)
    except OSError:
        return None, None


def _change(host: Host, path: str, after: str | None, reason: str) -> FileChange:
    from dockwiz.models.plan import FileChange

    before, mode = _current(host, path)
    return FileChange(path=path, before=before, after=after, mode=0o644, mode_before=mode,
                      role="renew-timer", reason=reason)


def default_exe() -> str:
    """The dockwiz the timer runs: the one on PATH, else the usual pipx location."""
    import shutil

    return shutil.which("dockwiz") or "/usr/local/bin/dockwiz"


def timer_files(host: Host, exe: str) -> dict[str, str]:
    if uses_systemd(host):
        return {RENEW_SERVICE_PATH: render_service(exe), RENEW_TIMER_PATH: render_timer()}
    return {RENEW_CRON_PATH: render_cron(exe, _machine_seed(host))}


def plan_install_timer(host: Host, exe: str | None = None) -> Plan:
    """The timer (or cron) files as a Plan; after a successful apply call :func:`activate`."""
    return _timer_plan(host, {p: t for p, t in timer_files(host, exe or default_exe()).items()},
                       "scheduled renewal: dockwiz renew --yes --json, daily")


def plan_remove_timer(host: Host) -> Plan:
    """Remove every renewal file dockwiz wrote; call :func:`deactivate` first on systemd."""
    present = [p for p in (RENEW_SERVICE_PATH, RENEW_TIMER_PATH, RENEW_CRON_PATH)
               if host.resolve(p).exists()]
    return _timer_plan(host, dict.fromkeys(present), "scheduled renewal removed")


def _timer_plan(host: Host, files: dict[str, str | None], reason: str) -> Plan:
    from dockwiz.lifecycle.context import day_two
    from dockwiz.models.plan import ServiceAction

    ctx = day_two(host)
    changes = [_change(host, p, t, reason) for p, t in files.items()]
    changes = [c for c in changes if c.changed]
    plan = ctx.plan([], restart=False, why="", client_bundle=ctx.working_bundle()
                    if ctx.mtls else None)
    plan.files = changes
    if changes and any(c.path.startswith("/etc/systemd/") for c in changes):
        plan.actions = [ServiceAction(kind="daemon-reload", reason="systemd reads the timer")]
    return plan


def _systemctl(host: Host, *args: str) -> CommandResult:
    from dockwiz.services import SystemdManager, choose_manager

    manager = choose_manager(host)
    prefix = manager.prefix if isinstance(manager, SystemdManager) else []
    return host.run([*prefix, "systemctl", *args], timeout=30.0)


def activate(host: Host) -> str:
    """Enable and start the timer (systemd); cron reads /etc/cron.d by itself."""
    if not host.resolve(RENEW_TIMER_PATH).exists():
        return f"cron reads {RENEW_CRON_PATH} by itself"
    result = _systemctl(host, "enable", "--now", TIMER_UNIT)
    if not result.ok:
        from dockwiz.errors import DockwizError

        raise DockwizError(f"systemctl enable --now {TIMER_UNIT} failed: "
                           f"{(result.stderr or result.stdout).strip()}",
                           f"run it by hand; the unit files are in {RENEW_TIMER_PATH}")
    return f"{TIMER_UNIT} enabled and started"


def deactivate(host: Host) -> str | None:
    """Stop and disable the timer before its files go (systemd keeps a started unit loaded)."""
    if not host.resolve(RENEW_TIMER_PATH).exists():
        return None
    result = _systemctl(host, "disable", "--now", TIMER_UNIT)
    return f"{TIMER_UNIT} stopped and disabled" if result.ok else None


