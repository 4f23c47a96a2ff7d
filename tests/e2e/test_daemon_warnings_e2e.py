"""inspect reads the daemon's own view: ``GET /info`` Warnings, quoted by the finding they support.

Docker 28 warns in ``docker info`` about an API reachable without TLS client verification
("[DEPRECATION NOTICE]: API is accessible on https://... without TLS client verification.").
Measured here, 20.10.24 warns too, in other words ("WARNING: API is accessible on https://...
without TLS client verification."), so the finding quotes whichever the daemon says. These tests
run inspect as the admin would (a subprocess, ``--json``) against real labs on Debian's 28.5.2
and 20.10.24 engines.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from dockwiz.lab.lab import Lab
from dockwiz.models.host_state import HostState

pytestmark = pytest.mark.e2e

LabFactory = Callable[..., Lab]


def inspect_json(lab: Lab) -> HostState:
    out = subprocess.run(
        [sys.executable, "-m", "dockwiz", "inspect", "--lab", str(lab.dir), "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return HostState.model_validate_json(out.stdout)


def test_docker_28_warning_is_kept_and_quoted_by_the_finding(lab_factory: LabFactory) -> None:
    lab = lab_factory("tls-no-verify", docker="28.5")
    assert lab.info.state == "running", lab.info.error
    state = inspect_json(lab)
    assert state.version.major == 28
    ours = [w for w in state.daemon_warnings
            if "without TLS client verification" in w and "https://" in w]
    assert ours, state.daemon_warnings
    first_line = ours[0].strip().splitlines()[0].strip()
    assert first_line.startswith("[DEPRECATION NOTICE]: API is accessible on https://")
    finding = next(f for f in state.findings if f.id == "DW-TCP-NOVERIFY")
    assert f'"{first_line}"' in (finding.evidence or "")
    assert "the daemon itself warns" in (finding.evidence or "")
    assert state.running_containers == 0  # /info's ContainersRunning, as /containers/json said


def test_docker_20_warns_in_its_own_words_and_is_quoted_too(lab_factory: LabFactory) -> None:
    """Measured: 20.10.24 says "WARNING: API is accessible on https://0.0.0.0:2376 without TLS
    client verification." (no deprecation notice); inspect keeps it and quotes it the same."""
    lab = lab_factory("tls-no-verify", docker="20.10")
    assert lab.info.state == "running", lab.info.error
    state = inspect_json(lab)
    assert state.version.major == 20
    ours = [w for w in state.daemon_warnings if "without TLS client verification" in w]
    assert ours, state.daemon_warnings
    first_line = ours[0].strip().splitlines()[0].strip()
    assert first_line.startswith("WARNING: API is accessible on https://")
    assert "DEPRECATION" not in ours[0]
    finding = next(f for f in state.findings if f.id == "DW-TCP-NOVERIFY")
    assert finding.severity == "critical"
    assert f'"{first_line}"' in (finding.evidence or "")
    assert state.running_containers == 0
    assert not [u for u in state.unreadable if "API at" in u]
