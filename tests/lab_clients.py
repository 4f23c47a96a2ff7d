"""A client of a lab's daemon, run exactly as a user would run it (for e2e and UI lab tests)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from dockwiz.lab.lab import Lab


def docker_cli(lab: Lab, bundle: Path) -> subprocess.CompletedProcess[str]:
    """``docker version`` with a bundle, as a client would run it, in the lab's namespace."""
    env = {"PATH": os.environ["PATH"], "HOME": str(bundle.parent),
           "DOCKER_HOST": f"tcp://{lab.info.address}:2376", "DOCKER_TLS_VERIFY": "1",
           "DOCKER_CERT_PATH": str(bundle)}
    return subprocess.run(
        ["nsenter", f"--net=/var/run/netns/{lab.info.netns}", "docker", "version",
         "--format", "{{.Server.Version}}"],
        capture_output=True, text=True, timeout=30, env=env, check=False)


@contextlib.contextmanager
def port_taken(lab: Lab, port: int) -> Iterator[None]:
    """Another process listening on ``port`` at the lab's address, inside the lab's namespace,
    for as long as the block runs (stopped by PID afterwards)."""
    holder = subprocess.Popen(
        ["nsenter", f"--net=/var/run/netns/{lab.info.netns}", sys.executable, "-c",
         "import socket,sys,time\n"
         "s=socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)\n"
         "print('ready', flush=True); time.sleep(300)", lab.info.address, str(port)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield
    finally:
        holder.kill()
        holder.wait()
