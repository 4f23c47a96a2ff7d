"""Issue 12 §1b against a real dockerd: socket activation is kept, so clients never fail.

An fd-socket lab (docker.socket emulated as systemd does it: the sockets outlive every dockerd
restart, lab/activation.py) serves a client that dials the unix socket's ``/_ping`` every ~5 ms
while ``dockwiz apply --mode mtls`` restarts the daemon and ``dockwiz rollback`` restarts it
again. Every request must be answered: none refused, none hung for more than 2 s. Afterwards no
process may hold a listening docker socket with connections nobody accepts (``ss -xlp``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import LabFactory
from dockwiz.effective import derive
from dockwiz.lab.lab import Lab
from dockwiz.unixsock import connect_unix

pytestmark = pytest.mark.e2e

HUNG_S = 2.0


@dataclass
class Counts:
    ok: int = 0
    refused: int = 0
    hung: int = 0
    other: list[str] = field(default_factory=list)


class Dialer(threading.Thread):
    """GET /_ping over the unix socket every ~5 ms; each outcome counted."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="dialer", daemon=True)
        self.path = path
        self.counts = Counts()
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            started = time.monotonic()
            try:
                with connect_unix(self.path, HUNG_S) as sock:
                    sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                    data = b""
                    while chunk := sock.recv(4096):
                        data += chunk
                if time.monotonic() - started > HUNG_S:
                    self.counts.hung += 1
                elif data.split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"]:
                    self.counts.ok += 1
                else:
                    self.counts.other.append(repr(data[:60]))
            except (ConnectionRefusedError, FileNotFoundError):
                self.counts.refused += 1
            except TimeoutError:
                self.counts.hung += 1
            except OSError as exc:
                self.counts.other.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.005)


def dockwiz(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockwiz", *args], capture_output=True,
                          text=True, timeout=180, env=dict(os.environ), check=False)


def unaccepted_listeners(lab: Lab) -> list[str]:
    """Listening unix sockets of the lab's dockerd with connections waiting to be accepted.

    After a quiet moment a served socket's accept queue is empty; a socket dockerd holds but
    does not serve (the activation socket it ignores once fd:// is gone) keeps its queue.
    """
    lab.refresh()
    pid = lab.info.pid
    assert pid is not None
    out = subprocess.run(["ss", "-xlpn"], capture_output=True, text=True, check=True).stdout
    bad = []
    for line in out.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 5 or f"pid={pid}," not in line:
            continue
        recv_q = int(cols[2])
        if recv_q:
            bad.append(line)
    return bad


def dockerd_serves_activation_socket(lab: Lab) -> bool:
    """dockerd holds fd 3 (docker.socket's first socket) and its API answers there."""
    lab.refresh()
    return os.path.exists(f"/proc/{lab.info.pid}/fd/3") and os.readlink(
        f"/proc/{lab.info.pid}/fd/3").startswith("socket:")


def test_apply_mtls_and_rollback_never_refuse_or_hang_a_client(lab_factory: LabFactory) -> None:
    lab = lab_factory("fd-socket")
    assert lab.info.state == "running", lab.info.error
    address = lab.info.address
    dialer = Dialer(lab.unix_socket_path())
    dialer.start()
    try:
        time.sleep(0.3)
        run = dockwiz("apply", "--lab", str(lab.dir), "--mode", "mtls", "--listen",
                      f"{address}:2376", "--san", address, "--yes", "--no-color")
        assert run.returncode == 0, run.stdout + run.stderr
        eff = derive(lab.host())
        assert next(s.url for s in eff.sources if s.via == "flag") == "fd://"  # kept
        assert [s.bind_key for s in eff.tcp] == [f"{address}:2376"]
        time.sleep(0.5)
        assert unaccepted_listeners(lab) == []
        assert dockerd_serves_activation_socket(lab)
        back = dockwiz("rollback", "--lab", str(lab.dir), "--yes", "--no-color")
        assert back.returncode == 0, back.stdout + back.stderr
        time.sleep(0.5)
    finally:
        dialer.halt.set()
        dialer.join(timeout=10)
    counts = dialer.counts
    print(f"socket-activation dialer: ok={counts.ok} refused={counts.refused} "
          f"hung={counts.hung} other={len(counts.other)}")
    assert counts.refused == 0 and counts.hung == 0, counts
    assert counts.other == [], counts.other[:5]
    assert counts.ok > 100  # the client really dialled all along
    assert unaccepted_listeners(lab) == []
