"""Run a Python callable inside a lab's network namespace.

A lab daemon's TCP listeners exist only inside the lab's namespace (DOMAIN §10). Spawning
``nsenter`` for every probe would cost a process per connection and hide socket errors behind
exit codes, so the probes instead run on a short-lived thread that joins the namespace with
``setns(2)``: the network namespace is per thread on Linux, so only sockets that thread creates
live in the lab, and the rest of the process (and the caller's thread) stay where they were.
The thread ends with the call, so no thread is ever left behind in a lab's namespace.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from dockwiz.errors import DockwizError

if TYPE_CHECKING:
    from dockwiz.host import Host

T = TypeVar("T")

NETNS_DIR = Path("/var/run/netns")
CLONE_NEWNET = 0x40000000

_libc: ctypes.CDLL | None = None


def _setns(fd: int, nstype: int) -> None:
    """Call libc's setns; Python's os.setns exists only from 3.12."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def netns_path(name: str) -> Path:
    """The bind-mounted namespace file ``ip netns add NAME`` creates."""
    if not name or "/" in name or name in (".", ".."):
        raise DockwizError(f"invalid network namespace name {name!r}")
    return NETNS_DIR / name


def run_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` on a fresh thread inside namespace ``name``; return its result or re-raise."""
    path = netns_path(name)
    try:
        ns_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise DockwizError(
            f"network namespace {name!r} does not exist ({path} is missing)",
            hint="start the lab again (dockwiz lab up) or check the lab directory",
        ) from None
    outcome: dict[str, object] = {}

    def body() -> None:
        try:
            _setns(ns_fd, CLONE_NEWNET)
        except OSError as exc:
            outcome["error"] = _setns_error(name, exc)
            return
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    try:
        thread = threading.Thread(target=body, name=f"netns-{name}", daemon=True)
        thread.start()
        thread.join()
    finally:
        os.close(ns_fd)
    if "error" in outcome:
        error = outcome["error"]
        assert isinstance(error, BaseException)
        raise error
    return outcome["value"]  # type: ignore[return-value]


def _setns_error(name: str, exc: OSError) -> DockwizError:
    if exc.errno == errno.EPERM:
        return DockwizError(
            f"not allowed to enter network namespace {name!r}",
            hint="run dockwiz as root (entering a lab's namespace needs CAP_SYS_ADMIN)",
        )
    return DockwizError(f"could not enter network namespace {name!r}: {exc.strerror}")


def in_host_netns(host: Host, fn: Callable[[], T]) -> T:
    """Run ``fn`` where the host's daemon listens: the lab's namespace, or right here."""
    if host.netns is None:
        return fn()
    return run_in_netns(host.netns, fn)
