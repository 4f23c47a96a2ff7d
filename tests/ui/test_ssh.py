"""The wizard as the admin really runs it: over a real OpenSSH session, at 80x24.

Debian's openssh-server is started by the test on 127.0.0.1 (a free port, its own sshd_config,
host key and authorized_keys in a temp dir; ``sshd -D`` as root, stopped by PID). The client is
``ssh -tt`` with a key the test makes, inside a tmux pane (the pty, TERM=xterm-256color), so
the wizard sees exactly what an admin's SSH session gives it. Dropping the session means
killing that ssh client: sshd then hangs up the wizard's terminal.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from test_pty import Terminal

from dockwiz.apply import pending_recovery
from dockwiz.lab.lab import lab_down, lab_up, open_lab

pytestmark = [pytest.mark.ui, pytest.mark.e2e]

SRC = str(Path(__file__).resolve().parents[2] / "src")
DOCKWIZ = str(Path(sys.executable).with_name("dockwiz"))
SSHD = "/usr/sbin/sshd"


@dataclass
class Sshd:
    port: int
    key: Path
    process: subprocess.Popen[bytes]

    def command(self, remote: str) -> str:
        """The ssh client line an admin types: a pty (-tt), TERM passed by ssh itself."""
        options = ["-tt", "-i", str(self.key), "-p", str(self.port),
                   "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                   "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
        return shlex.join(["ssh", *options, "root@127.0.0.1", remote])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def sshd() -> Iterator[Sshd]:
    for tool in (SSHD, "ssh", "ssh-keygen", "tmux"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: bash scripts/install.sh --test")
    work = Path(tempfile.mkdtemp(prefix="dockwiz-sshd-"))
    work.chmod(0o700)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / name)],
                       check=True)
    (work / "authorized_keys").write_text((work / "client_key.pub").read_text())
    port = _free_port()
    config = work / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {work}/host_key\n"
        f"PidFile {work}/sshd.pid\nAuthorizedKeysFile {work}/authorized_keys\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\nPrintMotd no\nPrintLastLog no\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    process = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(work / "sshd.log")])
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise AssertionError((work / "sshd.log").read_text()) from None
            time.sleep(0.05)
    try:
        yield Sshd(port, work / "client_key", process)
    finally:
        # its per-connection children first (a dropped session may leave one), then sshd
        for child in psutil.Process(process.pid).children(recursive=True):
            if child.name().startswith("sshd"):
                os.kill(child.pid, signal.SIGTERM)
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def terms() -> Iterator[list[Terminal]]:
    made: list[Terminal] = []
    yield made
    for term in made:
        term.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "lab"
    lab_up(directory, "fd-socket")
    yield directory
    lab_down(directory)


def remote(command: str, **env: str) -> str:
    """The command as sshd's shell runs it: this tree's dockwiz, its environment explicit."""
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in {"PYTHONPATH": SRC, **env}.items())
    return f"env {exports} {DOCKWIZ} {command}"


def to_mtls(term: Terminal, address: str) -> None:
    """Inspect -> Mode (mutual TLS on the lab's address) -> Certificates -> Hardening ->
    Preview -> confirm the apply."""
    term.wait_for("Findings:", timeout=60)
    term.keys("n")
    term.wait_for("Mutual TLS (client certificates)")
    term.keys("Down", "Enter")  # unix -> tls: wait until it is chosen, keys over SSH race
    term.wait_for("[warning]  <- chosen")
    term.keys("Down", "Enter")  # -> mtls
    term.wait_for("Mutual TLS (client certificates)  <- chosen")
    term.wait_for("Listen address")
    term.wait_for(address)  # a lab's own address is the default, as 'dockwiz plan --lab' does
    term.keys("n")
    term.wait_for("name(s) and address(es)", timeout=30)
    term.keys("n")
    term.wait_for("Space toggles an option")
    term.keys("n")
    term.wait_for("Review the change.", timeout=60)
    term.keys("a")
    term.wait_for("Apply this change?")
    term.keys("y")


def test_inspect_to_verify_over_ssh(sshd: Sshd, lab: Path, terms: list[Terminal]) -> None:
    """The whole flow through sshd at 80x24; after Finish the hand-off is on the normal screen
    and every path it prints works where it says."""
    address = open_lab(lab).info.address
    term = Terminal(sshd.command(remote(f"--lab {lab}")), env={"TERM": "xterm-256color"})
    terms.append(term)
    to_mtls(term, address)
    term.wait_for("Applied.", timeout=120)
    term.keys("n")
    shown = term.wait_for("probes passed", timeout=120)
    assert "Verified." in shown, shown
    term.keys("n")
    term.wait_for("DOCKWIZ-EXIT=0", timeout=60)
    after = subprocess.run(["tmux", "capture-pane", "-p", "-J", "-t", term.name],  # unwrapped
                           capture_output=True, text=True, check=True).stdout
    bundle = lab / "root/etc/dockwiz/clients/dockwiz-client"
    assert f"dockwiz rollback --lab {lab}" in after, after
    readme = (bundle / "README.txt").read_text()
    assert "applied transaction" in readme and str(bundle) in readme
    assert "/etc/dockwiz/clients/dockwiz-client/env.sh" in readme
    # the in-lab path it prints is real inside the lab: env.sh and the context line work there
    context = next(line.strip() for line in readme.splitlines()
                   if line.strip().startswith("docker context create"))
    script = (". /etc/dockwiz/clients/dockwiz-client/env.sh && docker version -f json && "
              f"{context} >/dev/null && docker --context dockwiz-client version -f json")
    used = subprocess.run(
        [sys.executable, "-m", "dockwiz", "lab", "run", "--dir", str(lab), "--", "sh", "-c",
         script], capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": SRC},
    )
    assert used.returncode == 0, used.stderr
    versions = [json.loads(line) for line in used.stdout.splitlines() if line.startswith("{")]
    assert len(versions) == 2 and all(v["Server"] for v in versions)


def _wizard_pid(sshd: Sshd, timeout: float = 60) -> int:
    """The dockwiz process sshd started for the session."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in psutil.Process(sshd.process.pid).children(recursive=True):
            try:
                if DOCKWIZ in proc.cmdline():
                    return proc.pid
            except psutil.Error:
                continue
        time.sleep(0.1)
    raise AssertionError("the wizard never started under sshd")


def _drop_during_apply(sshd: Sshd, term: Terminal, address: str) -> int:
    """Go to the apply, then kill the ssh client while it runs; the wizard's pid."""
    wizard = _wizard_pid(sshd)
    to_mtls(term, address)
    term.wait_for("journal and backups", timeout=60)
    ssh = next(p for p in psutil.Process(_pane_pid(term)).children(recursive=True)
               if p.name() == "ssh")
    os.kill(ssh.pid, signal.SIGKILL)
    psutil.Process(wizard).wait(timeout=120)
    return wizard


def _pane_pid(term: Terminal) -> int:
    out = subprocess.run(["tmux", "display-message", "-p", "-t", term.name, "#{pane_pid}"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def test_dropped_ssh_during_apply_leaves_the_host_whole(
    sshd: Sshd, lab: Path, terms: list[Terminal]
) -> None:
    """Killing the SSH client mid-apply: the transaction finishes or rolls back (no journal
    left unfinished) and the daemon answers, in the state the journal says."""
    info = open_lab(lab).info
    before = (lab / "root/etc/docker/daemon.json").read_bytes() \
        if (lab / "root/etc/docker/daemon.json").exists() else None
    term = Terminal(sshd.command(remote(f"--lab {lab}")), env={"TERM": "xterm-256color"})
    terms.append(term)
    _drop_during_apply(sshd, term, info.address)
    lab_obj = open_lab(lab)
    assert pending_recovery(lab_obj.host()) is None  # done or restored, never half
    assert lab_obj.is_running()
    now = (lab / "root/etc/docker/daemon.json").read_bytes() \
        if (lab / "root/etc/docker/daemon.json").exists() else None
    if now != before:  # applied: the new config is the one serving
        assert now is not None and b'"tlsverify": true' in now
    answered = subprocess.run(
        [sys.executable, "-m", "dockwiz", "lab", "run", "--dir", str(lab), "--", "docker",
         "-H", "unix:///var/run/docker.sock", "version", "-f", "{{.Server.Version}}"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": SRC},
    )
    assert answered.returncode == 0 and answered.stdout.strip(), answered.stderr


def test_dropped_ssh_during_apply_removes_the_throwaway_lab(
    sshd: Sshd, tmp_path: Path, terms: list[Terminal]
) -> None:
    """``dockwiz --lab`` over SSH, connection dropped mid-apply: the apply ends (finished or
    rolled back), then the throwaway lab is downed: dockerd, its namespace and its dir gone."""
    labs = tmp_path / "tmp"
    labs.mkdir()
    term = Terminal(sshd.command(remote("--lab --scenario fd-socket", TMPDIR=str(labs))),
                    env={"TERM": "xterm-256color"})
    terms.append(term)
    try:
        term.wait_for("Findings:", timeout=90)
        (lab_dir,) = labs.glob("dockwiz-lab-*")
        info = open_lab(lab_dir).info
        daemon = psutil.Process(info.pid or 0)
        _drop_during_apply(sshd, term, info.address)
        assert not daemon.is_running()
        assert not Path("/run/netns", info.netns).exists()
        assert not lab_dir.exists()
    finally:
        for left in labs.glob("dockwiz-lab-*"):
            lab_down(left)
