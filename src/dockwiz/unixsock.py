"""Unix sockets at any path length (stdlib only, so inspect's start-up stays lean).

``sun_path`` holds 108 bytes including the NUL. Lab and test roots live deep under /tmp, where a
daemon's socket easily exceeds that, so long paths are reached through ``/proc/self/fd/N/NAME``
of an O_PATH descriptor on the socket's directory.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

UNIX_PATH_MAX = 107  # sun_path holds 108 bytes including the NUL


def fits(path: Path) -> bool:
    """Whether ``path`` can be used as a socket address as it is."""
    return len(os.fsencode(path)) <= UNIX_PATH_MAX


def connect_unix(path: Path, timeout: float) -> socket.socket:
    """A connected AF_UNIX stream socket with ``timeout`` set; raises OSError like connect."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if fits(path):
            sock.connect(str(path))
        else:
            dir_fd = os.open(path.parent, os.O_PATH | os.O_CLOEXEC)
            try:
                sock.connect(f"/proc/self/fd/{dir_fd}/{path.name}")
            finally:
                os.close(dir_fd)
    except BaseException:
        sock.close()
        raise
    return sock
