"""SVG snapshots of every screen at 80x24 and 120x40, from fixed data (no daemon, clock or host).

Update with ``pytest tests/ui/test_snapshots.py --snapshot-update`` only after reading
``snapshot_report.html`` and looking at the changed screens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from ui_fixtures import (
    FixedBackend,
    apply_failed,
    day_two_options,
    fixed_app,
    host_state,
    recorded,
    verify_report,
    wait_idle,
)

from dockwiz.apply.journal import FileRecord, Journal
from dockwiz.models.intent import Intent, Mode

pytestmark = pytest.mark.ui

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]

RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture(autouse=True)
def _stable_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Same theme and no animation whatever terminal runs the tests."""
    monkeypatch.setenv("DOCKWIZ_THEME", "textual-dark")
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield


async def settle(pilot: Pilot[Any]) -> None:
    """Let workers finish and the screen repaint; stop cursors blinking."""
    await wait_idle(pilot)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def keys(*pressed: str) -> RunBefore:
    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot)

    return run


TO_MODE = ("n",)
TO_CERTS = ("n", "n")
TO_HARDENING = ("n", "n", "n")
TO_PREVIEW = ("n", "n", "n", "n")
TO_CONFIRM = (*TO_PREVIEW, "a")
TO_APPLY = (*TO_CONFIRM, "y")
TO_VERIFY = (*TO_APPLY, "n")
STAGES = ["inspect", "mode", "certificates", "hardening", "preview", "confirm-apply", "apply",
          "verify"]
"""How far each flow snapshot goes, in order."""


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    "screen,pressed",
    [
        ("inspect", ()),
        ("mode", TO_MODE),
        ("certificates", TO_CERTS),
        ("hardening", TO_HARDENING),
        ("preview", TO_PREVIEW),
        ("confirm-apply", TO_CONFIRM),
        ("apply", TO_APPLY),
        ("verify", TO_VERIFY),
        ("help", ("f1",)),
        ("quit-confirm", (*TO_PREVIEW, "q")),
    ],
)
def test_flow_screens(
    snap_compare: Any, size: tuple[int, int], screen: str, pressed: tuple[str, ...]
) -> None:
    app = fixed_app()
    assert snap_compare(app, terminal_size=size, run_before=keys(*pressed))
    # What the screens show must also be what the core was given: the defaults on screen
    # (mtls on 127.0.0.1:2376, the detected names plus the listen address, no hardening).
    calls = recorded(app)
    reached = STAGES.index({"help": "inspect", "quit-confirm": "preview"}.get(screen, screen))
    at_mode = Intent(mode=Mode.MTLS, listen_host="127.0.0.1", listen_port=2376)
    shown = at_mode.model_copy(
        update={"sans_dns": ["docker.example.test"], "sans_ip": ["10.0.0.5", "127.0.0.1"]}
    )
    assert calls.checked == ([at_mode] if reached >= STAGES.index("certificates") else [])
    assert calls.planned == ([shown] if reached >= STAGES.index("preview") else [])
    assert calls.applied == (calls.plans if reached >= STAGES.index("apply") else [])
    assert calls.verified == (
        [(Mode.MTLS, calls.plans[0])] if reached >= STAGES.index("verify") else []
    )



@pytest.mark.parametrize("size", SIZES)
def test_inspect_not_root(snap_compare: Any, size: tuple[int, int]) -> None:
    backend = FixedBackend(host_state(is_root=False))
    assert snap_compare(fixed_app(backend), terminal_size=size, run_before=keys())


@pytest.mark.parametrize("size", SIZES)
def test_preview_read_only(snap_compare: Any, size: tuple[int, int]) -> None:
    backend = FixedBackend(host_state(is_root=False))
    assert snap_compare(fixed_app(backend), terminal_size=size, run_before=keys(*TO_PREVIEW))


@pytest.mark.parametrize("size", SIZES)
def test_mode_forbidden_refused(snap_compare: Any, size: tuple[int, int]) -> None:
    """Docker 28, TLS-only on a network address: disabled with the reason, and refused."""

    async def run(pilot: Pilot[Any]) -> None:
        await keys(*TO_MODE)(pilot)
        await pilot.press("up", "enter")  # mtls -> tls
        await settle(pilot)
        pilot.app.screen.query_one("#listen-host", Input).value = "10.0.0.5"
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)

    backend = FixedBackend(host_state(version="28.0.1"))
    assert snap_compare(fixed_app(backend), terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES)
