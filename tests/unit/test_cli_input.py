"""Bad input and the wrong user end in one clear line (exit 2), never a traceback, never a write.

Each case was reproduced as a hostile user or a careless admin would hit it (issue 12 §6): it
either passed ``plan`` and failed only at dockerd's restart, or crashed. Every test runs the real
CLI in a subprocess on a --root temp tree and checks the exit code, the message, and that the
tree (and anything a bad value points at) is byte for byte what it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import dockwiz
from dockwiz.models.host_state import HostState

SRC = Path(dockwiz.__file__).resolve().parents[1]


def dockwiz_cli(*argv: str, prefix: list[str] | None = None,
                python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), *site.getsitepackages()]),
           "NO_COLOR": "1"}
    return subprocess.run([*(prefix or []), python, "-m", "dockwiz", *argv],
                          capture_output=True, text=True, timeout=120, env=env, check=False)


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its type, mode and content hash: "nothing was written"."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        what = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        out[str(path.relative_to(root))] = f"{oct(st.st_mode)} {what}"
    return out


UNIX_ONLY = '{"hosts": ["unix:///var/run/docker.sock"]}\n'


def host_root(base: Path, daemon_json: str = UNIX_ONLY) -> Path:
    root = base / "root"
    (root / "etc" / "docker").mkdir(parents=True)
    (root / "etc" / "docker" / "daemon.json").write_text(daemon_json)
    return root


def one_clear_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert "No changes" not in r.stdout
    first = r.stderr.splitlines()[0]
    assert first.startswith("dockwiz "), r.stderr
    for needle in needles:
        assert needle in r.stderr, (needle, r.stderr)


# -- listen addresses that are not addresses ----------------------------------------------------
@pytest.mark.parametrize(("listen", "says"), [
    ("10.77.240.999:2376", "'10.77.240.999' is not an IPv4 address"),
    ("999.1.1.1", "'999.1.1.1' is not an IPv4 address"),
    ("1.2.3:2376", "'1.2.3' is not an IPv4 address"),
    ("127.1:2376", "'127.1' is not an IPv4 address"),
    ("docker..example.com:2376", "empty label"),
    ("10.0.0.5:0", "invalid port '0'"),
    ("10.0.0.5:70000", "invalid port '70000'"),
    ("10.0.0.5:²³⁷⁶", "invalid port"),
    ("10.0.0.5:" + "9" * 5000, "invalid port"),
], ids=lambda v: v if len(v) < 40 else f"{v[:20]}...")
def test_plan_refuses_a_listen_address_dockerd_cannot_bind(
    tmp_path: Path, listen: str, says: str,
) -> None:
    root = host_root(tmp_path)
    before = tree(tmp_path)
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "mtls", "--listen", listen)
    one_clear_error(r, says, "e.g. 10.0.0.5:2376")
    assert len(r.stderr.splitlines()[0]) < 400  # names the value, does not echo 5000 digits twice
    assert tree(tmp_path) == before


def test_a_configured_address_that_is_not_one_is_refused_too(tmp_path: Path) -> None:
    """Not only --listen: a daemon.json address the plan would keep is checked the same way."""
    root = host_root(tmp_path, '{"hosts": ["tcp://10.77.240.999:2376"]}\n')
    before = tree(tmp_path)
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "mtls")
    one_clear_error(r, "'10.77.240.999'", "not an IPv4 address", "--listen 10.0.0.5:2376")
    assert tree(tmp_path) == before


# -- versions and numbers -----------------------------------------------------------------------
@pytest.mark.parametrize("version", ["²⁷", "٢٧.1", "27abc", "banana", "9" * 5000],
                         ids=["superscript", "arabic-indic", "suffix", "word", "5000-digits"])
def test_docker_version_junk_is_refused(tmp_path: Path, version: str) -> None:
    root = host_root(tmp_path)
    before = tree(tmp_path)
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "tls", "--docker-version", version)
    one_clear_error(r, "is not a version", "27.3.1")
    assert tree(tmp_path) == before


def test_a_5000_digit_number_in_daemon_json(tmp_path: Path) -> None:
    """dockerd 28.5.2 --validate: "cannot unmarshal number 1000... into ... float64"."""
    root = host_root(tmp_path, '{\n  "mtu": 1' + "0" * 4999 + "\n}\n")
    before = tree(tmp_path)
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "unix")
    one_clear_error(r, "daemon.json:2:10", "too large")
    r = dockwiz_cli("inspect", "--root", str(root), "--json")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    state = HostState.model_validate_json(r.stdout)
    error = state.daemon_json.error
    assert error is not None and (error.line, error.col) == (2, 10)
    assert tree(tmp_path) == before


# -- where the plan goes, which host it is about ------------------------------------------------
def test_save_into_a_missing_directory_is_refused(tmp_path: Path) -> None:
    root = host_root(tmp_path)
    before = tree(tmp_path)
    target = tmp_path / "no-such-dir" / "mtls.plan"
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "unix", "--save", str(target))
    one_clear_error(r, str(target.parent), "does not exist", "mkdir -p")
    assert tree(tmp_path) == before and not target.parent.exists()


def test_save_onto_a_directory_is_refused(tmp_path: Path) -> None:
    root = host_root(tmp_path)
    (tmp_path / "plans").mkdir()
    before = tree(tmp_path)
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "unix", "--save",
                    str(tmp_path / "plans"))
    one_clear_error(r, "is a directory", f"--save {tmp_path / 'plans' / 'mtls.plan'}")
    assert tree(tmp_path) == before
    # and the parent of the parent gets no stray temp file either (the old crash left none, but
    # it tried to create one next to the directory)
    assert not list(tmp_path.glob(".*dwtmp*"))


def test_save_with_a_space_prints_a_command_that_pastes(tmp_path: Path) -> None:
    root = host_root(tmp_path)
    target = tmp_path / "my plans" / "a b.plan"
    target.parent.mkdir()
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "unix", "--save", str(target))
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "apply it with:" in x)
    assert shlex.split(line.split("apply it with:", 1)[1]) == ["dockwiz", "apply", str(target)]


def test_a_missing_root_is_not_no_changes(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    r = dockwiz_cli("plan", "--root", str(missing), "--mode", "unix")
    one_clear_error(r, f"host root {missing}", "does not exist", "--root")
    assert not missing.exists()


def test_a_root_without_etc_is_not_a_host(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    before = tree(tmp_path)
    r = dockwiz_cli("plan", "--root", str(tmp_path / "empty"), "--mode", "unix")
    one_clear_error(r, "has no /etc")
    assert tree(tmp_path) == before


# -- values printed into command lines ----------------------------------------------------------
def test_a_hostile_ssh_user_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    root = host_root(tmp_path)
    marker = tmp_path / "x"
    before = tree(tmp_path)
    user = f'a"; touch {marker}; echo "'
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "ssh", "--ssh-user", user)
    one_clear_error(r, "invalid SSH user name", "--ssh-user admin")
    assert tree(tmp_path) == before and not marker.exists()


def test_the_ssh_context_line_is_one_safe_command(tmp_path: Path) -> None:
    root = host_root(tmp_path)
    r = dockwiz_cli("plan", "--root", str(root), "--mode", "ssh", "--ssh-user", "deploy.bot",
                    "--listen", "[fd00::5]")
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "docker context create" in x)
    argv = shlex.split(line[line.index("docker context create"):])
    assert argv == ["docker", "context", "create", "fd00-5-ssh", "--docker",
                    "host=ssh://deploy.bot@[fd00::5]"]


# -- a global option before the command (issue 11) -----------------------------------------------
def test_root_before_the_command_works(tmp_path: Path) -> None:
    root = host_root(tmp_path)
    r = dockwiz_cli("--root", str(root), "inspect", "--json")
    assert r.returncode == 0, r.stderr
    assert HostState.model_validate_json(r.stdout).root == str(root.resolve())
    r = dockwiz_cli(f"--root={root}", "certs", "show", "--json")
    assert r.returncode == 0, r.stderr
    r = dockwiz_cli("--root", str(root), "plan", "--mode", "unix", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["intent"]["mode"] == "unix", r.stderr


def test_an_option_a_command_does_not_take_says_where_options_go(tmp_path: Path) -> None:
    r = dockwiz_cli("--root", str(tmp_path), "lab", "list")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--root is not an option of 'dockwiz lab list'" in r.stderr
    assert "options go after the command" in r.stderr


# -- as a normal user ---------------------------------------------------------------------------
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture(scope="module")
def nobody_python() -> str:
    """An interpreter 'nobody' can run: this machine's own Python lives under /root (0700)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to 'nobody'")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, shutil.which(version), f"/usr/bin/{version}"):
        if candidate and dockwiz_cli("--version", prefix=NOBODY, python=candidate).returncode == 0:
            return candidate
    pytest.fail(f"no {version} that uid 65534 can run (install Debian's {version})")


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temp dir 'nobody' can enter (pytest's tmp_path sits under a 0700 root directory)."""
    with tempfile.TemporaryDirectory(prefix="dw-cli-input-") as d:
        os.chmod(d, 0o755)
        yield Path(d)


def applied_lab_dir(base: Path) -> Path:
    """A lab directory as root leaves it after an apply: root's journal in a 0700 state dir.

    This layout is what made every host command die with PermissionError as a normal user; the
    refusal itself never reads it (tests/e2e start real labs, a unit test need not).
    """
    lab = base / "lab"
    state = lab / "root" / "var" / "lib" / "dockwiz"
    state.mkdir(parents=True)
    state.chmod(0o700)
    (state / "journal.json").write_text("{}")
    (state / "journal.json").chmod(0o600)
    (lab / "lab.json").write_text("{}")
    return lab


@pytest.mark.parametrize("argv", [
    ["inspect", "--lab", "{lab}"],
    ["plan", "--lab", "{lab}", "--mode", "unix"],
    ["apply", "--lab", "{lab}", "--mode", "unix", "--yes"],
    ["verify", "--lab", "{lab}"],
    ["rollback", "--lab", "{lab}"],
    ["recover", "--lab", "{lab}", "--yes"],
    ["lab", "list"],
    ["lab", "status", "--dir", "{lab}"],
    ["apply", "--root", "{lab}/root", "--mode", "unix", "--yes"],
    ["rollback", "--root", "{lab}/root"],
])
def test_a_normal_user_is_told_to_run_as_root(
    shared_tmp: Path, nobody_python: str, argv: list[str],
) -> None:
    lab = applied_lab_dir(shared_tmp)
    before = tree(shared_tmp)
    real = [a.format(lab=lab) for a in argv]
    r = dockwiz_cli(*real, prefix=NOBODY, python=nobody_python)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "PermissionError" not in r.stderr, r.stderr
    assert "needs root" in r.stderr.splitlines()[0]
    assert f"fix: run it as root: sudo {shlex.join(['dockwiz', *real])}" in r.stderr
    assert tree(shared_tmp) == before


def test_inspect_as_a_normal_user_still_reads_what_it_can(
    shared_tmp: Path, nobody_python: str,
) -> None:
    """Reading a host stays allowed: the journal it cannot read is a note, not a crash."""
    root = applied_lab_dir(shared_tmp) / "root"
    (root / "etc" / "docker").mkdir(parents=True)
    (root / "etc" / "docker" / "daemon.json").write_text('{"hosts": ["tcp://0.0.0.0:2375"]}')
    before = tree(shared_tmp)
    r = dockwiz_cli("inspect", "--root", str(root), "--json", prefix=NOBODY, python=nobody_python)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "cannot tell whether an apply is running or was interrupted" in r.stderr
    assert "journal.json" in r.stderr
    state = HostState.model_validate_json(r.stdout)
    assert not state.is_root and any(f.id == "DW-TCP-PLAIN" for f in state.findings)
    assert tree(shared_tmp) == before


def test_atomic_write_onto_a_directory_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The core's writer refuses before its temp file exists (it used to create one in the
    directory's parent, '/' for --save /tmp, and remove it again after rename failed)."""
    from dockwiz import fsutil

    opened: list[str] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        opened.append(str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(fsutil.os, "open", spy)
    (tmp_path / "d").mkdir()
    before = tree(tmp_path)
    with pytest.raises(IsADirectoryError):
        fsutil.atomic_write(tmp_path / "d", "x", mode=0o600)
    assert opened == [] and tree(tmp_path) == before
