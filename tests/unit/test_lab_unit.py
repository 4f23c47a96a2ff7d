"""Lab pieces that need no root: scenarios, the command-line translation, log reading."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockwiz.lab.lab import SCENARIOS, Lab, LabInfo, lab_argv
from dockwiz.lab.logs import failure_reason as _failure_reason


def _lab(tmp_path: Path) -> Lab:
    info = LabInfo(dir=str(tmp_path), root=str(tmp_path / "root"), scenario="fd-socket",
                   netns="dwlab-test", address="10.77.1.2",
                   socket=str(tmp_path / "root/run/docker.sock"))
    return Lab(tmp_path, info)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_daemon_json_is_strict_json_unless_the_mistake_is_the_point(name: str) -> None:
    spec = SCENARIOS[name]
    assert spec.daemon_json is not None
    if name == "commented-json":
        with pytest.raises(json.JSONDecodeError):
            json.loads(spec.daemon_json)
    else:
        assert isinstance(json.loads(spec.daemon_json), dict)
    if spec.expect_state == "failed":
        assert spec.expect_error


def test_lab_argv_keeps_unit_flags_and_translates_only_the_machine_bits(tmp_path: Path) -> None:
    unit = ["/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock",
            "--containerd", "/x.sock", "--tlsverify", "-D"]
    argv = lab_argv(_lab(tmp_path), unit, "/usr/sbin/dockerd")
    assert argv == ["/usr/sbin/dockerd", "-H", "fd://", "--tlsverify", "-D",
                    "--data-root", str(tmp_path / "data")]


def test_failure_reason_is_dockerds_last_word(tmp_path: Path) -> None:
    log = tmp_path / "dockerd.log"
    log.write_text(
        "old start\n--- dockwiz lab: starting dockerd\n"
        'time="t" level=info msg="Starting up"\n'
        "unable to configure the Docker daemon with file /etc/docker/daemon.json: bad\n"
    )
    assert _failure_reason(log, 10) == (
        "unable to configure the Docker daemon with file /etc/docker/daemon.json: bad"
    )
    log.write_text('time="t" level=fatal msg="failed to start: \\"x\\" gone"\n')
    assert _failure_reason(log, 0) == 'failed to start: "x" gone'


def test_docker_env_uses_a_short_socket_path_when_the_lab_dir_is_deep(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    lab = _lab(deep)
    env = lab.docker_env()
    assert env["DOCKER_HOST"] == "unix:///run/dockwiz/labs/dwlab-test/docker.sock"


# -- engines ------------------------------------------------------------------------------------
def test_engines_pin_the_measured_debian_packages() -> None:
    from dockwiz.lab.engines import ENGINES

    assert {k: (s.package_version, s.suite) for k, s in ENGINES.items()} == {
        "20.10": ("20.10.24+dfsg1-1+deb12u1+b6", "bookworm"),
        "26.1": ("26.1.5+dfsg1-9+deb13u1+b1", "trixie"),
        "28.5": ("28.5.2+dfsg4-5", "sid"),
    }


def test_unknown_engine_says_which_exist() -> None:
    from dockwiz.errors import DockwizError
    from dockwiz.lab.engines import spec_for

    with pytest.raises(DockwizError) as caught:
        spec_for("27")
    assert caught.value.message == "unknown Docker engine '27'"
    assert "20.10, 26.1, 28.5" in (caught.value.hint or "")


def _apt_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_mirror_is_the_debian_archive_the_machine_uses_deb822(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockwiz.lab.engines import debian_mirror

    monkeypatch.delenv("DOCKWIZ_DEBIAN_MIRROR", raising=False)
    apt = _apt_dir(tmp_path, {
        "sources.list.d/00-nodesource.sources":
            "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n",
        "sources.list.d/debian.sources":
            "Types: deb\n# a comment\nURIs: http://mirror.example.org/debian/\n"
            "Suites: bookworm\nComponents: main\n\n"
            "Types: deb\nURIs: http://mirror.example.org/debian-security\n"
            "Suites: bookworm-security\n",
        "sources.list.d/off.sources.disabled-by-farm":
            "Types: deb\nURIs: http://wrong.example.org/debian\n",
    })
    assert debian_mirror(apt) == "http://mirror.example.org/debian"


def test_mirror_from_one_line_sources_skips_options_and_deb_src(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockwiz.lab.engines import debian_mirror

    monkeypatch.delenv("DOCKWIZ_DEBIAN_MIRROR", raising=False)
    apt = _apt_dir(tmp_path, {"sources.list":
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] https://ftp.example.de/debian bookworm main\n"})
    assert debian_mirror(apt) == "https://ftp.example.de/debian"
    assert debian_mirror(tmp_path / "none") == "http://deb.debian.org/debian"
    monkeypatch.setenv("DOCKWIZ_DEBIAN_MIRROR", "http://127.0.0.1:9/debian/")
    assert debian_mirror(apt) == "http://127.0.0.1:9/debian"


# -- current state and the systemctl shim ---------------------------------------------------
def test_listeners_are_shown_as_an_admin_writes_them() -> None:
    from dockwiz.lab.current import _listener_text
    from dockwiz.models.host_state import Listener

    assert _listener_text(Listener(kind="tcp", address="tcp://[::]:2376", host="::",
                                   port=2376)) == "tcp [::]:2376"
    assert _listener_text(Listener(kind="tcp", address="x", host="10.77.1.2",
                                   port=2375)) == "tcp 10.77.1.2:2375"
    assert _listener_text(Listener(kind="unix", address="unix:///var/run/docker.sock")) == (
        "unix /var/run/docker.sock")
    assert _listener_text(Listener(kind="unix",
                                   address="unix:///var/run/docker/metrics.sock")) is None
    assert "docker.socket" in (_listener_text(
        Listener(kind="unix", address="unix:///proc/self/fd/4/docker.sock")) or "")


@pytest.mark.parametrize(("args", "code", "said"), [
    (["daemon-reload"], 0, ""),
    (["reload-or-restart", "docker"], 1, "not 'reload-or-restart'"),
    ([], 1, "not '(nothing)'"),
    (["restart"], 1, "Too few arguments"),
    (["restart", "containerd"], 5, "Unit containerd.service not found."),
    (["--no-pager", "status", "nginx.service"], 5, "Unit nginx.service not found."),
])
def test_systemctl_shim_refuses_what_it_does_not_do(
        tmp_path: Path, args: list[str], code: int, said: str) -> None:
    import io

    from dockwiz.lab.systemctl import systemctl

    out, err = io.StringIO(), io.StringIO()
    assert systemctl(_lab(tmp_path), args, out, err) == code
    assert said in err.getvalue()
    assert out.getvalue() == ""


def test_run_dockerd_and_engine_fields_survive_old_lab_json(tmp_path: Path) -> None:
    """A lab.json written before engines existed still loads and runs the machine's dockerd."""
    old = {"dir": str(tmp_path), "root": str(tmp_path / "root"), "scenario": "fd-socket",
           "netns": "dwlab-old", "address": "10.77.1.3", "socket": "/x/docker.sock"}
    info = LabInfo.model_validate(old)
    lab = Lab(tmp_path, info)
    assert info.engine is None and info.engine_path == []
    assert lab.daemon_path().startswith("/usr/sbin:")
    assert lab.host().which("dockerd") == lab.dockerd_binary()