def test_apply_failed_rolled_back(snap_compare: Any, size: tuple[int, int]) -> None:
    backend = FixedBackend(apply_result=apply_failed())
    assert snap_compare(fixed_app(backend), terminal_size=size, run_before=keys(*TO_APPLY))


@pytest.mark.parametrize("size", SIZES)
def test_verify_failed(snap_compare: Any, size: tuple[int, int]) -> None:
    backend = FixedBackend(report=verify_report(passed=False))
    assert snap_compare(fixed_app(backend), terminal_size=size, run_before=keys(*TO_VERIFY))


@pytest.mark.parametrize("size", SIZES)
def test_recovery_prompt(snap_compare: Any, size: tuple[int, int]) -> None:
    journal = Journal(
        txid="20260601T115500Z-abc123",
        started=datetime(2026, 6, 1, 11, 55, tzinfo=UTC),
        updated=datetime(2026, 6, 1, 11, 55, tzinfo=UTC),
        step="files-written",
        plan_path="/var/lib/dockwiz/plan.json",
        plan_sha256="0" * 64,
        files=[FileRecord(path="/etc/docker/daemon.json", existed=True)],
    )
    backend = FixedBackend(journal=journal)
    assert snap_compare(fixed_app(backend), terminal_size=size, run_before=keys())


@pytest.mark.parametrize("size", SIZES)
def test_error_dialog(snap_compare: Any, size: tuple[int, int]) -> None:
    class FailingPlan(FixedBackend):
        def plan(self, intent: Any) -> Any:
            from dockwiz.errors import DockwizError

            raise DockwizError(
                "port 2376 on 10.0.0.5 is already taken by another process (pid 999)",
                "choose another port on the Mode step, or stop that process",
            )

    assert snap_compare(
        fixed_app(FailingPlan()), terminal_size=size, run_before=keys(*TO_PREVIEW)
    )


def test_sixteen_colours(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ANSI theme (the terminal's own 16 colours) on the busiest screen."""
    monkeypatch.setenv("DOCKWIZ_THEME", "ansi-dark")
    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=keys(*TO_PREVIEW))


def test_mode_bad_listen_address(snap_compare: Any) -> None:
    """10.77.240.999 typed as the listen address: the CLI's reason under the field."""

    async def run(pilot: Pilot[Any]) -> None:
        await keys(*TO_MODE)(pilot)
        field = pilot.app.screen.query_one("#listen-host", Input)
        field.focus()
        await pilot.press("ctrl+a", "ctrl+k", *"10.77.240.999")
        await settle(pilot)

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=run)


def test_inspect_finding_details(snap_compare: Any) -> None:
    """d shows why and how to fix each finding (titles alone fit 80x24 without scrolling)."""
    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=keys("d"))


def test_certificates_san_cursor(snap_compare: Any) -> None:
    """The SAN list with the focus: its cursor (what Delete removes) is visible."""

    async def run(pilot: Pilot[Any]) -> None:
        await keys(*TO_CERTS)(pilot)
        pilot.app.screen.query_one("#sans").focus()
        await pilot.press("down")
        await settle(pilot)

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=run)


def day_two_backend() -> FixedBackend:
    backend = FixedBackend()
    backend.options = day_two_options()
    return backend


@pytest.mark.parametrize("size", SIZES)
def test_mode_day_two(snap_compare: Any, size: tuple[int, int]) -> None:
    """A host dockwiz already secured: renew (with its dates), add and revoke a client."""
    assert snap_compare(fixed_app(day_two_backend()), terminal_size=size,
                        run_before=keys(*TO_MODE))


@pytest.mark.parametrize("size", SIZES)
def test_mode_day_two_revoke(snap_compare: Any, size: tuple[int, int]) -> None:
    """Revoke picked, one client chosen: who keeps access and who loses it, before Preview."""

    async def run(pilot: Pilot[Any]) -> None:
        await keys(*TO_MODE)(pilot)
        await pilot.press(*["down"] * 4, "enter")  # mtls, ssh, renew, add, revoke
        await settle(pilot)
        assert pilot.app.wizard.choices.day_two == "revoke"  # type: ignore[attr-defined]
        pilot.app.screen.query_one("#revoke-list").focus()
        await pilot.press("down", "enter")  # the second client
        await settle(pilot)

    app = fixed_app(day_two_backend())
    assert snap_compare(app, terminal_size=size, run_before=run)
    assert app.wizard.choices.revoke_name == "laptop-alice"
