"""The renewal timer under a real systemd: a booted Debian 12 container (tests/systemd_host.py).

The unit files go in as a transaction (journal, daemon-reload), ``systemctl enable --now``
starts the timer, ``systemctl list-timers`` shows it; removing it is a transaction too, and
leaves the unit files and the timer gone.
"""

from __future__ import annotations

import pytest

import systemd_host as sh  # tests/ is on sys.path (rootdir conftest)
from dockwiz import lifecycle
from dockwiz.apply import apply_plan
from dockwiz.host import Host
from dockwiz.lifecycle import timer
from dockwiz.services import SystemdManager

pytestmark = pytest.mark.e2e

EXE = "/usr/local/bin/dockwiz"


# one boot per session, shared with the other systemd suites (tests/systemd_host.py)
systemd_container = sh.systemd_container
systemd_host = sh.systemd_host


def _systemctl(host: Host, *args: str) -> str:
    assert isinstance(host.services, SystemdManager)
    return host.run([*host.services.prefix, "systemctl", *args], timeout=30).stdout


def test_timer_installed_started_listed_and_removed(systemd_host: Host) -> None:
    host = systemd_host
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


def test_renew_and_revoke_through_systemctl(systemd_host: Host) -> None:
    """The stock unit made mTLS by apply, then renewed and a client revoked through real
    ``systemctl restart docker``: the served serial changes and the revoked bundle is refused."""
    from dockwiz.apply import apply_plan as apply
    from dockwiz.models.intent import Intent
    from dockwiz.plan import plan_for_host
    from dockwiz.verify.lifecycle import day_two_probes, served_serial

    host = systemd_host
    address = sh.CONTAINER_ADDRESS
    intent = Intent(mode="mtls", listen_host=address, sans_ip=[address])
    secured = apply(host, plan_for_host(host, intent)[1])
    assert secured.ok, secured.model_dump_json(indent=2)
    url = f"tcp://{address}:2376"
    before = served_serial(host, url)
    renewed = apply(host, lifecycle.plan_renew(host, force=True))
    assert renewed.ok, renewed.model_dump_json(indent=2)
    assert "restart dockerd" in [s.name for s in renewed.steps]
    assert served_serial(host, url) not in (None, before)
    added = apply(host, lifecycle.plan_add_client(host, "laptop"))
    assert added.ok, added.model_dump_json(indent=2)
    revoked = apply(host, lifecycle.plan_revoke(host, "laptop"))
    assert revoked.ok, revoked.model_dump_json(indent=2)
    probes = day_two_probes(host, url,
                            accepted={"dockwiz-client": host.path("/etc/dockwiz/clients/"
                                                                  "dockwiz-client")},
                            refused={"laptop": host.path("/etc/dockwiz/revoked/laptop")})
    assert [p.passed for p in probes] == [True, True], probes
