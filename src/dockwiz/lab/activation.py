"""docker.socket for labs, the way systemd does it: the sockets outlive every dockerd restart.

Why: with socket activation systemd binds docker.socket's ListenStreams once and keeps them
open; each start of docker.service receives copies (fds 3.., ``LISTEN_FDS``). A client that
dials /run/docker.sock while dockerd restarts is queued in the listen backlog and answered by
the next dockerd: never refused, never lost. A lab that re-binds the socket at every start
refuses clients for the whole restart, so it cannot show (or test) issue 12 §1b.

Here a tiny holder process (``python -c 'signal.pause()'``) plays systemd's part: it holds every
ListenStream (unix paths under the lab root, TCP ones in the lab's network namespace) for as
long as the socket unit's ListenStreams stay the same. Each start takes copies from the holder
with pidfd_getfd(2) (so a start in another process, a later ``dockwiz apply`` or ``rollback``,
gets the very same sockets). When the ListenStreams change (a docker.socket drop-in), the holder
is replaced, as ``systemctl restart docker.socket`` would. ``stop_holder`` ends it by PID.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from pydantic import BaseModel, Field

from dockwiz.effective import parse_listen_stream
from dockwiz.fsutil import ensure_dir
from dockwiz.host import Host
from dockwiz.systemd import ListenStreamEntry, read_socket_unit, socket_listen_streams

STATE_FILE = "activation.json"
_SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture (new syscall table)
_HOLDER_CODE = "import signal\nwhile True:\n    signal.pause()\n"


class HolderState(BaseModel):
    """What the lab's socket holder holds, saved in the lab dir."""

    pid: int
    create_time: float
    spec: list[str]  # ListenStreams, SocketMode, SocketGroup: a change means a new holder
    fds: list[int] = Field(default_factory=list)  # fd numbers inside the holder, in order


class Activation:
    """The sockets for one dockerd start: our copies, closed once dockerd holds its own."""

    def __init__(self, fds: list[int]) -> None:
        self.fds = fds

    def fileno(self) -> int:
        return self.fds[0]

    @property
    def env(self) -> dict[str, str]:
        return {"DW_LISTEN_FDS": str(len(self.fds)),
                "DW_LISTEN_FDNAMES": ":".join(["docker.socket"] * len(self.fds))}

    @property
    def extra_fds(self) -> tuple[int, ...]:
        """Where fds 2.. of the list land in the child (fd 3 comes from stdin)."""
        return tuple(range(4, 4 + len(self.fds) - 1))

    def place_extra(self) -> None:
        """preexec_fn: put the 2nd.. sockets at fds 4.. (fd 3 is the first, from stdin)."""
        high = [os.dup(fd) for fd in self.fds[1:]]
        for i, fd in enumerate(high):
            os.dup2(fd, 4 + i)
            os.close(fd)

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []


def activation_for_start(host: Host, lab_dir: Path) -> Activation | None:
    """Copies of docker.socket's sockets for a start, or None when the lab has no socket unit."""
    streams, present = socket_listen_streams(host)
    unit = read_socket_unit(host)
    if not present or not streams:
        stop_holder(lab_dir)
        return None
    spec = [e.value for e in streams] + [unit.socket_mode or "", unit.socket_group or ""]
    held = _load(lab_dir)
    if held is not None and held.spec == spec and _alive(held) and _paths_bound(host, streams):
        try:
            return Activation([_getfd(held.pid, fd) for fd in held.fds])
        except OSError:
            pass
    stop_holder(lab_dir)
    socks = [_bind(host, value, unit.socket_mode, unit.socket_group) for value in
             [e.value for e in streams]]
    bound = [s for s in socks if s is not None]
    if not bound:
        return None
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER_CODE], pass_fds=[s.fileno() for s in bound],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, cwd="/",
    )
    state = HolderState(pid=proc.pid, create_time=psutil.Process(proc.pid).create_time(),
                        spec=spec, fds=[s.fileno() for s in bound])
    (lab_dir / STATE_FILE).write_text(state.model_dump_json())
    copies = [os.dup(s.fileno()) for s in bound]
    for s in bound:
        s.close()
    return Activation(copies)


def _paths_bound(host: Host, streams: list[ListenStreamEntry]) -> bool:
    """Every unix ListenStream still has its socket file. A daemon started without fd:// binds
    the same path itself and removes it when it exits, orphaning the held socket (clients could
    no longer reach it): then the holder is replaced, as restarting docker.socket would."""
    for entry in streams:
        if entry.value.startswith("/"):
            try:
                if not host.path(entry.value).is_socket():
                    return False
            except OSError:
                return False
    return True


def stop_holder(lab_dir: Path) -> None:
    """End the holder by PID (checked against its start time): the sockets close with it."""
    held = _load(lab_dir)
    if held is not None and _alive(held):
        with contextlib.suppress(ProcessLookupError):
            os.kill(held.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        while _alive(held) and time.monotonic() < deadline:
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            psutil.Process(held.pid).wait(timeout=0.1)
    with contextlib.suppress(FileNotFoundError):
        (lab_dir / STATE_FILE).unlink()


def holder_pid(lab_dir: Path) -> int | None:
    held = _load(lab_dir)
    return held.pid if held is not None and _alive(held) else None


def _load(lab_dir: Path) -> HolderState | None:
    try:
        return HolderState.model_validate(json.loads((lab_dir / STATE_FILE).read_text()))
    except (OSError, ValueError):
        return None


def _alive(held: HolderState) -> bool:
    try:
        proc = psutil.Process(held.pid)
        return abs(proc.create_time() - held.create_time) < 0.01 and proc.status() != "zombie"
    except psutil.Error:
        return False


def _getfd(pid: int, target: int) -> int:
    """pidfd_getfd(2): a copy of another process's fd (root may, like a debugger)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        fd = libc.syscall(_SYS_PIDFD_GETFD, pidfd, target, 0)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return int(fd)
    finally:
        os.close(pidfd)


def _bind(host: Host, value: str, mode: str | None, group: str | None) -> socket.socket | None:
    parsed = parse_listen_stream(value)
    if parsed is None or (isinstance(parsed, str) and parsed.startswith("@")):
        return None
    if isinstance(parsed, str):
        return _bind_unix(host, parsed, mode, group)
    from dockwiz.netns import run_in_netns

    address, port = parsed

    def make() -> socket.socket:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # BindIPv6Only=default
        sock.bind((address, port))
        sock.listen(4096)
        return sock

    return run_in_netns(host.netns, make) if host.netns else make()


def _bind_unix(host: Host, path_str: str, mode: str | None, group: str | None) -> socket.socket:
    path = host.path(path_str)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    ensure_dir(path.parent, mode=0o755)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dir_fd = os.open(path.parent, os.O_PATH | os.O_CLOEXEC)
    try:
        sock.bind(f"/proc/self/fd/{dir_fd}/{path.name}")
    finally:
        os.close(dir_fd)
    sock.listen(4096)
    path.chmod(int(mode or "0666", 8))  # systemd's default SocketMode is 0666
    os.chown(path, 0, _sandbox_gid(host, group) if group else 0)
    return sock


def _sandbox_gid(host: Host, group: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in host.read_text("/etc/group").splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[0] == group:
                return int(fields[2])
    return 0
