"""``dockwiz`` with no command: the wizard, on this host, a lab, or a new throwaway lab.

A throwaway lab (``--lab`` with no DIR) lives in a fresh temp directory that is printed before
the wizard starts and removed (daemon stopped, namespace deleted) when it exits, whatever way it
exits. An existing lab (``--lab DIR``) is left running: it belongs to whoever started it.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from dockwiz.errors import EXIT_INTERRUPTED, EXIT_USAGE, DockwizError

if TYPE_CHECKING:
    from dockwiz.handoff import Place
    from dockwiz.host import Host
    from dockwiz.models.results import ApplyResult


def run(args: argparse.Namespace) -> int:
    """Start the wizard; returns the exit status (2 for a DockwizError, as the CLI does).

    The garbage collector is off until the first screen is painted (the app turns it back
    on): importing Textual and building the first screen make many objects and no garbage,
    and the collections they trigger cost ~10% of the time to the first frame."""
    from dockwiz.commands._common import fail

    gc.disable()
    try:
        return _run(args)
    except DockwizError as exc:
        return fail("dockwiz", exc.message, exc.hint, EXIT_USAGE, as_json=False)
    except KeyboardInterrupt:
        print("dockwiz: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        gc.enable()


def _run(args: argparse.Namespace) -> int:
    lab_arg: str | None = getattr(args, "lab", None)
    if lab_arg is None:
        from dockwiz.host import Host

        return _wizard(Host(getattr(args, "root", "/") or "/"), None)
    from dockwiz.lab.lab import lab_down, lab_up, open_lab

    if lab_arg:
        lab = open_lab(Path(lab_arg))
        return _wizard(lab.host(), f"lab {lab_arg}", lab.info.address)
    scenario = getattr(args, "scenario", None) or "insecure-tcp"
    directory = Path(tempfile.mkdtemp(prefix="dockwiz-lab-"))
    print(f"dockwiz: starting a throwaway lab ({scenario}) in {directory} ...", file=sys.stderr)
    _explain_slow_start(scenario)
    try:
        lab = lab_up(directory, scenario, docker=getattr(args, "docker", None),
                     progress=lambda msg: print(f"dockwiz: {msg}", file=sys.stderr))
        status = _wizard(lab.host(), f"throwaway lab {scenario} in {directory}",
                         lab.info.address, throwaway=True)
    finally:
        # The terminal may be gone (a dropped SSH session): nothing written here may stop
        # the clean-up, and a second hang-up must not kill it half-way.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        _say(f"dockwiz: removing the throwaway lab in {directory}", sys.stderr)
        lab_down(directory)
        _remove_tree(directory)
    return status


def _explain_slow_start(scenario: str) -> None:
    """A newcomer must not mistake dockerd's deliberate start-up sleep for a hang."""
    from dockwiz.lab.lab import SCENARIOS

    spec = SCENARIOS.get(scenario)
    if spec is not None and spec.slow_start_s and spec.slow_start_s >= 5:
        print(f"dockwiz: this takes about {spec.slow_start_s:.0f} s: dockerd itself sleeps on "
              "purpose when it serves the API on plain TCP off loopback, to make the admin "
              "read its warnings (Docker's own deterrent, which the wizard will remove)",
              file=sys.stderr)


def _wizard(host: Host, lab_note: str | None, listen_host: str | None = None, *,
            throwaway: bool = False) -> int:
    """Run the wizard; on a lab, TCP modes default to the lab's own address (as the CLI does).

    Whatever way the wizard ends (Finish, q, a hang-up), an apply still running is waited
    for, and after a successful apply the hand-off is printed on the normal screen."""
    from dockwiz.handoff import Place
    from dockwiz.tui.app import make_app
    from dockwiz.tui.session import CoreBackend

    place = Place.of(host, throwaway=throwaway)
    backend = CoreBackend(host, place)
    app = make_app(backend=backend, lab_note=lab_note, listen_host=listen_host)
    try:
        result = app.run()
    finally:
        if backend.busy():
            _say("dockwiz: the apply is still running; waiting for it to finish or roll back",
                 sys.stderr)
        backend.wait_idle()
        _print_handoff(host, app.wizard.apply_result, place)
        if extra := app.wizard.context_handoff_text():  # day two: bundles in docker contexts
            _say(extra, sys.stdout)
    if isinstance(result, int):
        return result
    return app.return_code or 0


def _print_handoff(host: Host, result: ApplyResult | None, place: Place) -> None:
    if result is None or not result.ok:
        return
    from dockwiz.handoff import after_apply

    _say(after_apply(host, result, place, save=False), sys.stdout)


def _say(text: str, stream: TextIO) -> None:
    """Write to a terminal that may have gone away (EIO, EPIPE): then say nothing."""
    try:
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def _remove_tree(directory: Path) -> None:
    """lab_down unmounts what dockerd left; only then is the directory plain files."""
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
