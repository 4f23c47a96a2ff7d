"""Service managers: how the apply transaction restarts dockerd on a given host.

Three kinds exist. A lab Host carries its own process manager (``host.services``, the lab's
dockerd started and stopped by PID). A real host is driven either through systemd or through
SysV ``service``. The systemd manager clears the unit's failed state before every (re)start:
after a few quick failures systemd refuses further starts ("start request repeated too
quickly", moby#38495), and a rollback that cannot start the old daemon would lock the admin out
exactly when it matters.

When a restart fails, the result carries the daemon's own last log lines (journalctl), so the
transaction can report *why* in dockerd's words instead of "exit status 1".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from dockwiz.errors import DockwizError
from dockwiz.host import CommandResult, Host, ServiceManager

UNIT = "docker"
SYSTEMCTL_TIMEOUT = 90.0  # dockerd may sleep 15 s on start (DOMAIN §1); systemd's own is 90 s
MANAGER_NAMES = ("systemd", "sysv", "lab")


def _ok_noop(what: str) -> CommandResult:
    """A step that has nothing to do on this manager, reported as done."""
    return CommandResult(argv=[], returncode=0, stdout="", stderr=what, duration_s=0.0)


def _with_log_tail(result: CommandResult, tail: CommandResult) -> CommandResult:
    """Append the daemon's log tail to a failed start so the reason travels with it."""
    if result.ok or not tail.stdout.strip():
        return result
    stderr = f"{result.stderr.rstrip()}\n--- dockerd log (last lines) ---\n{tail.stdout.rstrip()}"
    return dataclasses.replace(result, stderr=stderr.lstrip())


class SystemdManager:
    """docker.service through systemctl; ``prefix`` runs it inside a booted container."""

    name = "systemd"

    def __init__(self, host: Host, *, unit: str = UNIT, prefix: Sequence[str] = ()) -> None:
        self.host = host
        self.unit = unit
        self.prefix = list(prefix)

    def _systemctl(self, *args: str, timeout: float = SYSTEMCTL_TIMEOUT) -> CommandResult:
        return self.host.run([*self.prefix, "systemctl", *args], timeout=timeout)

    def _log_tail(self) -> CommandResult:
        return self.host.run(
            [*self.prefix, "journalctl", "-u", self.unit, "-n", "25", "--no-pager", "-o", "cat"],
            timeout=15.0,
        )

    def _reset_failed(self, socket_unit: str | None = None) -> None:
        """Clear the start rate limit ("start request repeated too quickly", moby#38495).

        With socket activation every client that connects while the daemon is failing starts
        it again, so the limit is hit within a second and docker.socket fails with
        'service-start-limit-hit' too: both units are cleared, one at a time (a unit that
        does not exist makes reset-failed fail without touching the others).
        """
        if socket_unit:
            self._systemctl("reset-failed", socket_unit, timeout=15.0)
        self._systemctl("reset-failed", self.unit, timeout=15.0)

    def daemon_reload(self) -> CommandResult:
        return self._systemctl("daemon-reload")

    def _socket_unit(self) -> str | None:
        """docker.socket, when it exists: it must be restarted along with the service.

        While a daemon without ``-H fd://`` runs (what TCP modes plan), dockerd unlinks the
        socket file docker.socket bound and creates its own; when the daemon goes back to
        ``-H fd://`` (a rollback), docker.socket would hand over a listener whose path no
        longer exists, and /var/run/docker.sock would be gone. Restarting the socket unit
        binds the path afresh (and, through the service's Requires=, restarts the service).
        """
        socket_unit = f"{self.unit}.socket"
        shown = self._systemctl("show", "-p", "LoadState", "--value", socket_unit, timeout=15.0)
        return socket_unit if shown.ok and shown.stdout.strip() == "loaded" else None

    def restart(self) -> CommandResult:
        socket_unit = self._socket_unit()
        self._reset_failed(socket_unit)
        units = [socket_unit, self.unit] if socket_unit else [self.unit]
        result = self._systemctl("restart", *units)
        return _with_log_tail(result, self._log_tail()) if not result.ok else result

    def start(self) -> CommandResult:
        self._reset_failed(self._socket_unit())
        result = self._systemctl("start", self.unit)
        return _with_log_tail(result, self._log_tail()) if not result.ok else result

    def stop(self) -> CommandResult:
        return self._systemctl("stop", self.unit)

    def reload(self) -> CommandResult:
        """SIGHUP through the unit's ExecReload; a unit without one gets the signal directly."""
        result = self._systemctl("reload", self.unit)
        if result.ok:
            return result
        return self._systemctl("kill", "-s", "HUP", "--kill-who=main", self.unit)

    def is_active(self) -> bool:
        return self._systemctl("is-active", "--quiet", self.unit, timeout=15.0).ok


