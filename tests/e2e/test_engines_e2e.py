"""Labs on Docker 20.10, 26.1 and 28.5: the engine asked for is the daemon that runs.

Engines come from Debian's archive into the engine cache on first use (a fresh machine fetches
them here, about 20 MB each; the cache keeps them between runs). Costs: a fd-socket start and a
restart per engine (~2 s each); the one slow case, plain TCP on a network address (dockerd's
deliberate ~16 s sleep, DOMAIN §1), runs on 28.5 only, where it matters (the documented "27.0
and later fail to start" is what that daemon must be checked against).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from dockwiz.dockerapi import get_unix, ping_unix, plain_http
from dockwiz.errors import DockwizError
from dockwiz.lab.engines import ENGINES, ensure_engine
from dockwiz.lab.lab import Lab, LabServiceManager
from dockwiz.netns import run_in_netns
from dockwiz.procnet import listeners_of
from dockwiz.services import dockerd_runner

pytestmark = pytest.mark.e2e

# what `dockerd --version` and GET /version say for each engine (measured 2026-12-02)
DOCKERD_VERSION = {"20.10": "20.10.24+dfsg1", "26.1": "26.1.5+dfsg1", "28.5": "28.5.2+dfsg4"}
API_VERSION = {"20.10": "1.41", "26.1": "1.45", "28.5": "1.51"}
CLI = [sys.executable, "-m", "dockwiz", "lab"]
HOSTS_CONFLICT = "the following directives are specified both as a flag and in the configuration"

EngineLab = Callable[[str, str], Lab]


@pytest.fixture
def engine_lab(lab_factory: Callable[..., Lab]) -> EngineLab:
    """``engine_lab(scenario, docker) -> Lab``: conftest's lab_factory on a chosen engine."""
    return lambda scenario, docker: lab_factory(scenario, docker=docker)


def _version(lab: Lab) -> dict[str, object]:
    data = json.loads(get_unix(lab.unix_socket_path(), "/version").body)
    assert isinstance(data, dict)
    return data


def _cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.mark.parametrize("docker", list(ENGINES))
def test_fd_socket_lab_runs_the_engine_asked_for_and_restarts(engine_lab: EngineLab,
                                                              docker: str) -> None:
    lab = engine_lab("fd-socket", docker)
    assert lab.info.state == "running", lab.info.error
    assert ping_unix(lab.unix_socket_path()).ok
    version = _version(lab)
    assert version["Version"] == DOCKERD_VERSION[docker]
    assert version["ApiVersion"] == API_VERSION[docker]
    assert lab.info.dockerd_version == DOCKERD_VERSION[docker]
    assert lab.info.engine == docker
    # the process answering is the engine's binary, not whatever dockerd is first on PATH
    assert lab.info.pid is not None
    assert os.path.realpath(psutil.Process(lab.info.pid).exe()) == os.path.realpath(
        ensure_engine(docker).dockerd)
    # ... with bookworm's containerd as its managed containerd (the engine brings none)
    children = {os.path.basename(c.exe()): c.exe() for c in psutil.Process(lab.info.pid).children()}
    assert children.get("containerd") == "/usr/bin/containerd", children
    old_pid = lab.info.pid

    restarted = _cli("restart", "--dir", str(lab.dir))
    assert restarted.returncode == 0, restarted.stderr
    assert f"Docker {DOCKERD_VERSION[docker]}" in restarted.stdout
    lab.refresh()
    assert lab.info.state == "running" and lab.info.pid != old_pid
    assert _version(lab)["Version"] == DOCKERD_VERSION[docker]
    print(f"\n{docker}: fd-socket start to /_ping {lab.info.start_seconds} s after restart")


