"""The mission on the Docker versions admins run today: 26.1 and 28.5 (issue 13).

The whole suite runs on the machine's docker.io (20.10). Here the core flows run again on real
26.1 and 28.5 daemons (Debian's builds, fetched into the engine cache): a stock host secured with
mutual TLS and proven by verify; a configuration dockerd rejects stopped by ``dockerd
--validate`` before any restart; the v27 rule decided from the version of the daemon found; a
port that is taken rolled back; and the two start-up failures of the tutorials, with dockerd's
own words. The slow start of plain TCP (dockerd's deliberate ~16 s) is paid once, on 28.5, in
test_engines_e2e.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from dockwiz import apply as ap
from dockwiz.errors import DockwizError
from dockwiz.inspect import inspect_host
from dockwiz.lab.lab import Lab
from dockwiz.models.intent import Intent, Mode
from dockwiz.models.plan import Plan
from dockwiz.plan import build_plan, observe_material
from dockwiz.policy import check_intent
from dockwiz.verify import verify_host
from lab_clients import port_taken

pytestmark = pytest.mark.e2e

ENGINES = ["26.1", "28.5"]


def _plan(lab: Lab, mode: Mode) -> Plan:
    host = lab.host()
    addr = lab.info.address
    tcp = mode in (Mode.TLS, Mode.MTLS)
    intent = Intent(mode=mode, listen_host=addr if tcp else None, sans_ip=[addr] if tcp else [])
    return build_plan(observe_material(host, inspect_host(host), intent), intent)


@pytest.mark.parametrize("engine", ENGINES)
def test_stock_host_to_mtls_validated_verified_and_undone(lab_factory: Any, engine: str) -> None:
    lab = lab_factory("fd-socket", docker=engine)
    host = lab.host()
    state = inspect_host(host)
    assert state.version.major == int(engine.split(".")[0]), state.version
    plan = _plan(lab, Mode.MTLS)
    result = ap.apply_plan(host, plan)
    assert result.ok, result.model_dump_json(indent=2)
    validate = next(s for s in result.steps if s.name.startswith("validate"))
    # the lab's own engine, inside the lab's mount namespace, read the lab's TLS files
    assert "dockerd --validate: configuration OK" in validate.detail, validate
    assert result.client_bundle is not None
    report = verify_host(host, expected_mode="mtls", bundle_dir=host.path(result.client_bundle))
    assert report.passed, report.model_dump_json(indent=2)
    assert {p.id for p in report.probes} >= {"no-client-cert", "rogue-client-cert"}
    undo = ap.rollback_last(host)
    assert undo.ok and undo.recovery_ok, undo.model_dump_json(indent=2)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_configuration_dockerd_rejects_stops_at_validate_without_a_restart(
    lab_factory: Any, engine: str
) -> None:
    lab = lab_factory("fd-socket", docker=engine)
    host = lab.host()
    pid = lab.refresh().info.pid
    plan = _plan(lab, Mode.MTLS)
    bad = plan.model_copy(deep=True)
    for f in bad.files:
        if f.path.endswith("daemon.json") and f.after is not None:
            f.after = f.after.replace("{", '{\n  "no-such-option": true,', 1)
    result = ap.apply_plan(host, bad)
    assert not result.ok and result.rolled_back, result.model_dump_json(indent=2)
    assert result.failed_step == "validate", result.failed_step
    assert "no-such-option" in (result.error or ""), result.error
    assert lab.refresh().info.pid == pid, "validate must stop it before any restart"


@pytest.mark.parametrize(("engine", "blocking"), [("26.1", False), ("28.5", True)])
def test_the_v27_rule_follows_the_daemon_found(lab_factory: Any, engine: str,
                                               blocking: bool) -> None:
    """No --docker-version: the version inspect read from the lab's daemon decides."""
    lab = lab_factory("fd-socket", docker=engine)
    state = inspect_host(lab.host())
    intent = Intent(mode=Mode.TLS, listen_host=lab.info.address)
    (rule,) = [v for v in check_intent(state, intent) if v.rule == "v27-mtls-required"]
    assert rule.blocking is blocking
    # the text is true for this daemon: it starts, whatever the announcement says
    assert f"dockerd {engine.split('.')[0]} still starts" in rule.message
    assert "fails to start" not in rule.message and "refuses to start" not in rule.message
    if blocking:
        with pytest.raises(DockwizError):
            _plan(lab, Mode.TLS)
    else:
        assert any(not v.blocking for v in _plan(lab, Mode.TLS).violations)


def test_port_taken_is_rolled_back_on_28_5(lab_factory: Any) -> None:
    lab = lab_factory("fd-socket", docker="28.5")
    host = lab.host()
    with port_taken(lab, 2376):
        result = ap.apply_plan(host, _plan(lab, Mode.MTLS))
        assert not result.ok and result.rolled_back and result.recovery_ok, result
        assert result.failed_step == "restart dockerd"
        assert "address already in use" in (result.error or ""), result.error
        assert lab.refresh().is_running()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("scenario", "words"), [
    ("hosts-conflict", "specified both as a flag and in the configuration file"),
    ("commented-json", "invalid character '/'"),
])
def test_tutorial_mistakes_fail_with_dockerds_own_words(
    lab_factory: Any, engine: str, scenario: str, words: str
) -> None:
    lab = lab_factory(scenario, wait=10.0, docker=engine)
    assert lab.info.state != "running"
    assert words in (lab.info.error or ""), lab.info.error


@pytest.mark.parametrize("engine", ENGINES)
def test_plain_tcp_with_explicit_tls_false_starts_at_once(lab_factory: Any, engine: str) -> None:
    """The README's table, measured: `--tls=false` skips the deliberate ~16 s sleep, and the
    daemon starts and serves plain TCP (no released daemon refuses it yet)."""
    import time

    from dockwiz.dockerapi import ping_endpoint

    lab = lab_factory("fd-socket", docker=engine)
    host = lab.host()
    dropin = host.writable("/etc/systemd/system/docker.service.d/tcp.conf")
    dropin.parent.mkdir(parents=True, exist_ok=True)
    url = f"tcp://{lab.info.address}:2375"
    dropin.write_text("[Service]\nExecStart=\n"
                      f"ExecStart=/usr/sbin/dockerd -H fd:// -H {url} --tls=false\n")
    assert host.services is not None
    started = time.monotonic()
    result = host.services.restart()
    took = time.monotonic() - started
    assert result.ok, result.stderr
    assert took < 10.0, f"{engine} took {took:.1f} s: the deliberate sleep was not skipped"
    assert ping_endpoint(host, url, None, 5.0).ok
