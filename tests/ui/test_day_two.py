"""Day two in the wizard: on a host dockwiz already secured with mutual TLS, the Mode step
offers renew / add a client / revoke a client, through the same Preview, Apply and Verify.

The fixed-backend tests prove that what the admin picked (the new client's name, the client to
revoke) reaches the core exactly; the lab flows drive the keyboard against a REAL ``mtls`` lab
and check the host and the daemon afterwards with the docker CLI, as a client would.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import RadioButton, RadioSet, Static
from ui_fixtures import (
    FixedBackend,
    apply_and_verify,
    day_two_options,
    fixed_app,
    on,
    recorded,
    recording_app,
    retype,
    to_mode,
    until,
    wait_idle,
)

from dockwiz import lifecycle
from dockwiz.apply import apply_plan
from dockwiz.lab.lab import Lab
from dockwiz.tui.app import DockwizApp
from dockwiz.tui.screens.dialogs import ConfirmDialog
from dockwiz.tui.screens.mode import ModeScreen
from dockwiz.tui.screens.preview import PreviewScreen
from dockwiz.tui.screens.verify import VerifyScreen
from dockwiz.tui.session import DayTwo
from dockwiz.tui.widgets.rows import Rows
from lab_clients import docker_cli

pytestmark = pytest.mark.ui

SIZE = (80, 24)


async def choose_day_two(pilot: Pilot[Any], app: DockwizApp, choice: DayTwo) -> None:
    """Arrow keys and Enter on the Mode step's list until ``choice`` is picked."""
    modes = app.screen.query_one("#modes", RadioSet)
    modes.focus()
    for _ in range(10):
        if app.wizard.choices.day_two is choice:
            return
        await pilot.press("down", "enter")
        await pilot.pause()
    assert app.wizard.choices.day_two is choice


async def choose_client(pilot: Pilot[Any], app: DockwizApp, name: str) -> None:
    clients = app.screen.query_one("#revoke-list", RadioSet)
    clients.focus()
    await pilot.press("enter")
    for _ in range(10):
        if app.wizard.choices.revoke_name == name:
            return
        await pilot.press("down", "enter")
        await pilot.pause()
    assert app.wizard.choices.revoke_name == name


async def to_preview(pilot: Pilot[Any], app: DockwizApp) -> None:
    app.screen.query_one("#modes").focus()  # out of a text field: "n" is Next again
    await pilot.press("n")
    await until(pilot, "preview", on(app, PreviewScreen))
    await until(pilot, "the plan", lambda: app.wizard.plan is not None, 60)


def fixed_day_two() -> FixedBackend:
    backend = FixedBackend()
    backend.options = day_two_options()
    return backend