def test_an_engine_cache_others_can_write_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root runs dockerd from the cache: a directory others could write is a way in."""
    from dockwiz.errors import DockwizError
    from dockwiz.lab.engines import _check_trusted

    cache = tmp_path / "open" / "engines"
    cache.mkdir(parents=True)
    _check_trusted(cache)  # root's, 0755: fine
    (tmp_path / "open").chmod(0o777)
    with pytest.raises(DockwizError, match="writable by others"):
        _check_trusted(cache)
    (tmp_path / "open").chmod(0o1777)  # sticky, like /tmp: others cannot replace our entries
    _check_trusted(cache)
    (tmp_path / "open").chmod(0o755)
    os.chown(cache, 65534, 65534)
    with pytest.raises(DockwizError, match="not owned by root"):
        _check_trusted(cache)


def test_the_lab_manager_is_a_dockerd_runner_and_the_others_are_not(tmp_path: Path) -> None:
    """Apply's validate asks services.dockerd_runner(host) whether to run dockerd in place."""
    from dockwiz.host import Host
    from dockwiz.services import DockerdRunner, SystemdManager, SysVManager, dockerd_runner

    host = _lab(tmp_path).host()
    assert isinstance(host.services, DockerdRunner)
    assert dockerd_runner(host) is host.services
    assert dockerd_runner(Host(tmp_path)) is None
    assert not isinstance(SystemdManager(Host(tmp_path)), DockerdRunner)
    assert not isinstance(SysVManager(Host(tmp_path)), DockerdRunner)


def test_fetch_without_debians_keyring_says_so_before_touching_anything(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockwiz.errors import DockwizError
    from dockwiz.lab import engines

    monkeypatch.setattr(engines, "KEYRING", str(tmp_path / "no-keyring.gpg"))
    monkeypatch.setenv("DOCKWIZ_ENGINE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DockwizError, match=r"archive keyring .* is missing") as caught:
        engines.fetch_engine(engines.ENGINES["28.5"])
    assert caught.value.hint == "apt-get install debian-archive-keyring"
    assert not (tmp_path / "cache").exists()
