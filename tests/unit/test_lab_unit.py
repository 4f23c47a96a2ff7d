"""Lab pieces that need no root: scenarios, the command-line translation, log reading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockwiz.lab.lab import SCENARIOS, Lab, LabInfo, _failure_reason, lab_argv


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
