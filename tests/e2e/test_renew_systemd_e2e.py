"""The renewal timer under a real systemd: a booted Debian 12 container (tests/systemd_host.py).

The unit files go in as a transaction (journal, daemon-reload), ``systemctl enable --now``
starts the timer, ``systemctl list-timers`` shows it; removing it is a transaction too, and
leaves the unit files and the timer gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwiz import lifecycle
from dockwiz.apply import apply_plan
from dockwiz.host import Host
from dockwiz.lifecycle import timer
from dockwiz.services import SystemdManager

pytestmark = pytest.mark.e2e

EXE = "/usr/local/bin/dockwiz"


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Host]:
    import systemd_host as sh  # tests/ is on sys.path (rootdir conftest)

    problem = sh.prerequisites_problem()
    assert problem is None, f"the systemd e2e tests need: {problem}"
    sh.build_tree()
    booted = sh.boot(sh.TREE, tmp_path / "sd")
    try:
        sh.wait_docker_active(booted.host)
        yield booted.host
    finally:
        left = sh.shutdown(booted)
        assert not left, left


def _systemctl(host: Host, *args: str) -> str:
    assert isinstance(host.services, SystemdManager)
    return host.run([*host.services.prefix, "systemctl", *args], timeout=30).stdout


def test_timer_installed_started_listed_and_removed(container: Host) -> None:
    host = container
    assert timer.uses_systemd(host)
    plan = lifecycle.plan_install_timer(host, EXE)
    assert [f.path for f in plan.files] == [timer.RENEW_SERVICE_PATH, timer.RENEW_TIMER_PATH]
    result = apply_plan(host, plan)
    assert result.ok, result.model_dump_json(indent=2)
    assert "systemd daemon-reload" in [s.name for s in result.steps]
    assert host.path(timer.RENEW_TIMER_PATH).read_text() == timer.render_timer()
    lifecycle.activate(host)
    timers = _systemctl(host, "list-timers", "--all", "--no-pager")
    assert "dockwiz-renew.timer" in timers and "dockwiz-renew.service" in timers, timers
    assert _systemctl(host, "is-enabled", "dockwiz-renew.timer").strip() == "enabled"
    assert _systemctl(host, "is-active", "dockwiz-renew.timer").strip() == "active"
    schedule = lifecycle.renewal_schedule(host)
    assert schedule.kind == "systemd-timer" and schedule.scheduled
    unit = _systemctl(host, "cat", "dockwiz-renew.service")
    assert "ExecStart=/usr/local/bin/dockwiz renew --yes --json" in unit

    assert lifecycle.deactivate(host)
    removal = lifecycle.plan_remove_timer(host)
    result = apply_plan(host, removal)
    assert result.ok, result.model_dump_json(indent=2)
    assert not host.path(timer.RENEW_TIMER_PATH).exists()
    assert "dockwiz-renew" not in _systemctl(host, "list-timers", "--all", "--no-pager")
    assert not lifecycle.renewal_schedule(host).scheduled
