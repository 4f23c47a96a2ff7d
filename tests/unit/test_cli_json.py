"""``--json`` means JSON, also when it fails (issue 14 §5).

Every failure class a script meets is run through the real CLI in a subprocess on a --root
temp tree (never this machine's /etc/docker): stdout is exactly one JSON object with ``ok``
false, ``error``, ``fix``, ``exit_code`` (the process's own status) and ``exit_meaning``, and
stderr carries no traceback. Transactions that need a daemon to restart (a failed apply, a
failed rollback, a held lock) run the same CLI entry point in a subprocess whose service manager
is test_apply's stand-in daemon: the only way to restart "a daemon" of a temp tree.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_cli_input as cli_input
from test_apply import _HOLDER, DAEMON_JSON, StandInDaemon, _json_change, _plan
from test_cli_input import NOBODY, applied_lab_dir, dockwiz_cli, host_root

from dockwiz import apply as ap
from dockwiz.apply import journal as jr
from dockwiz.errors import EXIT_MEANINGS
from dockwiz.host import Host
from dockwiz.plan import save_plan

UNIT_DIR = Path(__file__).resolve().parent
KEYS = {"ok", "error", "fix", "exit_code", "exit_meaning"}

nobody_python = cli_input.nobody_python  # the fixtures, shared with test_cli_input
shared_tmp = cli_input.shared_tmp


def error_object(r: subprocess.CompletedProcess[str], code: int, *needles: str) -> dict[str, Any]:
    """The one JSON object on stdout, checked against the exit status; no traceback."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    data = json.loads(r.stdout)  # the whole of stdout: one value, nothing around it
    assert isinstance(data, dict) and data.keys() >= KEYS, data
    assert data["ok"] is False and data["exit_code"] == code
    assert data["exit_meaning"] == EXIT_MEANINGS[code]
    assert isinstance(data["error"], str) and data["error"]
    assert data["fix"] is None or (isinstance(data["fix"], str) and data["fix"])
    text = json.dumps(data)
    for needle in needles:
        assert needle in text, (needle, data)
    # the human text is for runs without --json: not repeated on stderr
    assert f"error: {data['error']}" not in r.stderr
    return data


