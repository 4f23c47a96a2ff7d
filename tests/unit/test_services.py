"""The service managers issue exactly the commands an admin would, in the order that is safe."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from dockwiz.errors import DockwizError
from dockwiz.host import CommandResult, Host
from dockwiz.services import SystemdManager, SysVManager, choose_manager


class RecordingHost(Host):
    """A sandbox Host whose commands are recorded and answered from a script, not run."""

    def __init__(self, root: Path, answers: Mapping[str, CommandResult] | None = None) -> None:
        super().__init__(root)
        self.calls: list[list[str]] = []
        self.answers = dict(answers or {})

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
        in_netns: bool = False,
        input_text: str | None = None,
    ) -> CommandResult:
        assert timeout > 0, "every command needs a timeout"
        self.calls.append(list(argv))
        key = " ".join(argv)
        for prefix, answer in self.answers.items():
            if key.startswith(prefix):
                return dataclasses.replace(answer, argv=list(argv))
        return CommandResult(argv=list(argv), returncode=0, stdout="", stderr="", duration_s=0.0)


def _fail(stderr: str = "", stdout: str = "", code: int = 1) -> CommandResult:
    return CommandResult(argv=[], returncode=code, stdout=stdout, stderr=stderr, duration_s=0.0)


def _loaded(state: str) -> CommandResult:
    return CommandResult(argv=[], returncode=0, stdout=f"{state}\n", stderr="", duration_s=0.0)


def test_systemd_restart_resets_the_start_rate_limit_first(tmp_path: Path) -> None:
    host = RecordingHost(tmp_path, {"systemctl show": _loaded("not-found")})
    result = SystemdManager(host).restart()
    assert result.ok
    assert host.calls == [
        ["systemctl", "show", "-p", "LoadState", "--value", "docker.socket"],
        ["systemctl", "reset-failed", "docker"],
        ["systemctl", "restart", "docker"],
    ]


def test_systemd_restart_rebinds_docker_socket_when_there_is_one(tmp_path: Path) -> None:
    """Without it, a rollback to -H fd:// leaves docker.socket with an unlinked path."""
    host = RecordingHost(tmp_path, {"systemctl show": _loaded("loaded")})
    assert SystemdManager(host).restart().ok
    assert host.calls[1:] == [
        ["systemctl", "reset-failed", "docker.socket"],  # socket activation hits it too
        ["systemctl", "reset-failed", "docker"],
        ["systemctl", "restart", "docker.socket", "docker"],
    ]


def test_systemd_failed_restart_carries_dockerd_log(tmp_path: Path) -> None:
    log = ('level=fatal msg="failed to start daemon: listen tcp 10.0.0.1:2376: bind: '
           'address already in use"')
    host = RecordingHost(tmp_path, {
        "systemctl show": _loaded("loaded"),
        "systemctl restart": _fail("Job for docker.service failed because the control process "
                                   "exited with error code."),
        "journalctl": CommandResult(argv=[], returncode=0, stdout=log, stderr="", duration_s=0.0),
    })
    result = SystemdManager(host).restart()
    assert not result.ok
    assert "address already in use" in result.stderr
    assert "Job for docker.service failed" in result.stderr
    assert host.calls[-1][:3] == ["journalctl", "-u", "docker"]


def test_systemd_daemon_reload_start_stop_is_active(tmp_path: Path) -> None:
    host = RecordingHost(tmp_path, {"systemctl is-active": _fail(code=3)})
    mgr = SystemdManager(host)
    mgr.daemon_reload()
    mgr.start()
    mgr.stop()
    assert mgr.is_active() is False
    assert host.calls == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "show", "-p", "LoadState", "--value", "docker.socket"],
        ["systemctl", "reset-failed", "docker"],
        ["systemctl", "start", "docker"],
        ["systemctl", "stop", "docker"],
        ["systemctl", "is-active", "--quiet", "docker"],
    ]


def test_systemd_reload_falls_back_to_sighup(tmp_path: Path) -> None:
    host = RecordingHost(tmp_path, {
        "systemctl reload": _fail("Job type reload is not applicable for unit docker.service."),
    })
    assert SystemdManager(host).reload().ok
    assert host.calls == [
        ["systemctl", "reload", "docker"],
        ["systemctl", "kill", "-s", "HUP", "--kill-who=main", "docker"],
    ]


def test_systemd_inside_a_container_uses_the_prefix(tmp_path: Path) -> None:
    host = RecordingHost(tmp_path)
    SystemdManager(host, prefix=["nsenter", "-t", "4242", "-a"]).daemon_reload()
    assert host.calls == [["nsenter", "-t", "4242", "-a", "systemctl", "daemon-reload"]]


def test_sysv_commands(tmp_path: Path) -> None:
    host = RecordingHost(tmp_path)
    mgr = SysVManager(host)
    assert mgr.daemon_reload().ok
    mgr.restart()
    mgr.reload()
    assert mgr.is_active()
    assert host.calls == [
        ["service", "docker", "restart"],
        ["service", "docker", "reload"],
        ["service", "docker", "status"],
    ]


def test_choose_refuses_to_restart_this_machine_for_a_sandbox(tmp_path: Path) -> None:
    with pytest.raises(DockwizError) as err:
        choose_manager(Host(tmp_path))
    assert "--lab" in (err.value.hint or "")


def test_choose_prefers_the_hosts_own_manager_and_honours_overrides(tmp_path: Path) -> None:
    own = SysVManager(Host(tmp_path))
    host = Host(tmp_path, services=own)
    assert choose_manager(host) is own
    assert isinstance(choose_manager(host, "systemd"), SystemdManager)
    assert isinstance(choose_manager(Host(tmp_path), "sysv"), SysVManager)
    with pytest.raises(DockwizError):
        choose_manager(host, "upstart")
    with pytest.raises(DockwizError):
        choose_manager(Host(tmp_path), "lab")
