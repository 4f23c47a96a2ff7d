"""Input that cannot work is refused where it is typed, with the CLI's own words (issue 14 §4).

Fixed data, no daemon: the mode and certificate fields, their error lines, and the SANs that
follow the listen address.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from ui_fixtures import fixed_app, retype, until
from ui_fixtures import wait_idle as idle

from dockwiz.addresses import host_problem
from dockwiz.tui.app import DockwizApp
from dockwiz.tui.screens.certs import CertificatesScreen
from dockwiz.tui.screens.mode import ModeScreen
from dockwiz.tui.widgets.fields import FieldError

pytestmark = pytest.mark.ui

BOGUS = "10.77.240.999"


async def press(pilot: Pilot[Any], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await idle(pilot)


def error_of(app: DockwizApp, field_id: str) -> FieldError:
    return app.screen.query_one(f"#{field_id}-error", FieldError)


async def to_mode(pilot: Pilot[Any], app: DockwizApp) -> None:
    await idle(pilot)
    await press(pilot, "n")
    assert isinstance(app.screen, ModeScreen)
    assert app.wizard.choices.mode == "mtls"  # the fixture's host serves TCP


async def test_bad_listen_address_is_refused_beside_the_field_and_never_becomes_a_san() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await to_mode(pilot, app)
        await retype(pilot, "#listen-host", BOGUS)
        await idle(pilot)
        error = error_of(app, "listen-host")
        assert error.display
        assert str(error.content) == host_problem(BOGUS)  # the CLI's validator, its words
        assert app.wizard.choices.listen_host != BOGUS  # a bad value is never the choice
        app.screen.query_one("#modes").focus()
        await press(pilot, "n")
        assert isinstance(app.screen, ModeScreen)  # refused here, not at restart
        assert app.focused is app.screen.query_one("#listen-host", Input)
        await retype(pilot, "#listen-host", "10.77.240.99")
        await idle(pilot)
        assert not error_of(app, "listen-host").display  # cleared as soon as it is fixed
        app.screen.query_one("#modes").focus()
        await press(pilot, "n")
        assert isinstance(app.screen, CertificatesScreen)
        await until(pilot, "the SANs", lambda: app.wizard.choices.sans_detected, 10)
        names = [*app.wizard.choices.dns_names, *app.wizard.choices.ip_addresses]
        assert "10.77.240.99" in names and BOGUS not in names


async def test_port_error_shows_and_goes_away_when_fixed() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await to_mode(pilot, app)
        await retype(pilot, "#listen-port", "70000")
        await idle(pilot)
        assert error_of(app, "listen-port").display
        assert "1 to 65535" in str(error_of(app, "listen-port").content)
        assert app.wizard.choices.port != 70000
        app.screen.query_one("#modes").focus()
        await press(pilot, "n")
        assert isinstance(app.screen, ModeScreen)
        await retype(pilot, "#listen-port", "2377")
        await idle(pilot)
        assert not error_of(app, "listen-port").display
        assert not app.screen.query_one("#refusal").display  # no stale banner either
        assert app.wizard.choices.port == 2377


async def test_sans_follow_the_listen_address_and_keep_the_admins_own() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await to_mode(pilot, app)
        await retype(pilot, "#listen-host", "10.0.0.7")
        app.screen.query_one("#modes").focus()
        await press(pilot, "n")
        assert isinstance(app.screen, CertificatesScreen)
        await until(pilot, "the SANs", lambda: app.wizard.choices.sans_for == "10.0.0.7", 10)
        assert "10.0.0.7" in app.wizard.choices.ip_addresses
        await retype(pilot, "#san-input", "mine.example.test")
        await press(pilot, "enter")
        await retype(pilot, "#san-input", "bad..name")
        await press(pilot, "enter")
        assert error_of(app, "san-input").display  # refused beside the field
        assert "bad..name" not in app.wizard.choices.dns_names
        await retype(pilot, "#san-input", "fine.example.test")
        assert not error_of(app, "san-input").display  # cleared once it is a good name
        await press(pilot, "escape")
        assert isinstance(app.screen, ModeScreen)
        await retype(pilot, "#listen-host", "10.0.0.8")
        app.screen.query_one("#modes").focus()
        await press(pilot, "n")
        await until(pilot, "the new SANs", lambda: app.wizard.choices.sans_for == "10.0.0.8", 10)
        choices = app.wizard.choices
        assert "10.0.0.8" in choices.ip_addresses
        assert "10.0.0.7" not in choices.ip_addresses  # derived from the old address: gone
        assert "mine.example.test" in choices.dns_names  # the admin's own: kept