def test_systemctl_shim_follows_a_tutorial_literally_on_28_5(engine_lab: EngineLab) -> None:
    """The hosts conflict and Docker's documented fix, typed as a tutorial says, on 28.5."""
    lab = engine_lab("fd-socket", "28.5")
    (lab.root / "etc/docker/daemon.json").write_text(json.dumps(
        {"hosts": ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"]}))
    failed = _cli("run", "--dir", str(lab.dir), "--", "systemctl", "restart", "docker")
    assert failed.returncode == 1
    assert "Job for docker.service failed" in failed.stderr
    assert HOSTS_CONFLICT in failed.stderr  # dockerd's own words, as journalctl would show

    script = (
        "mkdir -p /etc/systemd/system/docker.service.d && "
        "printf '[Service]\\nExecStart=\\nExecStart=/usr/sbin/dockerd "
        "--containerd=/run/containerd/containerd.sock\\n' "
        "> /etc/systemd/system/docker.service.d/override.conf && "
        "systemctl daemon-reload && systemctl restart docker && systemctl status docker; "
        "echo status=$?; systemctl cat docker; systemctl is-active docker; "
        "systemctl frobnicate docker; echo frob=$?; command -v dockerd"
    )
    ok = _cli("run", "--dir", str(lab.dir), "--", "sh", "-c", script)
    assert ok.returncode == 0, ok.stderr
    out = ok.stdout
    assert "Active: active (running)" in out and "status=0" in out
    assert "(dockwiz lab, Docker 28.5.2+dfsg4)" in out
    assert "Listen: tcp 127.0.0.1:2375" in out
    assert "# /etc/systemd/system/docker.service.d/override.conf" in out
    assert "\nactive\n" in out
    assert "frob=1" in out and "not 'frobnicate'" in ok.stderr
    assert out.strip().endswith(ensure_engine("28.5").dockerd)
    lab.refresh()
    ports = {li.port for li in listeners_of(lab.info.pid or 0).listeners if li.kind == "tcp"}
    assert ports == {2375}
    # the drop-in written by hand in the lab landed in the sandbox, not in this machine's /etc
    assert (lab.root / "etc/systemd/system/docker.service.d/override.conf").is_file()
    assert not Path("/etc/systemd/system/docker.service.d/override.conf").exists()

    status = _cli("status", "--dir", str(lab.dir), "--json")
    now = json.loads(status.stdout)["now"]
    assert now["listeners"][0] == "tcp 127.0.0.1:2375"
    assert now["daemon_json_hosts"] == ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"]
    assert now["exec_start_source"].endswith("override.conf")


def test_validate_runs_in_the_lab_namespace_with_the_lab_engine(engine_lab: EngineLab) -> None:
    """Apply's validate on a 28.5 mTLS lab: the TLS files exist only inside the lab."""
    lab = engine_lab("mtls", "28.5")
    config = json.loads((lab.root / "etc/docker/daemon.json").read_text())
    assert Path(config["tlscert"]).is_absolute()
    assert not Path(config["tlscert"]).exists(), "the premise: the machine has no such file"
    services = dockerd_runner(lab.host())  # what apply's validate step asks for
    assert isinstance(services, LabServiceManager)
    assert services.dockerd_version() == "28.5.2+dfsg4"

    good = services.run_dockerd(["--validate", "--config-file", "/etc/docker/daemon.json"])
    assert good.ok, good.stderr
    assert "configuration OK" in good.stderr + good.stdout
    assert good.argv[0] == ensure_engine("28.5").dockerd

    (lab.root / "etc/docker/bad.json").write_text(json.dumps({**config, "bogus-key": 1}))
    bad = services.run_dockerd(["--validate", "--config-file", "/etc/docker/bad.json"])
    assert not bad.ok
    assert "the following directives don't match any configuration option: bogus-key" in (
        bad.stderr + bad.stdout)
    assert services.is_active()  # validating never touched the running daemon


def test_plain_tcp_starts_on_28_5_after_its_deliberate_sleep(engine_lab: EngineLab) -> None:
    """DOMAIN §1: 28.5.2 starts with plain TCP on a network address (documented: it would
    not), after four warnings and ~16 s; inspect reads the version from that very daemon."""
    from dockwiz.inspect import inspect_host

    lab = engine_lab("insecure-tcp", "28.5")
    assert lab.info.state == "running", lab.info.error
    assert lab.info.start_seconds is not None
    print(f"\n28.5 insecure-tcp: start to /_ping {lab.info.start_seconds} s")
    assert 15.0 <= lab.info.start_seconds < 30.0
    log = (lab.dir / "dockerd.log").read_text()
    assert "Binding to an IP address without --tlsverify is deprecated" in log
    response = run_in_netns(lab.info.netns,
                            lambda: plain_http(lab.info.address, 2375, "/version"))
    assert json.loads(response.body)["Version"] == "28.5.2+dfsg4"
    state = inspect_host(lab.host())
    assert state.version.api_server == "28.5.2+dfsg4"
    assert state.version.binary == "28.5.2+dfsg4"


def test_unknown_engine_and_unreachable_archive_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(DockwizError, match=r"unknown Docker engine '27\.0'") as caught:
        ensure_engine("27.0")
    assert "20.10, 26.1, 28.5" in (caught.value.hint or "")

    env = {**os.environ, "DOCKWIZ_ENGINE_CACHE": str(tmp_path / "cache"),
           "DOCKWIZ_DEBIAN_MIRROR": "http://127.0.0.1:9/debian"}  # nothing listens on 9
    lab_dir = tmp_path / "lab"
    out = subprocess.run([*CLI, "up", "--dir", str(lab_dir), "--scenario", "fd-socket",
                          "--docker", "26.1"], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert out.returncode != 0
    assert "cannot reach Debian's archive at http://127.0.0.1:9/debian (trixie)" in out.stderr
    assert "Traceback" not in out.stderr
    assert not lab_dir.exists()  # nothing of a lab was made
    assert not list((tmp_path / "cache").glob("26.1*"))


def test_lab_engines_lists_each_engine_cached_with_its_exact_version() -> None:
    for key in ENGINES:
        ensure_engine(key)  # a fresh machine fetches here; then each is cached or the machine's
    out = _cli("engines", "--json")
    assert out.returncode == 0, out.stderr
    rows = {row["key"]: row for row in json.loads(out.stdout)}
    assert set(rows) == set(ENGINES)
    for key, row in rows.items():
        assert row["source"] in ("machine", "cache")
        assert row["dockerd_version"] == DOCKERD_VERSION[key]
        assert row["size_bytes"] > 10_000_000
        if row["source"] == "cache":
            assert row["package_version"] == ENGINES[key].package_version
            record = json.loads((Path(row["path"]) / "engine.json").read_text())
            assert len(record["sha256"]) == 64 and record["suite"] == ENGINES[key].suite
