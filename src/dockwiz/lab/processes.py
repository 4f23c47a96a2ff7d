"""Finding, stopping and cleaning up after a lab's processes, by PID and start time only.

Never by name: a lab must never touch this machine's own dockerd or another lab's. Mounts and
cgroups a daemon leaves behind are undone deepest first.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from dockwiz.host import run_command

if TYPE_CHECKING:
    from dockwiz.lab.lab import LabInfo

CGROUP_ROOT = Path("/sys/fs/cgroup")
CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""The dockerd processes this process started: reaped here, so a stopped lab leaves no zombie."""


def kill_all(procs: list[psutil.Process]) -> None:
    """SIGTERM, a short grace, then SIGKILL: each one by PID (psutil checks it is the same)."""
    alive = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.is_running():
                proc.terminate()
                alive.append(proc)
    _, still = psutil.wait_procs(alive, timeout=2.0)
    for proc in still:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(still, timeout=5.0)


def descendants(info: LabInfo) -> list[psutil.Process]:
    if info.pid is None or not alive(info.pid, info.pid_create_time):
        return []
    try:
        return list(psutil.Process(info.pid).children(recursive=True))
    except psutil.Error:
        return []


def namespace_processes(namespaces: list[str]) -> list[psutil.Process]:
    """Everything in the lab's mount namespaces (containerd, shims) and their children."""
    if not namespaces:
        return []
    wanted = set(namespaces)
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter():
        if proc.pid in found or mnt_ns(proc.pid) not in wanted:
            continue
        found[proc.pid] = proc
        with contextlib.suppress(psutil.Error):
            for child in proc.children(recursive=True):
                found[child.pid] = child
    return list(found.values())


def wait_gone(alive: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not alive():
            return True
        time.sleep(0.05)
    return not alive()


def alive(pid: int | None, create_time: float | None) -> bool:
    """True while that very process (not a reused PID) runs and is not a zombie."""
    if pid is None:
        return False
    child = CHILDREN.get(pid)
    if child is not None:
        # our own child: poll() is exact, reaps a zombie, and its PID cannot be reused unreaped
        if child.poll() is None:
            return True
        del CHILDREN[pid]
        return False
    try:
        proc = psutil.Process(pid)
        if create_time is not None and abs(proc.create_time() - create_time) > 0.5:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def create_time(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def mnt_ns(pid: int) -> str | None:
    try:
        return str(Path(f"/proc/{pid}/ns/mnt").readlink())
    except OSError:
        return None


def remove_container_cgroups(directory: Path) -> None:
    """Container cgroups the sweep orphaned (runc never got to clean up a killed container)."""
    containers = directory / "data" / "containers"
    if not containers.is_dir():
        return
    for entry in containers.iterdir():
        if not re.fullmatch(r"[0-9a-f]{64}", entry.name):
            continue
        for cgroup in [*CGROUP_ROOT.glob(f"*/docker/{entry.name}"),
                       *CGROUP_ROOT.glob(f"docker/{entry.name}")]:
            with contextlib.suppress(OSError):
                cgroup.rmdir()  # refused by the kernel while any process is still in it


def mounts_under(directory: Path) -> list[str]:
    """Mount points under ``directory`` in this (the machine's) mount namespace."""
    prefix = str(directory.resolve())
    points: list[str] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            if len(fields) > 4:
                point = fields[4].replace("\\040", " ")
                if point == prefix or point.startswith(prefix + "/"):
                    points.append(point)
    return points


def unmount_under(directory: Path) -> None:
    """Unmount anything left under the lab dir, deepest first (none is expected: see top)."""
    for point in sorted(mounts_under(directory), key=lambda p: p.count("/"), reverse=True):
        if not run_command(["umount", point], timeout=15).ok:
            run_command(["umount", "-l", point], timeout=15)