# -- what the admin picked reaches the core exactly (fixed data) -------------------------------
async def test_add_client_name_reaches_the_backend() -> None:
    app = fixed_app(fixed_day_two())
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        await choose_day_two(pilot, app, DayTwo.ADD_CLIENT)
        await retype(pilot, "#client-name", "laptop-bob")
        await to_preview(pilot, app)
        calls = recorded(app)
        assert calls.day_two == [("add-client", "laptop-bob")]
        assert calls.planned == [] and calls.checked == []  # no mode was planned
        await pilot.press("a")
        await until(pilot, "confirmation", on(app, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, "apply result", lambda: app.wizard.apply_result is not None)
        await pilot.press("n")
        await until(pilot, "verify", on(app, VerifyScreen))
        await wait_idle(pilot)
        assert calls.applied == calls.plans
        assert calls.verified_day_two == calls.plans and calls.verified == []
        assert any("docker context create laptop-bob" in line
                   for line in app.wizard.context_handoff())
        # on the Verify screen, and in what the CLI prints after the wizard ends
        assert "docker context create laptop-bob" in app.screen.query_one("#handoff", Rows).text
        printed = app.wizard.context_handoff_text()
        assert printed.startswith("Clients that copied a bundle into a docker context")
        assert "docker context create laptop-bob" in printed


async def test_revoke_choice_reaches_the_backend() -> None:
    app = fixed_app(fixed_day_two())
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        await choose_day_two(pilot, app, DayTwo.REVOKE)
        desc = str(app.screen.query_one("#mode-desc", Static).content)
        assert "new CA" in desc
        await choose_client(pilot, app, "laptop-alice")
        desc = str(app.screen.query_one("#mode-desc", Static).content)
        assert "Keeps access (new bundles): dockwiz-client" in desc
        assert "Loses access: laptop-alice" in desc
        await to_preview(pilot, app)
        assert recorded(app).day_two == [("revoke", "laptop-alice")]
        notes = str(app.screen.query_one("#notes", Static).content)
        assert "keeps access (new bundles): dockwiz-client" in notes


async def test_renew_shows_the_dates_and_reaches_the_backend() -> None:
    app = fixed_app(fixed_day_two())
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        label = str(app.screen.query_one("#day2-renew", RadioButton).label)
        assert "expires 2026-07-11; due 2026-06-11" in label
        await choose_day_two(pilot, app, DayTwo.RENEW)
        await to_preview(pilot, app)
        assert recorded(app).day_two == [("renew", None)]


@pytest.mark.parametrize("bad,why", [("../etc", "invalid client name"),
                                     ("laptop-alice", "exists already")])
async def test_bad_client_name_refused_where_typed(bad: str, why: str) -> None:
    app = fixed_app(fixed_day_two())
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        await choose_day_two(pilot, app, DayTwo.ADD_CLIENT)
        await retype(pilot, "#client-name", bad)
        app.screen.query_one("#modes").focus()
        await pilot.press("n")
        await wait_idle(pilot)
        assert isinstance(app.screen, ModeScreen)
        assert why in str(app.screen.query_one("#client-name-error", Static).content)
        assert recorded(app).day_two == []


async def test_no_day_two_on_a_host_not_secured() -> None:
    app = fixed_app()  # the fixture host: plain TCP, no dockwiz CA
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        assert not app.screen.query("#day2-renew")
        assert not app.screen.query("#day-two")


# -- real labs --------------------------------------------------------------------------------


@pytest.mark.e2e
async def test_add_client_on_a_secured_lab(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory("mtls")
    host = lab.host()
    pid = lab.info.pid
    app = recording_app(host)
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        options = app.wizard.day_two_options
        assert options is not None and options.client_names == ["lab-admin"]
        await choose_day_two(pilot, app, DayTwo.ADD_CLIENT)
        await retype(pilot, "#client-name", "laptop")
        await to_preview(pilot, app)
        assert recorded(app).day_two == [("add-client", "laptop")]
        await apply_and_verify(pilot, app, restarts=False)
        report = app.wizard.verify_report
        assert report is not None and report.passed, report.model_dump_json(indent=2)
        accepted = [p for p in report.probes if p.id == "bundle-accepted"]
        assert [p.title for p in accepted] == ["client 'laptop' keeps access"]
        assert any("docker context create laptop" in line
                   for line in app.wizard.context_handoff())
        await pilot.press("n")
    assert app.return_code == 0
    assert lab.refresh().info.pid == pid  # a new bundle needs no restart
    bundle = host.path("/etc/dockwiz/clients/laptop")
    assert bundle.stat().st_mode & 0o777 == 0o700
    assert (bundle / "key.pem").stat().st_mode & 0o777 == 0o400
    out = docker_cli(lab, bundle)
    assert out.returncode == 0, out.stderr


@pytest.mark.e2e
async def test_revoke_a_client_on_a_secured_lab(lab_factory: Callable[..., Lab],
                                                tmp_path: Path) -> None:
    lab = lab_factory("mtls")
    host = lab.host()
    added = apply_plan(host, lifecycle.plan_add_client(host, "laptop"))  # the second client
    assert added.ok, added.model_dump_json(indent=2)
    app = recording_app(host)
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        await choose_day_two(pilot, app, DayTwo.REVOKE)
        await choose_client(pilot, app, "laptop")
        await to_preview(pilot, app)
        assert recorded(app).day_two == [("revoke", "laptop")]
        notes = str(app.screen.query_one("#notes", Static).content)
        assert "keeps access (new bundles): lab-admin" in notes
        assert "loses access: laptop" in notes
        await apply_and_verify(pilot, app)
        report = app.wizard.verify_report
        assert report is not None and report.passed, report.model_dump_json(indent=2)
        ids = {p.id: p for p in report.probes}
        assert ids["revoked-bundle-refused"].passed and ids["bundle-accepted"].passed
        assert ids["served-cert-renewed"].passed  # the new server certificate is served
        await pilot.press("n")
    assert app.return_code == 0
    refused = docker_cli(lab, host.path("/etc/dockwiz/revoked/laptop"))
    assert refused.returncode != 0
    kept = docker_cli(lab, host.path("/etc/dockwiz/clients/lab-admin"))
    assert kept.returncode == 0, kept.stderr
    assert not host.path("/etc/dockwiz/clients/laptop").exists()


@pytest.mark.e2e
async def test_renew_on_a_secured_lab(lab_factory: Callable[..., Lab], tmp_path: Path) -> None:
    """Renew (not due: the admin asked for it): the daemon serves a new certificate from the
    same CA, and a copy of the existing bundle taken before still gets in."""
    lab = lab_factory("mtls")
    host = lab.host()
    laptop_copy = tmp_path / "lab-admin"
    shutil.copytree(host.path("/etc/dockwiz/clients/lab-admin"), laptop_copy)
    app = recording_app(host)
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        await choose_day_two(pilot, app, DayTwo.RENEW)
        await to_preview(pilot, app)
        assert recorded(app).day_two == [("renew", None)]
        await apply_and_verify(pilot, app)
        report = app.wizard.verify_report
        assert report is not None and report.passed, report.model_dump_json(indent=2)
        assert {p.id: p for p in report.probes}["served-cert-renewed"].passed
        await pilot.press("n")
    assert app.return_code == 0
    out = docker_cli(lab, laptop_copy)
    assert out.returncode == 0, out.stderr
