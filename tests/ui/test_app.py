"""Wizard behaviour with fixed data (fast, no daemon): navigation, dialogs, errors, read-only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, ListView, Select, Static
from ui_fixtures import FixedBackend, fixed_app, host_state, recorded, retype, until
from ui_fixtures import wait_idle as idle

from dockwiz.apply.journal import FileRecord, Journal
from dockwiz.errors import DockwizError
from dockwiz.models.intent import Hardening, Intent, Mode
from dockwiz.tui.screens.apply import ApplyScreen
from dockwiz.tui.screens.certs import CertificatesScreen
from dockwiz.tui.screens.dialogs import ConfirmDialog, ErrorDialog, HelpScreen
from dockwiz.tui.screens.hardening import HardeningScreen
from dockwiz.tui.screens.inspect import InspectScreen
from dockwiz.tui.screens.mode import ModeScreen
from dockwiz.tui.screens.preview import PreviewScreen
from dockwiz.tui.screens.verify import VerifyScreen
from dockwiz.tui.widgets.rows import Rows

pytestmark = pytest.mark.ui


async def press(pilot: Pilot[Any], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await idle(pilot)


async def test_first_screen_shows_findings_worst_first() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot)
        assert isinstance(app.screen, InspectScreen)
        rows = app.screen.query_one("#findings", Rows).rows
        assert [str(label) for label, _ in rows] == ["CRITICAL", "MEDIUM", "LOW"]
        assert "[CIS 2.7]" in str(rows[0][1])
        certs = app.screen.query_one("#certs", Rows).text
        assert "EXPIRED 2025-01-01" in certs  # judged against the injected clock


async def test_quit_without_pending_work_exits_at_once() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot)
        await press(pilot, "q")
    assert app.return_code == 0


async def test_back_keeps_choices_and_quit_asks_with_a_plan() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot)
        await press(pilot, "n", "n")
        assert isinstance(app.screen, CertificatesScreen)
        field = app.screen.query_one("#san-input", Input)
        field.focus()
        await press(pilot, *"docker2.example.test", "enter")
        assert "docker2.example.test" in app.wizard.choices.dns_names
        await press(pilot, "escape")  # Esc goes back even from a field
        assert isinstance(app.screen, ModeScreen)
        await press(pilot, "n")  # forward again: the added name is still there
        assert isinstance(app.screen, CertificatesScreen)
        assert "docker2.example.test" in app.wizard.choices.dns_names
        await press(pilot, "n", "n")
        assert isinstance(app.screen, PreviewScreen) and app.wizard.plan is not None
        await press(pilot, "q")
        assert isinstance(app.screen, ConfirmDialog)
        body = str(app.screen.query_one(".dialog-body", Static).content)
        assert "Nothing has been written" in body
        await press(pilot, "n")  # stay
        assert isinstance(app.screen, PreviewScreen)


async def test_help_lists_keys_and_closes() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot)
        await press(pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        keys = app.screen.query_one("#help-keys", Rows).text
        assert "Esc / b" in keys and "F1 or ?" in keys
        await press(pilot, "escape")
        assert isinstance(app.screen, InspectScreen)


async def test_worker_error_becomes_a_dialog_with_the_hint() -> None:
    class Failing(FixedBackend):
        def plan(self, intent: Any) -> Any:
            raise DockwizError("port 2376 is taken", "choose another port")

    app = fixed_app(Failing())
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot)
        await press(pilot, "n", "n", "n", "n")
        assert isinstance(app.screen, ErrorDialog)
        assert str(app.screen.query_one("#error-message", Static).content) == "port 2376 is taken"
        assert "choose another port" in str(app.screen.query_one("#error-hint", Static).content)
        await press(pilot, "escape")
        assert isinstance(app.screen, PreviewScreen)
        assert app.screen.query_one("#next", Button).disabled


async def test_not_root_is_read_only() -> None:
    backend = FixedBackend(host_state(is_root=False))
    app = fixed_app(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot)
        assert app.screen.query_one("#not-root").display
        await press(pilot, "n", "n", "n", "n")
        assert isinstance(app.screen, PreviewScreen)
        assert app.screen.query_one("#read-only").display
        assert app.screen.query_one("#next", Button).disabled
        await press(pilot, "a")
        assert isinstance(app.screen, PreviewScreen)  # no confirmation, no apply
    assert recorded(app).applied == []


async def test_quit_during_apply_warns_about_the_half_done_change() -> None:
    backend = FixedBackend()
    backend.gate.clear()  # hold the apply until the test lets it go
    app = fixed_app(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot)
        await press(pilot, "n", "n", "n", "n", "a")
        await pilot.press("y")
        await until(pilot, "the apply to start", lambda: recorded(app).applied != [], 10)
        assert isinstance(app.screen, ApplyScreen)
        await pilot.press("q")
        await until(pilot, "the quit question", lambda: isinstance(app.screen, ConfirmDialog))
        body = str(app.screen.query_one(".dialog-body", Static).content)
        assert "being applied right now" in body and "never left half-done" in body
        await pilot.press("n")
        backend.gate.set()
        await idle(pilot)
        assert app.wizard.apply_result is not None and app.wizard.apply_result.ok
        assert len(recorded(app).applied) == 1


async def test_unfinished_apply_is_offered_for_recovery_first() -> None:
    journal = Journal(
        txid="tx1", started=datetime(2026, 6, 1, tzinfo=UTC),
        updated=datetime(2026, 6, 1, tzinfo=UTC), step="files-written",
        plan_path="/p", plan_sha256="0" * 64,
        files=[FileRecord(path="/etc/docker/daemon.json", existed=True)],
    )
    backend = FixedBackend(journal=journal)
    app = fixed_app(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert app.wizard.host_state is None  # nothing else happens first
        await press(pilot, "y")
        assert backend.journal is None  # recovered
        assert isinstance(app.screen, InspectScreen) and app.wizard.host_state is not None


async def test_every_choice_reaches_the_core_as_picked() -> None:
    """Non-default mode settings, SANs, key type, validity and hardening, picked with the keys:
    the Intent the backend receives is exactly those picks, and apply and verify get the plan
    the backend returned (a snapshot could not tell a wrong value passed to the core)."""
    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await idle(pilot)
        await press(pilot, "n")
        assert isinstance(app.screen, ModeScreen) and app.wizard.choices.mode == "mtls"
        await retype(pilot, "#listen-host", "10.0.0.7")
        await retype(pilot, "#listen-port", "2400")
        app.screen.query_one("#modes").focus()
        await press(pilot, "n")
        assert isinstance(app.screen, CertificatesScreen)
        assert recorded(app).checked == [
            Intent(mode=Mode.MTLS, listen_host="10.0.0.7", listen_port=2400)
        ]
        # detected: docker.example.test and 10.0.0.5, plus the listen address 10.0.0.7
        app.screen.query_one("#san-input", Input).focus()
        await press(pilot, *"docker2.example.test", "enter")
        sans = app.screen.query_one("#sans", ListView)
        sans.focus()
        for _ in range(6):
            item = sans.highlighted_child
            if item is not None and item.name == "10.0.0.5":
                break
            await press(pilot, "down")
        await press(pilot, "delete")
        key_type = app.screen.query_one("#key-type", Select)
        key_type.focus()
        await press(pilot, "enter")  # open the list: ecdsa-p256 is the current one
        await press(pilot, "down", "down", "down", "down", "enter")
        assert key_type.value == "rsa-4096"
        await retype(pilot, "#validity", "90")
        sans.focus()
        await press(pilot, "n")
        assert isinstance(app.screen, HardeningScreen)
        await press(pilot, "space", "down", "space")  # live-restore, icc
        await press(pilot, "n")
        assert isinstance(app.screen, PreviewScreen)
        calls = recorded(app)
        assert calls.planned == [
            Intent(
                mode=Mode.MTLS, listen_host="10.0.0.7", listen_port=2400,
                sans_dns=["docker.example.test", "docker2.example.test"], sans_ip=["10.0.0.7"],
                key_type="rsa-4096", server_days=90, client_days=90,
                hardening=Hardening(live_restore=True, icc_off=True),
            )
        ]
        await press(pilot, "a", "y")
        assert isinstance(app.screen, ApplyScreen)
        assert calls.applied == calls.plans and len(calls.plans) == 1
        await press(pilot, "n")
        assert isinstance(app.screen, VerifyScreen)
        assert calls.verified == [(Mode.MTLS, calls.plans[0])]


async def test_unix_skips_certificates_and_sends_only_the_mode() -> None:
    """The flow's one branch: unix goes from Mode straight to Hardening, and the core gets no
    TCP address, port or names left over from the TCP default shown on the Mode step."""
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot)
        await press(pilot, "n", "up", "enter", "up", "enter")  # mtls -> tls -> unix
        assert app.wizard.choices.mode == "unix"
        await press(pilot, "n")
        assert isinstance(app.screen, HardeningScreen)
        await press(pilot, "down", "down", "space", "n")  # no-new-privileges
        assert isinstance(app.screen, PreviewScreen)
        calls = recorded(app)
        assert calls.checked == [Intent(mode=Mode.UNIX)]
        assert calls.planned == [
            Intent(mode=Mode.UNIX, hardening=Hardening(no_new_privileges=True))
        ]
        assert calls.detected == []  # the Certificates step never ran
        await press(pilot, "escape")
        assert isinstance(app.screen, HardeningScreen)
        await press(pilot, "escape")
        assert isinstance(app.screen, ModeScreen)  # back retraces the path that was taken


def test_first_screen_loads_no_core_models() -> None:
    """The Inspect frame paints before pydantic and the core's models load (issue 14 speed):
    the wizard's start-up modules import neither."""
    import subprocess
    import sys

    code = ("import sys, dockwiz.commands.tui, dockwiz.tui.app, dockwiz.tui.screens.inspect; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' "
            "or m.startswith('dockwiz.models')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


async def test_verify_copies_whole_commands_to_the_clipboard() -> None:
    """c / e copy the whole line (OSC 52), however much of it fits on screen."""
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot)
        await press(pilot, "n", "n", "n", "n", "a", "y")
        await until(pilot, "the apply", lambda: app.wizard.apply_result is not None, 10)
        await press(pilot, "n")
        assert isinstance(app.screen, VerifyScreen)
        await until(pilot, "the report", lambda: app.wizard.verify_report is not None, 10)
        handoff = app.wizard.verify_report.handoff if app.wizard.verify_report else None
        assert handoff is not None
        await press(pilot, "c")
        assert app.clipboard == handoff.context_create
        await press(pilot, "e")
        assert app.clipboard == f". {handoff.bundle_dir}/env.sh"
        lines = [str(w.content) for w in app.screen.query(".command").results(Static)]
        assert any(handoff.context_create in line for line in lines)  # one line, not wrapped


async def test_page_keys_scroll_the_step_from_a_field() -> None:
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot)
        await press(pilot, "d")  # every finding's details: taller than the screen
        body = app.screen.query_one("#report")
        assert body.max_scroll_y > 0
        await press(pilot, "pagedown")
        assert body.scroll_y > 0
        await press(pilot, "n", "n", "n", "n")
        assert isinstance(app.screen, PreviewScreen)
        preview = app.screen.query_one("#preview")
        assert preview.max_scroll_y > 0
        app.screen.query_one("#back", Button).focus()
        await press(pilot, "pagedown")  # the focus on a button: the step still scrolls
        assert preview.scroll_y > 0


def test_wrapped_diff_lines_keep_their_marker() -> None:
    from dockwiz.tui.widgets.diffview import wrap_diff

    wrapped = wrap_diff("@@ -1 +1 @@\n-" + "a" * 50 + "\n+" + "b" * 50 + "\n", 20)
    lines = wrapped.splitlines()
    assert all(len(line) <= 20 for line in lines)
    assert [line[0] for line in lines[1:]] == ["-"] * 3 + ["+"] * 3
    assert "".join(line.lstrip("-↪") for line in lines[1:4]) == "a" * 50
