"""The Host: the one door through which the core reaches files and processes.

Every path the core reads or writes is a *host path* (as the daemon sees it, e.g.
``/etc/docker/daemon.json``) resolved against ``Host.root``. On a real machine the root is ``/``;
in labs and tests it is a temp directory, so the whole core runs unchanged against a sandbox and
can never touch this machine's own /etc/docker by accident.

Commands run through ``Host.run``, which enforces a timeout and, for a lab, enters the lab's
network namespace so that TCP probes reach the lab daemon and nothing else.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from dockwiz.errors import DockwizError

_MAX_SYMLINKS = 40


class HostPathError(DockwizError, ValueError):
    """A host path that is relative, or that a symlink leads out of the host root."""


@dataclass(frozen=True)
class CommandResult:
    """What a command did; never raises for a non-zero exit, the caller decides.

    A plain dataclass, not a pydantic model: every command goes through here, and the quick
    ones (``dockwiz certs``) must not pay pydantic's import time.
    """

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    missing: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.missing


class ServiceManager(Protocol):
    """How the daemon is (re)started on this host: systemd, SysV, or a lab's process manager."""

    name: str

    def daemon_reload(self) -> CommandResult: ...

    def restart(self) -> CommandResult: ...

    def reload(self) -> CommandResult: ...

    def stop(self) -> CommandResult: ...

    def start(self) -> CommandResult: ...

    def is_active(self) -> bool: ...