# -- usage mistakes: argparse fails before it reads --json ------------------------------------
@pytest.mark.parametrize(("argv", "says"), [
    (["plan", "--json"], "the following arguments are required: --mode"),
    (["plan", "--json", "--mode", "unix", "--bogus"], "unrecognized arguments: --bogus"),
    (["plan", "--mode", "nope", "--json"], "invalid choice: 'nope'"),
    (["--json", "inspect", "--root", "/tmp", "--lab", "x"], "not allowed with argument"),
    (["inspect", "--root", "/", "--lab", "x", "--json"], "not allowed with argument"),
    (["lab", "status", "--json"], "the following arguments are required: --dir"),
    (["certs", "show", "--json", "--days", "3"], "unrecognized arguments: --days"),
    (["certs", "--json"], "the following arguments are required: ACTION"),
    (["--json"], "unrecognized arguments: --json"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_a_usage_mistake_is_one_json_object(argv: list[str], says: str) -> None:
    data = error_object(dockwiz_cli(*argv), 2, says)
    assert data["fix"].startswith("see 'dockwiz") and data["fix"].endswith(" --help'")
    assert data["usage"].startswith("usage: dockwiz")


def test_without_json_a_usage_mistake_is_argparse_text() -> None:
    r = dockwiz_cli("plan", "--bogus")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("usage: dockwiz plan")
    assert "dockwiz plan: error: the following arguments are required: --mode" in r.stderr


def test_json_after_double_dash_belongs_to_the_command(tmp_path: Path) -> None:
    """``lab run -- CMD --json``: the --json is CMD's, so the error stays text."""
    r = dockwiz_cli("lab", "run", "--dir", str(tmp_path / "none"), "--", "docker", "--json")
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert "holds no lab" in r.stderr


# -- refusals of the input --------------------------------------------------------------------
def test_a_plan_the_v27_rule_refuses(tmp_path: Path) -> None:
    root = host_root(tmp_path)
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "tls", "--listen", "0.0.0.0:2376",
                    "--docker-version", "28.0", "--json")
    data = error_object(r, 2, "refused for Docker 28")
    assert "mtls" in data["fix"]


def test_apply_without_yes_and_no_terminal(tmp_path: Path) -> None:
    root = host_root(tmp_path, '{"hosts": ["unix:///var/run/docker.sock", '
                               '"tcp://0.0.0.0:2375"]}\n')
    r = dockwiz_cli("apply", "--root", str(root), "--mode", "unix", "--json")
    data = error_object(r, 2, "no terminal to ask on")
    assert "--yes" in data["fix"]
    assert not (root / "var" / "lib" / "dockwiz").exists()


@pytest.mark.parametrize("argv", [
    ["inspect", "--lab", "{dir}", "--json"],
    ["lab", "status", "--dir", "{dir}", "--json"],
    ["apply", "--lab", "{dir}", "--mode", "unix", "--yes", "--json"],
])
def test_a_missing_lab(tmp_path: Path, argv: list[str]) -> None:
    missing = tmp_path / "no-lab"
    r = dockwiz_cli(*[a.format(dir=missing) for a in argv])
    data = error_object(r, 2, "holds no lab")
    assert "dockwiz lab up" in data["fix"]


def test_a_dockwiz_error_from_a_command(tmp_path: Path) -> None:
    root = host_root(tmp_path)
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "unix", "--save",
                    str(tmp_path / "missing" / "p.plan"), "--json")
    data = error_object(r, 2, "the directory", "does not exist")
    assert "mkdir -p" in data["fix"]


def test_a_stale_saved_plan(tmp_path: Path) -> None:
    root = host_root(tmp_path, "{}\n")
    host = Host(root)
    saved = tmp_path / "p.plan"
    save_plan(_plan([_json_change(host, '{\n  "debug": false\n}\n')]), saved)
    (root / "etc" / "docker" / "daemon.json").write_text('{"the-admins-edit": 1}\n')
    r = dockwiz_cli("apply", str(saved), "--root", str(root), "--yes", "--json")
    data = error_object(r, 2, f"the plan is stale: {DAEMON_JSON} was edited")
    assert "plan again" in data["fix"]


# -- as a normal user -------------------------------------------------------------------------
def test_needs_root(shared_tmp: Path, nobody_python: str) -> None:
    lab = applied_lab_dir(shared_tmp)
    r = dockwiz_cli("apply", "--root", f"{lab}/root", "--mode", "unix", "--yes", "--json",
                    prefix=NOBODY, python=nobody_python)
    data = error_object(r, 2, "needs root here")
    assert data["fix"].startswith("run it as root: sudo dockwiz apply --root")


def test_an_unforeseen_permission_error(shared_tmp: Path, nobody_python: str) -> None:
    """check_can_run lets a normal user plan; saving into root's directory is what fails."""
    root = host_root(shared_tmp)
    (root / "etc").chmod(0o755)
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "unix", "--save",
                    str(shared_tmp / "p.plan"), "--json", prefix=NOBODY, python=nobody_python)
    data = error_object(r, 2, "permission denied")
    assert data["fix"].startswith("run it as root: sudo dockwiz plan")
    assert not (shared_tmp / "p.plan").exists()


# -- transactions, with test_apply's stand-in daemon as the service manager -------------------
_DRIVER = """
import sys
sys.path.insert(0, sys.argv[1])
from test_apply import StandInDaemon
from dockwiz import cli
from dockwiz.commands import apply as cmd
from dockwiz.host import Host
daemon = StandInDaemon(Host(sys.argv[2]))
assert daemon.start().ok
cmd._manager = lambda _host, _args: daemon
sys.exit(cli.main(sys.argv[3:]))
"""


def with_stand_in(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``dockwiz ARGV`` whose service manager is a stand-in daemon serving the root's socket."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cli_input.SRC), str(UNIT_DIR)]),
           "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-c", _DRIVER, str(UNIT_DIR), str(root), *argv],
                          capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.fixture
