"""A client of a lab's daemon, run exactly as a user would run it (for e2e and UI lab tests)."""

from __future__ import annotations

import os
import subprocess
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
