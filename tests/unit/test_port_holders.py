"""procnet.port_holders: the process holding a port, named for the port-in-use error."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from dockwiz.procnet import port_holders


def test_names_the_process_listening_on_the_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        holders = port_holders(port, os.getpid())
    name = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert (os.getpid(), name) in holders


def test_a_free_port_has_no_holder() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening
        assert port_holders(port, os.getpid()) == []