class SysVManager:
    """Hosts without systemd as PID 1: the init script through ``service``."""

    name = "sysv"

    def __init__(self, host: Host, *, service: str = UNIT) -> None:
        self.host = host
        self.service = service

    def _service(self, action: str) -> CommandResult:
        return self.host.run(["service", self.service, action], timeout=SYSTEMCTL_TIMEOUT)

    def daemon_reload(self) -> CommandResult:
        return _ok_noop("no unit files to reload under SysV init")

    def restart(self) -> CommandResult:
        return self._service("restart")

    def start(self) -> CommandResult:
        return self._service("start")

    def stop(self) -> CommandResult:
        return self._service("stop")

    def reload(self) -> CommandResult:
        return self._service("reload")

    def is_active(self) -> bool:
        return self._service("status").ok


@runtime_checkable
class DockerdRunner(Protocol):
    """A service manager that can run ITS daemon's dockerd where that daemon runs.

    A lab's manager has it (``LabServiceManager``): the lab's engine binary, inside the lab's
    mount and network namespaces, so ``dockerd --validate --config-file
    /etc/docker/daemon.json`` reads the lab's files (its /etc/docker/tls exists only there).
    Arguments are host paths as the daemon sees them, never paths under a sandbox root.
    Managers of the machine's own daemon (systemd, SysV) lack it: there ``host.which("dockerd")``
    run directly is already the daemon's binary and view.
    """

    def run_dockerd(self, args: list[str], timeout: float = 30.0) -> CommandResult: ...

    def dockerd_version(self) -> str: ...


def dockerd_runner(host: Host) -> DockerdRunner | None:
    """The host's way to run its own dockerd in place, if its service manager has one."""
    services = host.services
    return services if isinstance(services, DockerdRunner) else None


def choose_manager(host: Host, override: str | None = None) -> ServiceManager:
    """The manager for ``host``: the lab's own, systemd, or SysV; ``override`` forces one.

    A sandbox root without a manager of its own is refused: restarting this machine's docker
    because a config under some temp directory changed would be exactly the wrong daemon.
    """
    if override is not None and override not in MANAGER_NAMES:
        raise DockwizError(
            f"unknown service manager {override!r}",
            f"use one of: {', '.join(MANAGER_NAMES)}",
        )
    if override == "lab" or (override is None and host.services is not None):
        if host.services is None:
            raise DockwizError(
                f"{host.label} has no lab process manager",
                "use --lab DIR for a lab host, or --service-manager systemd|sysv",
            )
        return host.services
    if override == "systemd":
        return SystemdManager(host)
    if override == "sysv":
        return SysVManager(host)
    if not host.is_real:
        raise DockwizError(
            f"no service manager for {host.label}: its daemon is not this machine's",
            "use --lab DIR for a lab host, or pass --service-manager systemd|sysv explicitly",
        )
    if Path("/run/systemd/system").is_dir():
        return SystemdManager(host)
    if host.which("service"):
        return SysVManager(host)
    raise DockwizError(
        "cannot tell how dockerd is managed here: no systemd and no 'service' command",
        "restart dockerd yourself, or pass --service-manager systemd|sysv",
    )