def root() -> Iterator[Path]:
    """A short host root (a unix socket path must fit in 107 bytes) with a daemon.json."""
    path = Path(tempfile.mkdtemp(prefix="dwjs", dir="/tmp"))
    try:
        (path / "etc" / "docker").mkdir(parents=True)
        (path / "etc" / "docker" / "daemon.json").write_text('{\n  "debug": true\n}\n')
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_the_stand_in_succeeds_as_the_model(root: Path, tmp_path: Path) -> None:
    """The baseline: with the stand-in, a good plan applies and prints the ApplyResult."""
    saved = tmp_path / "p.plan"
    save_plan(_plan([_json_change(Host(root), '{\n  "debug": false\n}\n')]), saved)
    r = with_stand_in(root, "apply", str(saved), "--root", str(root), "--yes", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["ok"] is True and "restart" in r.stderr


def test_an_apply_that_failed_and_was_rolled_back(root: Path, tmp_path: Path) -> None:
    before = (root / "etc" / "docker" / "daemon.json").read_bytes()
    saved = tmp_path / "p.plan"
    save_plan(_plan([_json_change(Host(root), '{\n  "bogus-option": 1\n}\n')]), saved)
    r = with_stand_in(root, "apply", str(saved), "--root", str(root), "--yes", "--json")
    data = error_object(r, 1, "apply failed at step", "the host is back as it was")
    result = data["result"]
    assert result["ok"] is False and result["rolled_back"] and result["recovery_ok"] is True
    assert result["failed_step"] in data["error"]
    assert (root / "etc" / "docker" / "daemon.json").read_bytes() == before


def test_a_rollback_that_failed(root: Path) -> None:
    host = Host(root)
    daemon = StandInDaemon(host)
    assert daemon.start().ok
    try:
        plan = _plan([_json_change(host, '{\n  "debug": false\n}\n')])
        assert ap.apply_plan(host, plan, manager=daemon).ok
    finally:
        daemon.stop()
    journal = jr.load_journal(host)
    assert journal is not None and journal.files[0].backup is not None
    host.path(journal.files[0].backup).write_bytes(b"damaged")
    r = with_stand_in(root, "rollback", "--root", str(root), "--yes", "--json")
    data = error_object(r, 3, "rollback failed at step", "NOT restored", DAEMON_JSON)
    assert data["result"]["not_restored"] == [DAEMON_JSON]
    assert data["result"]["recovery_ok"] is False


def test_a_lock_held_by_another_transaction(root: Path, tmp_path: Path) -> None:
    saved = tmp_path / "p.plan"
    save_plan(_plan([_json_change(Host(root), '{\n  "debug": false\n}\n')]), saved)
    env = {**os.environ, "PYTHONPATH": str(cli_input.SRC)}
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(root)],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        r = with_stand_in(root, "apply", str(saved), "--root", str(root), "--yes", "--json")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    data = error_object(r, 2, "another dockwiz transaction is running",
                        f"pid {holder.pid}")
    assert "wait for it to finish" in data["fix"]


# -- a bug, and a reader that goes away -------------------------------------------------------
_RAISES = """
import sys
from dockwiz import cli
from dockwiz.commands import inspect
def broken(args):
    raise {exc}
inspect.run = broken
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("exc", "code", "error"), [
    ("RuntimeError('a bug')", 70, "internal error: RuntimeError: a bug"),
    ("KeyboardInterrupt()", 130, "interrupted"),
], ids=["bug", "ctrl-c"])
def test_a_bug_or_ctrl_c_is_still_one_object(
    tmp_path: Path, exc: str, code: int, error: str
) -> None:
    root = host_root(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(cli_input.SRC)}
    r = subprocess.run([sys.executable, "-c", _RAISES.format(exc=exc), "inspect", "--root",
                        str(root), "--json"],
                       capture_output=True, text=True, timeout=60, env=env, check=False)
    assert r.returncode == code, (r.stdout, r.stderr)
    data = json.loads(r.stdout)
    assert data.keys() >= KEYS and data["exit_code"] == code and data["error"] == error
    assert data["exit_meaning"] == EXIT_MEANINGS[code]
    # a bug keeps its traceback for the report; Ctrl-C is no bug
    assert ("Traceback" in r.stderr) == (code == 70), r.stderr


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, json_flag: list[str]) -> None:
    """``dockwiz inspect | head``: the reader is gone before the first write."""
    root = host_root(tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "PYTHONPATH": str(cli_input.SRC), "NO_COLOR": "1"}
    try:
        r = subprocess.run([sys.executable, "-m", "dockwiz", "inspect", "--root", str(root),
                            *json_flag], stdout=write_end, stderr=subprocess.PIPE, text=True,
                           timeout=60, env=env, check=False)
    finally:
        os.close(write_end)
    assert r.returncode == 141, r.stderr
    assert r.stderr == ""
