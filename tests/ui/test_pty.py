"""The real ``dockwiz`` in a real terminal (tmux, 80x24): what an SSH user sees and types.

No Pilot here: the program is started as a user would start it, keys go through the terminal,
and the assertions read the terminal's screen (``tmux capture-pane``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import psutil
import pytest

from dockwiz.lab.lab import lab_down, open_lab

pytestmark = pytest.mark.ui

DOCKWIZ = str(Path(sys.executable).with_name("dockwiz"))
_sessions = count()


def new_tmux_session(name: str, script: str, timeout: float = 5.0) -> None:
    """Start a detached 80x24 session. Killing the previous test's (last) session makes the
    tmux server exit, and a new-session that reaches it meanwhile fails: try again until it
    starts, up to a deadline (then fail with tmux's own message)."""
    argv = ["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", script]
    deadline = time.monotonic() + timeout
    while subprocess.run(argv, capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            subprocess.run(argv, check=True)
            return
        time.sleep(0.05)


class Terminal:
    """One tmux session running one command; killed by name in teardown."""

    def __init__(self, command: str, *, env: dict[str, str] | None = None) -> None:
        self.name = f"dockwiz-pty-{os.getpid()}-{next(_sessions)}"
        # A tmux server that is already running gives new sessions ITS environment: pass the
        # tree under test explicitly, or the pane could run another checkout's dockwiz.
        inherited = {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}
        exports = " ".join(
            f"{k}={shlex.quote(v)}" for k, v in {**inherited, **(env or {})}.items()
        )
        # After the program exits, print its status and keep the pane so it can be read.
        script = f"env {exports} {command}; echo DOCKWIZ-EXIT=$?; sleep 600"
        new_tmux_session(self.name, script)

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name],
            capture_output=True, text=True, check=True,
        ).stdout

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{shown}")

    def wait_below(self, text: str, timeout: float = 20.0, pages: int = 3) -> str:
        """``wait_for`` a text further down the step: PgDn (which scrolls the step wherever
        the focus is) until it shows, as an admin at 80x24 does below the findings."""
        deadline = time.monotonic() + timeout
        for _ in range(pages + 1):
            try:
                return self.wait_for(text, timeout=max(1.0, min(5.0, deadline - time.monotonic())))
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise
                self.keys("NPage")
        return self.wait_for(text, timeout=1.0)

    def wait_gone(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text not in self.screen():
                return
            time.sleep(0.1)
        raise AssertionError(f"{text!r} is still on screen:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        """Type keys; the caller then waits for what they should show (``wait_for``), never a
        fixed time. After Esc, wait for its effect first, or the next key reads as Alt+key."""
        for key in keys:
            subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False,
                       capture_output=True)


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: apt-get install tmux")
    made: list[Terminal] = []
    yield made
    for term in made:
        term.close()


@pytest.fixture
def plain_tcp_root(tmp_path: Path) -> Path:
    """A host root whose daemon.json exposes plain TCP; no daemon runs for it."""
    root = tmp_path / "root"
    (root / "etc/docker").mkdir(parents=True)
    (root / "etc/docker/daemon.json").write_text(
        '{"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]}\n'
    )
    return root


ENV = {"TERM": "xterm-256color", "COLORTERM": "truecolor", "TEXTUAL_ANIMATIONS": "none"}


def test_wizard_in_a_terminal(terminal: list[Terminal], plain_tcp_root: Path) -> None:
    term = Terminal(f"{DOCKWIZ} --root {plain_tcp_root}", env=ENV)
    terminal.append(term)
    first = term.wait_for("CRITICAL", timeout=30)
    assert "Inspect" in first and "Verify" in first  # the step bar
    assert "Findings:" in first and "open over plain TCP on the network" in first
    below = term.wait_below("reachable from the network")  # the host, under the findings
    assert "tcp://0.0.0.0:2375" in below
    assert "esc Back" in first and "q Quit" in first  # the footer
    term.keys("F1")
    help_screen = term.wait_for("go back one step; your choices are kept")
    assert "Keys" in help_screen
    term.keys("Escape")
    # A key right after Esc reads as Alt+key (as in any terminal): wait for the close first.
    term.wait_gone("go back one step; your choices are kept")
    term.keys("n")
    mode = term.wait_for("Mutual TLS (client certificates)")
    assert "<- chosen" in mode and "Listen address" in mode
    term.keys("Escape")  # back to the first step (scrolled as it was left)
    term.wait_for("r Re-inspect")
    term.wait_gone("Listen address")
    term.keys("q")
    term.wait_for("DOCKWIZ-EXIT=0")


def test_no_color_stays_readable(terminal: list[Terminal], plain_tcp_root: Path) -> None:
    """Under NO_COLOR severity and state are words, not colours."""
    term = Terminal(f"{DOCKWIZ} --root {plain_tcp_root}", env={**ENV, "NO_COLOR": "1"})
    terminal.append(term)
    term.wait_for("CRITICAL", timeout=30)
    term.wait_below("reachable from the network")
    ansi = subprocess.run(
        ["tmux", "capture-pane", "-p", "-e", "-t", term.name],
        capture_output=True, text=True, check=True,
    ).stdout
    # NO_COLOR: Textual renders in shades of grey: every RGB colour has r == g == b
    colours = re.findall(r"\x1b\[[0-9;]*?[34]8;2;(\d+);(\d+);(\d+)", ansi)
    assert colours, "expected RGB escapes in the captured screen"
    assert all(r == g == b for r, g, b in colours), sorted(set(colours))[:5]
    term.keys("q")
    term.wait_for("DOCKWIZ-EXIT=0")


@pytest.fixture
def labs(tmp_path: Path) -> Iterator[Path]:
    """TMPDIR for ``dockwiz --lab``; whatever lab a failed test leaves there is taken down."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    yield directory
    for lab_dir in directory.glob("dockwiz-lab-*"):
        lab_down(lab_dir)


def dockwiz_pid(term: Terminal) -> int:
    """The dockwiz process under the pane's shell."""
    out = subprocess.run(["tmux", "display-message", "-p", "-t", term.name, "#{pane_pid}"],
                         capture_output=True, text=True, check=True).stdout
    shell = psutil.Process(int(out.strip()))
    return next(p.pid for p in shell.children(recursive=True) if "dockwiz" in " ".join(p.cmdline()))


@pytest.mark.e2e
def test_hangup_takes_the_throwaway_lab_down(terminal: list[Terminal], labs: Path) -> None:
    """A dropped SSH session (SIGHUP) ends the wizard cleanly and removes its throwaway lab."""
    term = Terminal(f"{DOCKWIZ} --lab --scenario fd-socket", env={**ENV, "TMPDIR": str(labs)})
    terminal.append(term)
    term.wait_for("Findings:", timeout=60)
    term.wait_below("running, pid")
    (lab_dir,) = labs.glob("dockwiz-lab-*")
    daemon = psutil.Process(open_lab(lab_dir).info.pid or 0)
    os.kill(dockwiz_pid(term), signal.SIGHUP)
    term.wait_for(f"DOCKWIZ-EXIT={128 + signal.SIGHUP}", timeout=60)
    assert not lab_dir.exists()
    assert not daemon.is_running()


@pytest.mark.e2e
def test_throwaway_lab_starts_and_is_removed(terminal: list[Terminal], labs: Path) -> None:
    """``dockwiz --lab``: a new lab in a temp dir, the wizard on it, the lab gone on exit."""
    term = Terminal(f"{DOCKWIZ} --lab --scenario fd-socket", env={**ENV, "TMPDIR": str(labs)})
    terminal.append(term)
    term.wait_for("Findings:", timeout=60)
    term.wait_below("throwaway lab fd-socket")
    term.wait_below("running, pid")  # the lab's real daemon, under the findings
    created = list(labs.glob("dockwiz-lab-*"))
    assert len(created) == 1
    term.keys("n")
    term.wait_for("TLS, server certificate only  [warning]")
    # TCP modes default to the lab's own address, as 'dockwiz plan --lab' does: the v27-rule
    # warning for TLS-only names it, shown once TLS-only is the choice
    term.keys("Down", "Enter")
    mode = term.wait_for("[warning]  <- chosen")
    assert re.search(r"non-loopback address 10\.77\.\d+\.\d+", mode), mode
    term.keys("q")
    term.wait_for("DOCKWIZ-EXIT=0", timeout=60)
    assert not created[0].exists()


def test_wizard_exits_when_its_terminal_hangs_up(plain_tcp_root: Path) -> None:
    """Closing the terminal right after the first paint (a dropped SSH session): the wizard
    must exit, not hang in Textual's shutdown on the dead terminal (it did, 7 times in 10)."""
    for _ in range(5):
        term = Terminal(f"{DOCKWIZ} --root {plain_tcp_root}", env=ENV)
        try:
            term.wait_for("Certificates › Hardening", timeout=30)
            wizard = psutil.Process(dockwiz_pid(term))
        finally:
            term.close()  # tmux kill-session: the pty hangs up
        try:
            wizard.wait(timeout=15)
        except psutil.TimeoutExpired:
            wizard.kill()
            pytest.fail("the wizard hung after its terminal hung up")
