"""Day two, renew: when a certificate is due, what the plan renews, the timer files (golden)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dockwiz import lifecycle, pki
from dockwiz.apply.reissue import carry_out
from dockwiz.docker_paths import RENEW_TIMER_PATH, RENEW_TIMER_WANTS
from dockwiz.errors import DockwizError
from dockwiz.host import Host
from dockwiz.lab.scenarios import MTLS_DAEMON_JSON
from dockwiz.lifecycle import timer
from dockwiz.pki.checks import not_signed_by

GOLDEN = Path(__file__).parent / "golden" / "renew"
EXE = "/usr/local/bin/dockwiz"


def secured_host(root: Path, *, server_days: int = 365, clients: tuple[str, ...] = ("a", "b"),
                 ca_days: int = 3650) -> Host:
    """A sandbox root as 'dockwiz apply --mode mtls' leaves it (no daemon needed)."""
    (root / "etc/docker").mkdir(parents=True)
    (root / "etc/docker/daemon.json").write_text(MTLS_DAEMON_JSON)
    host = Host(root)
    ca = pki.issue_ca(days=ca_days)
    server = pki.issue_server(ca, ["localhost"], ["10.0.0.5"], days=server_days)
    pki.write_ca(host, ca)
    pki.write_server_material(host, ca, server)
    for name in clients:
        client = pki.issue_client(ca, name, days=min(365, ca_days - 1))
        pki.write_client_bundle(host, ca, client, name, "tcp://10.0.0.5:2376")
    return host


def test_nothing_due_is_an_empty_plan_that_says_when(tmp_path: Path) -> None:
    host = secured_host(tmp_path)
    status, plan = lifecycle.renew_with_status(host)
    assert plan.is_empty and not status.server_due
    assert status.server is not None and status.next_due is not None
    assert status.next_due.date() == (status.server.not_after - dt.timedelta(days=30)).date()
    assert any("next renewal due" in n for n in plan.notes)


def test_due_server_is_renewed_with_the_same_sans_and_a_restart(tmp_path: Path) -> None:
    host = secured_host(tmp_path, server_days=10)
    status, plan = lifecycle.renew_with_status(host, add_sans=["docker.example.com"])
    assert status.server_due
    server = next(c for c in plan.certs if c.role == "server")
    assert server.action == "renew"
    assert server.dns_names == ["localhost", "docker.example.com"]
    assert server.ip_addresses == ["10.0.0.5"]
    assert [a.kind for a in plan.actions] == ["restart"]
    assert plan.client_bundle == "/etc/dockwiz/clients/a"
    ca = next(c for c in plan.certs if c.role == "ca")
    assert ca.action == "reuse" and ca.trust_path == "/etc/docker/tls/ca.pem"


def test_before_window_and_force(tmp_path: Path) -> None:
    host = secured_host(tmp_path, server_days=40)
    assert lifecycle.plan_renew(host).is_empty
    assert not lifecycle.plan_renew(host, before=45).is_empty
    assert not lifecycle.plan_renew(host, force=True).is_empty


def test_ca_due_is_reported_not_silently_replaced(tmp_path: Path) -> None:
    host = secured_host(tmp_path, server_days=5, ca_days=20)
    status, plan = lifecycle.renew_with_status(host)
    assert status.ca_due
    assert all(c.action != "renew" for c in plan.certs if c.role == "ca")
    assert any("renew --ca" in w for w in plan.warnings)
    server = next(c for c in plan.certs if c.role == "server")
    assert server.days <= 19  # never outlives the CA


def test_renew_refuses_a_daemon_without_tls(tmp_path: Path) -> None:
    (tmp_path / "etc/docker").mkdir(parents=True)
    (tmp_path / "etc/docker/daemon.json").write_text("{}")
    with pytest.raises(DockwizError, match="does not use TLS"):
        lifecycle.plan_renew(Host(tmp_path))


def test_ca_rollover_then_finish(tmp_path: Path) -> None:
    """Phase 1: the daemon trusts old + new CA, bundles carry both, server cert kept; phase 2:
    only the new CA, a server certificate from it."""
    host = secured_host(tmp_path)
    old_ca = pki.load_ca(host).cert
    old_server = (tmp_path / "etc/docker/tls/server-cert.pem").read_bytes()
    plan = lifecycle.plan_renew_ca(host)
    assert {(c.role, c.action) for c in plan.certs} == {("ca", "renew"), ("client", "renew")}
    carry_out(host, plan)
    new_ca = pki.load_ca(host).cert
    assert new_ca != old_ca
    trust = tmp_path / "etc/docker/tls/ca.pem"
    assert len(lifecycle_certs(trust)) == 2
    assert (tmp_path / "etc/docker/tls/server-cert.pem").read_bytes() == old_server
    assert not_signed_by(tmp_path / "etc/docker/tls/server-cert.pem", trust) is None
    bundle = tmp_path / "etc/dockwiz/clients/a"
    assert not_signed_by(bundle / "cert.pem", trust) is None
    assert len(lifecycle_certs(bundle / "ca.pem")) == 2
    status = lifecycle.renewal_status(host)
    assert status.rollover_in_progress
    found = lifecycle.renewal_findings(status, lifecycle.renewal_schedule(host))
    assert "DW-RENEW-ROLLOVER" in [f.id for f in found]
    with pytest.raises(DockwizError, match="roll-over is under way"):
        lifecycle.plan_renew(host, force=True)
    finish = lifecycle.plan_finish_rollover(host)
    carry_out(host, finish)
    assert len(lifecycle_certs(trust)) == 1
    assert not (tmp_path / "etc/dockwiz/ca/previous-ca.pem").exists()
    assert not_signed_by(tmp_path / "etc/docker/tls/server-cert.pem", trust) is None
    with pytest.raises(DockwizError, match="no CA roll-over"):
        lifecycle.plan_finish_rollover(host)


def lifecycle_certs(path: Path) -> list[object]:
    from dockwiz.pki.lifecycle import pem_certs

    return list(pem_certs(path.read_bytes()))


def test_renewal_findings(tmp_path: Path) -> None:
    host = secured_host(tmp_path, server_days=10)
    status = lifecycle.renewal_status(host)
    ids = [f.id for f in lifecycle.renewal_findings(status, lifecycle.renewal_schedule(host))]
    assert ids == ["DW-RENEW-UNSCHEDULED"]
    (tmp_path / "run/systemd/system").mkdir(parents=True)
    for f in lifecycle.plan_install_timer(host, EXE).files:
        (tmp_path / f.path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f.path.lstrip("/")).write_text(f.after or "")
    wants = tmp_path / RENEW_TIMER_WANTS.lstrip("/")
    wants.parent.mkdir(parents=True)
    wants.symlink_to(RENEW_TIMER_PATH)
    assert lifecycle.renewal_findings(status, lifecycle.renewal_schedule(host)) == []
    assert "dockwiz renew" in lifecycle.renew_fix("server")


# -- the timer --------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "text"), [
    ("dockwiz-renew.service", timer.render_service(EXE)),
    ("dockwiz-renew.timer", timer.render_timer()),
    ("dockwiz-renew.cron", timer.render_cron(EXE, "golden-machine-id")),
])
def test_timer_files_golden(name: str, text: str) -> None:
    assert text == (GOLDEN / name).read_text()


def test_install_timer_is_a_plan_with_a_diff(tmp_path: Path) -> None:
    host = secured_host(tmp_path)
    (tmp_path / "run/systemd/system").mkdir(parents=True)
    plan = lifecycle.plan_install_timer(host, EXE)
    assert [f.path for f in plan.files] == [timer.RENEW_SERVICE_PATH, RENEW_TIMER_PATH]
    assert all(f.before is None and f.mode == 0o644 for f in plan.files)
    assert [a.kind for a in plan.actions] == ["daemon-reload"]
    for f in plan.files:
        (tmp_path / f.path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f.path.lstrip("/")).write_text(f.after or "")
    assert lifecycle.plan_install_timer(host, EXE).is_empty
    assert lifecycle.renewal_schedule(host).kind == "systemd-timer"
    removal = lifecycle.plan_remove_timer(host)
    assert [f.after for f in removal.files] == [None, None]


def test_cron_without_systemd(tmp_path: Path) -> None:
    host = secured_host(tmp_path)
    plan = lifecycle.plan_install_timer(host, EXE)
    assert [f.path for f in plan.files] == [timer.RENEW_CRON_PATH]
    assert plan.actions == []
    assert "renew --yes --json" in (plan.files[0].after or "")
