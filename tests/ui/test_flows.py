"""Full wizard flows driven by Pilot against REAL lab daemons (no fakes: the core does the work).

Each test drives the keyboard the way an admin would, then checks the host itself: the files
under the lab root, the daemon's endpoints (through verify's real probes), the journal. The
real CoreBackend is wrapped in a recorder, so each flow also checks that what the admin picked
is exactly what reached the core. Every wait is on a condition, never on a fixed time.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton, RadioSet, Select, Static
from ui_fixtures import apply_and_verify, on, recorded, recording_app, retype, to_mode, until

from dockwiz.docker_paths import DROPIN_PATH
from dockwiz.host import Host
from dockwiz.lab.lab import Lab
from dockwiz.models.intent import Hardening, Intent, Mode
from dockwiz.tui.app import DockwizApp
from dockwiz.tui.screens.apply import ApplyScreen
from dockwiz.tui.screens.certs import CertificatesScreen
from dockwiz.tui.screens.dialogs import ConfirmDialog
from dockwiz.tui.screens.hardening import HardeningScreen
from dockwiz.tui.screens.mode import ModeScreen
from dockwiz.tui.screens.preview import PreviewScreen
from dockwiz.tui.widgets.rows import Rows

pytestmark = [pytest.mark.e2e, pytest.mark.ui]

SIZE = (80, 24)


# -- helpers ----------------------------------------------------------------------------------
def root_digest(host: Host) -> dict[str, tuple[int, str]]:
    """Mode and sha256 of every file under the root, minus the daemon's own runtime state."""
    out: dict[str, tuple[int, str]] = {}
    for dirpath, _dirs, files in os.walk(host.root):
        for name in files:
            path = Path(dirpath) / name
            rel = "/" + str(path.relative_to(host.root))
            if rel.startswith(("/run/", "/var/run/", "/var/lib/docker")):
                continue
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            out[rel] = (stat.S_IMODE(st.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    return out


async def choose_mode(pilot: Pilot[Any], app: DockwizApp, mode: str) -> None:
    """Move the radio cursor with the arrow keys until ``mode`` is chosen (Enter)."""
    modes = app.screen.query_one("#modes", RadioSet)

    def settled() -> bool:  # the pressed button has reached the wizard's choices
        pressed = modes.pressed_button
        return pressed is not None and pressed.id == f"mode-{app.wizard.choices.mode}"

    for _ in range(8):
        if app.wizard.choices.mode == mode:
            return
        await pilot.press("down", "enter")
        await until(pilot, "the radio choice", settled, 10)
    assert app.wizard.choices.mode == mode


async def set_listen(pilot: Pilot[Any], app: DockwizApp, address: str) -> None:
    await retype(pilot, "#listen-host", address)
    await until(pilot, "the listen choice", lambda: app.wizard.choices.listen_host == address, 10)
    app.screen.query_one("#modes").focus()


async def to_certificates(pilot: Pilot[Any], app: DockwizApp) -> None:
    await pilot.press("n")
    await until(pilot, "certificates", on(app, CertificatesScreen))
    await until(pilot, "SAN detection", lambda: app.wizard.choices.sans_detected)


async def to_preview(pilot: Pilot[Any], app: DockwizApp) -> None:
    """From Certificates or Hardening on to the finished plan."""
    if isinstance(app.screen, CertificatesScreen):
        await pilot.press("n")
        await until(pilot, "hardening", on(app, HardeningScreen))
    await pilot.press("n")
    await until(pilot, "preview", on(app, PreviewScreen))
    await until(pilot, "the plan", lambda: app.wizard.plan is not None)


async def mode_to_preview(pilot: Pilot[Any], app: DockwizApp) -> None:
    await to_certificates(pilot, app)
    await to_preview(pilot, app)


def mtls_on(lab: Lab, app: DockwizApp, **changes: Any) -> Intent:
    """The mtls Intent the wizard should send for this lab: its address on port 2376, the
    names SAN detection offered plus that address, defaults for the rest unless changed."""
    (dns, ips), *_ = recorded(app).detected
    fields: dict[str, Any] = {
        "mode": Mode.MTLS, "listen_host": lab.info.address, "listen_port": 2376,
        "sans_dns": dns, "sans_ip": ips if lab.info.address in ips else [*ips, lab.info.address],
    }
    return Intent(**{**fields, **changes})


# -- flows ------------------------------------------------------------------------------------
async def test_fd_socket_to_mtls(lab_factory: Callable[..., Lab]) -> None:
    """Picks beyond the defaults (an extra name, another key type, one hardening option) reach
    the core exactly, and the daemon ends up configured with them."""
    lab = lab_factory("fd-socket")
    app = recording_app(lab.host())
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        assert app.wizard.choices.mode == "unix"  # no TCP today: local stays the default
        await choose_mode(pilot, app, "mtls")
        await set_listen(pilot, app, lab.info.address)
        await to_certificates(pilot, app)
        assert lab.info.address in app.wizard.choices.ip_addresses
        app.screen.query_one("#san-input", Input).focus()
        await pilot.press(*"docker.lab.test", "enter")
        await until(pilot, "the added name",
                    lambda: "docker.lab.test" in app.wizard.choices.dns_names, 10)
        key_type = app.screen.query_one("#key-type", Select)
        key_type.focus()
        await pilot.press("enter", "down", "enter")  # open the list, ecdsa-p256 -> ecdsa-p384
        await until(pilot, "the key type", lambda: app.wizard.choices.key_type == "ecdsa-p384", 10)
        app.screen.query_one("#sans").focus()
        await pilot.press("n")
        await until(pilot, "hardening", on(app, HardeningScreen))
        await pilot.press("down", "down", "space")  # no-new-privileges
        await until(pilot, "the hardening choice",
                    lambda: app.wizard.choices.hardening == {"no-new-privileges"}, 10)
        await to_preview(pilot, app)
        calls = recorded(app)
        dns = calls.detected[0][0]
        assert calls.planned == [
            mtls_on(lab, app, sans_dns=[*dns, "docker.lab.test"], key_type="ecdsa-p384",
                    hardening=Hardening(no_new_privileges=True))
        ]
        diff = app.screen.query_one("#diff").diff_text  # type: ignore[attr-defined]
        assert '"tlsverify": true' in diff
        await apply_and_verify(pilot, app)
        assert calls.applied == calls.plans
        assert calls.verified == [(Mode.MTLS, calls.plans[0])]
        report = app.wizard.verify_report
        assert report is not None
        assert report.passed, report.model_dump_json(indent=2)
        assert report.handoff is not None
        verdict = str(app.screen.query_one("#verdict", Static).content)
        assert "Verified." in verdict
        await pilot.press("n")  # Finish
    assert app.return_code == 0
    config = lab.host().read_text("/etc/docker/daemon.json")
    assert '"tlsverify": true' in config and '"no-new-privileges": true' in config
    # socket activation stays (-H fd://): the TCP host goes beside it, in dockwiz's drop-in
    dropin = lab.host().read_text(DROPIN_PATH)
    assert "-H fd://" in dropin and f"tcp://{lab.info.address}:2376" in dropin


async def test_insecure_tcp_to_mtls(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory("insecure-tcp")
    app = recording_app(lab.host())
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        assert app.wizard.choices.mode == "mtls"  # on TCP today: keep remote access, secured
        await set_listen(pilot, app, lab.info.address)
        await mode_to_preview(pilot, app)
        calls = recorded(app)
        assert calls.checked == [Intent(mode=Mode.MTLS, listen_host=lab.info.address)]
        assert calls.planned == [mtls_on(lab, app)]
        await apply_and_verify(pilot, app)
        assert calls.applied == calls.plans
        assert calls.verified == [(Mode.MTLS, calls.plans[0])]
        report = app.wizard.verify_report
        assert report is not None
        assert report.passed, report.model_dump_json(indent=2)
        probes = app.screen.query_one("#probes", Rows).text
        assert "2375" in probes and "FAIL" not in probes


async def test_forbidden_choice_refused_with_reason(lab_factory: Callable[..., Lab]) -> None:
    """Planning for Docker 28: TLS-only on a network address is shown not allowed, and Next
    refuses it with the reason and the ways out; nothing is written."""
    lab = lab_factory("fd-socket")
    host = lab.host()
    before = root_digest(host)
    app = recording_app(host, docker_version="28.0.1")
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        await set_listen(pilot, app, lab.info.address)
        tls = app.screen.query_one("#mode-tls", RadioButton)
        assert tls.disabled and "not allowed" in str(tls.label)
        reasons = str(app.screen.query_one("#disabled-reasons", Static).content)
        state = app.wizard.host_state
        assert state is not None
        verdict = app.backend.allowed_modes(state, lab.info.address, "28.0.1")[Mode.TLS]
        assert verdict is not None and verdict.blocking  # the rule itself, for Docker 28
        assert f"Not allowed: {verdict.message}" in reasons  # shown in the core's own words
        # Loopback makes TLS-only legal again, so it can be chosen ...
        await set_listen(pilot, app, "127.0.0.1")
        assert not tls.disabled
        await choose_mode(pilot, app, "tls")
        # ... and moving it to the network address is refused at Next, with the reason.
        await set_listen(pilot, app, lab.info.address)
        banner = app.screen.query_one("#refusal", Static)
        await pilot.press("n")
        await until(pilot, "the refusal",
                    lambda: banner.display or not isinstance(app.screen, ModeScreen), 10)
        assert isinstance(app.screen, ModeScreen)
        text = str(banner.content)
        # the way out names the wizard's choice, not the CLI's --mode value
        assert "refused" in text and lab.info.address in text and "Mutual TLS" in text
        # the core was asked exactly about TLS-only on the lab's address, for Docker 28
        assert recorded(app).checked == [
            Intent(mode=Mode.TLS, listen_host=lab.info.address, docker_version="28.0.1")
        ]
        assert recorded(app).planned == []
        await pilot.press("q")
    assert root_digest(host) == before


async def test_apply_fails_port_taken_and_rolls_back(lab_factory: Callable[..., Lab]) -> None:
    """The port is free when planned and taken before the admin confirms: dockerd cannot bind,
    the apply fails, and the rollback puts back every file and the old daemon."""
    lab = lab_factory("fd-socket")
    host = lab.host()
    before = root_digest(host)
    app = recording_app(host)
    holder: subprocess.Popen[str] | None = None
    try:
        async with app.run_test(size=SIZE) as pilot:
            await to_mode(pilot, app)
            await choose_mode(pilot, app, "mtls")
            await set_listen(pilot, app, lab.info.address)
            await mode_to_preview(pilot, app)
            holder = subprocess.Popen(
                ["nsenter", f"--net=/var/run/netns/{lab.info.netns}", sys.executable, "-c",
                 "import socket,sys,time\n"
                 "s=socket.socket(); s.bind((sys.argv[1], 2376)); s.listen(1)\n"
                 "print('ready', flush=True); time.sleep(300)", lab.info.address],
                stdout=subprocess.PIPE, text=True)
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
            await pilot.press("a")
            await until(pilot, "confirmation", on(app, ConfirmDialog))
            await pilot.press("y")
            await until(pilot, "apply result", lambda: app.wizard.apply_result is not None, 90)
            result = app.wizard.apply_result
            assert result is not None and not result.ok
            assert recorded(app).applied == recorded(app).plans  # the plan that was shown
            assert result.rolled_back and result.recovery_ok, result.model_dump_json(indent=2)
            assert isinstance(app.screen, ApplyScreen)
            steps = app.screen.query_one("#steps", Rows).text
            assert "FAILED" in steps and "Rolling back" in steps and "restore files" in steps
            outcome = str(app.screen.query_one("#result", Static).content)
            assert "address already in use" in outcome and "Rolled back" in outcome
            assert not app.screen.query_one("#next").display or app.screen.query_one(
                "#next"
            ).disabled
            # back is allowed after a clean rollback: the choices are still there
            await pilot.press("escape")
            await until(pilot, "preview again", on(app, PreviewScreen))
            assert app.wizard.choices.mode == "mtls"
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
    after = root_digest(host)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    # the journal and its backups stay behind on purpose (the record of what happened)
    assert {p for p in changed if not p.startswith("/var/lib/dockwiz/")} == set()


async def test_cancel_at_preview_writes_nothing(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory("fd-socket")
    host = lab.host()
    before = root_digest(host)
    app = recording_app(host)
    async with app.run_test(size=SIZE) as pilot:
        await to_mode(pilot, app)
        await choose_mode(pilot, app, "mtls")
        await set_listen(pilot, app, lab.info.address)
        await mode_to_preview(pilot, app)
        await pilot.press("a")
        await until(pilot, "confirmation", on(app, ConfirmDialog))
        await pilot.press("escape")  # cancel the apply
        await until(pilot, "preview", on(app, PreviewScreen))
        # back: hardening, certificates, mode, choices kept
        for screen in (HardeningScreen, CertificatesScreen, ModeScreen):
            await pilot.press("escape")
            await until(pilot, screen.__name__, on(app, screen), 10)
        assert app.wizard.choices.mode == "mtls"
        assert app.screen.query_one("#listen-host", Input).value == lab.info.address
        await pilot.press("q")
        await until(pilot, "quit question", on(app, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, "the exit", lambda: app.return_code is not None, 10)
    assert app.return_code == 0
    assert app.wizard.apply_result is None
    assert recorded(app).applied == []
    assert root_digest(host) == before
