"""Shared fixtures. ``lab_factory`` gives end-to-end tests real dockerd labs and cleans them up."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from dockwiz.lab.lab import Lab, lab_down, lab_up

LabFactory = Callable[..., Lab]


def _lab_prerequisites_problem() -> str | None:
    """Why labs cannot run here, or None. A skip would hide a broken CI, so tests fail."""
    if os.geteuid() != 0:
        return "lab tests need root (network namespaces, bind mounts, a real dockerd)"
    for tool in ("dockerd", "ip", "nsenter", "unshare"):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            return f"{tool} is missing: apt-get install docker.io iproute2 util-linux"
    return None


@pytest.fixture
def lab_factory(tmp_path: Path) -> Iterator[LabFactory]:
    """``lab_factory(scenario, wait=30.0, docker=None) -> Lab``: a lab under tmp_path (on the
    Docker engine ``docker``, default the machine's), torn down afterwards.

    Teardown stops every lab made here and asserts that none of their dockerd PIDs (nor any
    child of theirs) is left running.
    """
    problem = _lab_prerequisites_problem()
    if problem:
        pytest.fail(problem)
    made: list[Lab] = []

    def make(scenario: str, *, wait: float = 30.0, docker: str | None = None) -> Lab:
        directory = tmp_path / f"lab{len(made)}"
        lab = lab_up(directory, scenario, wait=wait, docker=docker)
        made.append(lab)
        return lab

    yield make

    errors: list[str] = []
    for lab in made:
        # the test may have restarted the daemon: the PIDs to check are the current ones
        lab.refresh()
        pids = _lab_pids(lab)
        try:
            lab_down(lab.dir)
        except Exception as exc:
            errors.append(f"lab_down({lab.dir}) raised {exc!r}")
        left = [p for p in pids if psutil.pid_exists(p) and _not_zombie(p)]
        if left:
            errors.append(f"lab {lab.dir}: processes still running after lab_down: {left}")
    assert not errors, "\n".join(errors)


def _lab_pids(lab: Lab) -> list[int]:
    pid = lab.info.pid
    if pid is None or not lab.is_running():
        return []
    try:
        return [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    except psutil.Error:
        return [pid]


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