def run_command(
    argv: Sequence[str],
    *,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
) -> CommandResult:
    """Run argv without a shell, capture text output, never hang past ``timeout``."""
    started = time.monotonic()
    full_env = None if env is None else {**os.environ, **env}
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            input=input_text,
            check=False,
        )
    except FileNotFoundError as exc:
        return CommandResult(
            argv=list(argv), returncode=127, stdout="", stderr=str(exc),
            duration_s=time.monotonic() - started, missing=True,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return CommandResult(
            argv=list(argv), returncode=124, stdout=out, stderr=err,
            duration_s=time.monotonic() - started, timed_out=True,
        )
    return CommandResult(
        argv=list(argv), returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr,
        duration_s=time.monotonic() - started,
    )


class Host:
    """A filesystem root, a command runner and (optionally) a service manager.

    ``netns`` names a network namespace (a lab's): commands that must see the daemon's network
    (``docker`` over TCP, probes) are wrapped in ``nsenter --net=/var/run/netns/NAME``.
    """

    def __init__(
        self,
        root: Path | str = "/",
        *,
        netns: str | None = None,
        services: ServiceManager | None = None,
        label: str | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.netns = netns
        self.services = services
        self.label = label or ("this host" if self.is_real else f"sandbox {self.root}")

    @property
    def is_real(self) -> bool:
        """True when the root is the machine's own ``/``."""
        return self.root == Path("/")

    # -- paths: the one door -----------------------------------------------------------------
    # Three ways in, one rule: nothing the core touches on a sandbox root is ever this machine's
    # own file. ``path`` maps the string; ``resolve`` is for reading (links are followed INSIDE
    # the root, as the daemon on that host would see them); ``writable`` is for anything that
    # writes, creates, changes or deletes (a link that leads out of the root is refused, naming
    # the link, because the kernel would follow it to this machine's files).
    def path(self, host_path: str | PurePosixPath) -> Path:
        """Map an absolute host path to the local path under the root (a string operation)."""
        p = PurePosixPath(host_path)
        if not p.is_absolute():
            raise HostPathError(f"host paths are absolute, got {str(host_path)!r}")
        parts = [part for part in p.parts[1:] if part not in ("", ".")]
        if ".." in parts:
            raise HostPathError(f"host path {str(host_path)!r} must not contain '..'")
        return self.root.joinpath(*parts) if parts else self.root

    def host_path_of(self, local: Path) -> str:
        """Inverse of :meth:`path`: the path as the daemon on this host sees it."""
        rel = Path(local).resolve().relative_to(self.root)
        return "/" + rel.as_posix() if str(rel) != "." else "/"

    def resolve_host_path(self, host_path: str) -> str:
        """``host_path`` with every symlink followed INSIDE the host root (a host path again).

        On a sandbox root an absolute symlink (``/etc/docker/daemon.json -> /srv/cfg.json``) must
        resolve under the root: the kernel would read this machine's own file instead. A unit
        masked with a link to /dev/null comes back as "/dev/null". Missing parts stay as written.
        """
        todo = list(PurePosixPath(host_path).parts[1:])
        current = PurePosixPath("/")
        hops = 0
        while todo:
            part = todo.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                current = current.parent
                continue
            candidate = current / part
            local = self.path(str(candidate))
            if local.is_symlink():
                hops += 1
                if hops > _MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "Too many levels of symbolic links", host_path)
                target = PurePosixPath(local.readlink())
                if target.is_absolute():
                    current = PurePosixPath("/")
                    todo = list(target.parts[1:]) + todo
                else:
                    todo = list(target.parts) + todo
                continue
            current = candidate
        return str(current)

    def resolve(self, host_path: str) -> Path:
        """The local path to OPEN for reading ``host_path``, symlinks resolved inside the root."""
        return self.path(self.resolve_host_path(host_path))

    def writable(self, host_path: str) -> Path:
        """The local path to write, create, chmod or delete ``host_path``; never outside the root.

        Every existing component is checked as the kernel will walk it: a symlink whose target
        (followed the kernel's way) lies outside a sandbox root is refused with an error naming
        the link. A link that stays inside the root is fine. On ``/`` nothing is outside. The
        check and the write are not one atomic step: dockwiz runs as root on root-owned trees,
        where only root can swap a directory for a link in between.
        """
        local = self.path(host_path)
        if self.is_real:
            return local
        probe = self.root
        for part in local.relative_to(self.root).parts:
            probe = probe / part
            if not probe.is_symlink():
                if not probe.exists():
                    break
                continue
            target = Path(os.path.realpath(probe))
            if not target.is_relative_to(self.root):
                shown = "/" + probe.relative_to(self.root).as_posix()
                raise HostPathError(
                    f"{shown} is a symlink to {probe.readlink()}, which leads outside the host "
                    f"root {self.root}; refusing to write {host_path} through it",
                    f"replace the symlink {probe} with a directory (or file) inside {self.root}",
                )
        return local

    def exists(self, host_path: str) -> bool:
        return self.path(host_path).exists()

    def read_text(self, host_path: str) -> str:
        return self.path(host_path).read_text(encoding="utf-8", errors="replace")

    def read_bytes(self, host_path: str) -> bytes:
        return self.path(host_path).read_bytes()

    # -- processes ---------------------------------------------------------------------------
    def which(self, name: str) -> str | None:
        """Binaries are the machine's own (a sandbox root holds config, not programs)."""
        path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/local/sbin"
        return shutil.which(name, path=path)

    def resolve_pid(self, pid: int) -> int:
        """Map a PID read from a file under the root (a pidfile) to this machine's numbering.

        The identity here; a Host whose daemon lives in another PID namespace (a booted
        container) overrides it, so inspect finds the daemon from the machine's side.
        """
        return pid

    def netns_prefix(self) -> list[str]:
        if self.netns is None:
            return []
        return ["nsenter", f"--net=/var/run/netns/{self.netns}"]

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
        in_netns: bool = False,
        input_text: str | None = None,
    ) -> CommandResult:
        """Run a command; ``in_netns`` enters the lab's network namespace first."""
        full = [*self.netns_prefix(), *argv] if in_netns else list(argv)
        return run_command(full, timeout=timeout, env=env, input_text=input_text)

    def __repr__(self) -> str:
        return f"Host(root={str(self.root)!r}, netns={self.netns!r})"
