"""verify names where a TCP listener comes from and the exact edit that removes it (issue 12 §1).

"Run dockwiz plan --mode unix" alone is no answer when the listener comes from a place the admin
does not see: a packaged drop-in that sorts after ours, a docker.socket ListenStream, DOCKER_OPTS
in /etc/default/docker. Each source is checked on real files under a root, read as the daemon's
next start reads them (effective.derive); only the running dockerd, which no file shows, is
given as a HostState. Then the whole path (inspect, a real plain-HTTP listener, verify's probes)
once for /etc/default/docker and a packaged drop-in using combined short flags.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from verify_helpers import api_handler, serving

from dockwiz.docker_paths import DAEMON_JSON, DROPIN_DIR, SOCKET_URL, SYSV_DEFAULTS
from dockwiz.dockerapi import ProbeError, ProbeErrorKind, parse_endpoint
from dockwiz.host import Host
from dockwiz.models.host_state import DaemonJsonState, DaemonProcess, HostState
from dockwiz.systemd import render_exec
from dockwiz.verify import verify_host
from dockwiz.verify.context import Ctx, Target
from dockwiz.verify.explain import explain_cli_failure, explain_tls_failure
from dockwiz.verify.sources import TcpSource, removal, sources_for, tcp_sources

PACKAGED_UNIT = "/lib/systemd/system/docker.service"
PACKAGED_SOCKET = "/lib/systemd/system/docker.socket"
STOCK_ARGV = ["/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"]
SYSV_SCRIPT = "/etc/init.d/docker"


def _unit(argv: list[str], extra: str = "") -> str:
    return f"[Unit]\nDescription=Docker\n[Service]\n{extra}ExecStart={render_exec(argv)}\n"


def tree(
    tmp_path: Path,
    *,
    hosts: list[str] | None = None,
    argv: list[str] | None = None,
    argv_from: str = PACKAGED_UNIT,
    listen_stream: list[str] | None = None,
    unit: bool = True,
    files: dict[str, str] | None = None,
) -> Host:
    """The host's files under a root, as effective.derive reads them: the packaged unit (its
    ExecStart, or one reset in the drop-in ``argv_from``), docker.socket, daemon.json."""
    data = {"hosts": hosts} if hosts is not None else {}
    laid: dict[str, str] = {DAEMON_JSON: json.dumps(data)}
    if unit:
        argv = argv or STOCK_ARGV
        if argv_from == PACKAGED_UNIT:
            laid[PACKAGED_UNIT] = _unit(argv)
        else:
            laid[PACKAGED_UNIT] = _unit(STOCK_ARGV)
            laid[argv_from] = f"[Service]\nExecStart=\nExecStart={render_exec(argv)}\n"
        streams = listen_stream or ["/run/docker.sock"]
        laid[PACKAGED_SOCKET] = "[Socket]\n" + "".join(f"ListenStream={s}\n" for s in streams)
    return _root(tmp_path, {**laid, **(files or {})})


def running(pid: int, argv: list[str]) -> HostState:
    """What only inspect sees, never a file: the dockerd running now."""
    return HostState(root="/", is_root=True, docker_installed=True, daemon_running=True,
                     daemon_json=DaemonJsonState(path=DAEMON_JSON, exists=True),
                     process=DaemonProcess(pid=pid, argv=argv))


def texts(host: Host, dial: str = "127.0.0.1", port: int = 2375,
          state: HostState | None = None) -> tuple[str, str]:
    found = sources_for(tcp_sources(host, state), dial, port)
    assert found, "the source was not found"
    return removal(found, state, port)


def test_daemon_json_hosts_names_the_file_and_the_entry(tmp_path: Path) -> None:
    where, fix = texts(tree(tmp_path, hosts=[SOCKET_URL, "tcp://0.0.0.0:2375"]), dial="10.0.0.5")
    assert f'"hosts" in {DAEMON_JSON}' in where and "tcp://0.0.0.0:2375" in where
    assert f'remove "tcp://0.0.0.0:2375" from "hosts" in {DAEMON_JSON} (keep "{SOCKET_URL}"' in fix
    assert fix.endswith("then systemctl restart docker (or let dockwiz do it: dockwiz plan "
                        "--mode unix, then dockwiz apply)")


def test_flag_in_the_packaged_unit_is_overridden_by_a_dropin_never_edited(
    tmp_path: Path,
) -> None:
    where, fix = texts(tree(tmp_path, argv=[*STOCK_ARGV, "-H", "tcp://0.0.0.0:2375"]))
    assert f"-H tcp://0.0.0.0:2375 in the ExecStart of {PACKAGED_UNIT}:4" in where
    assert f"drop-in {DROPIN_DIR}/override.conf" in fix and '"ExecStart="' in fix
    assert f"never edit the packaged {PACKAGED_UNIT}" in fix
    assert "systemctl daemon-reload && systemctl restart docker" in fix


def test_packaged_dropin_sorting_after_ours_is_masked_from_etc(tmp_path: Path) -> None:
    """Issue 12 §1: /lib/.../docker.service.d/zzz-tcp.conf resets ExecStart with ``-DH`` (debug
    and host combined, as pflag reads them) and wins over /etc's dockwiz.conf by sorting last."""
    lib_dropin = "/lib/systemd/system/docker.service.d/zzz-tcp.conf"
    ours = {f"{DROPIN_DIR}/dockwiz.conf": "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd "
                                          "-H fd://\n"}
    host = tree(tmp_path, argv=["/usr/sbin/dockerd", "-DH", "tcp://0.0.0.0:2375"],
                argv_from=lib_dropin, files=ours)
    where, fix = texts(host)
    assert f"in the ExecStart of {lib_dropin}:3" in where
    assert f"mask the packaged drop-in {lib_dropin}" in fix
    assert f"an empty {DROPIN_DIR}/zzz-tcp.conf" in fix


def test_flag_in_an_admin_dropin_is_removed_there(tmp_path: Path) -> None:
    dropin = "/etc/systemd/system/docker.service.d/tcp.conf"
    where, fix = texts(tree(tmp_path, argv=[*STOCK_ARGV, "--host=tcp://127.0.0.1:2375"],
                            argv_from=dropin))
    assert f"in the ExecStart of {dropin}" in where
    assert f"remove -H tcp://127.0.0.1:2375 from the ExecStart in {dropin}" in fix


def test_docker_opts_in_etc_default_docker_is_named_not_the_unit(tmp_path: Path) -> None:
    """Debian's unit passes $DOCKER_OPTS: the flag is in the expanded ExecStart, but the edit
    belongs in /etc/default/docker."""
    host = tree(tmp_path, unit=False, files={
        PACKAGED_UNIT: DEBIAN_UNIT,
        SYSV_DEFAULTS: 'DOCKER_OPTS="--debug -H tcp://0.0.0.0:2375"\n',
    })
    where, fix = texts(host)
    assert f"DOCKER_OPTS in {SYSV_DEFAULTS}" in where and "ExecStart" not in where
    assert f"remove -H tcp://0.0.0.0:2375 from DOCKER_OPTS in {SYSV_DEFAULTS}" in fix


def test_etc_default_docker_without_a_unit_is_the_source(tmp_path: Path) -> None:
    host = tree(tmp_path, unit=False, files={
        SYSV_SCRIPT: "#!/bin/sh\n. /etc/default/docker\nexec dockerd $DOCKER_OPTS\n",
        SYSV_DEFAULTS: "DOCKER_OPTS='-H \"tcp://0.0.0.0:2375\"'\n",
    })
    where, fix = texts(host)
    assert f"DOCKER_OPTS in {SYSV_DEFAULTS}" in where
    assert "then restart dockerd" in fix


@pytest.mark.parametrize("stream", ["2375", "0.0.0.0:2375", "[::]:2375", "127.0.0.1:2375"])
def test_socket_listen_stream_names_docker_socket(tmp_path: Path, stream: str) -> None:
    """Issue 12 §1: a second ListenStream reaches dockerd through -H fd://; the plan and inspect
    loop ("run plan --mode unix") ends with the line to delete and the socket to restart."""
    where, fix = texts(tree(tmp_path, listen_stream=["/run/docker.sock", stream]))
    assert f"ListenStream={stream} of docker.socket ({PACKAGED_SOCKET}:3)" in where
    assert f"delete ListenStream={stream}" in fix
    assert '"ListenStream=", "ListenStream=/run/docker.sock"' in fix
    assert "systemctl restart docker.socket docker" in fix


def test_listen_stream_in_an_admin_socket_dropin_is_deleted_at_its_line(tmp_path: Path) -> None:
    """effective.derive knows the file and line of each ListenStream: an /etc drop-in is edited
    where the line is, not reset from yet another drop-in."""
    dropin = "/etc/systemd/system/docker.socket.d/tcp.conf"
    host = tree(tmp_path, files={dropin: "[Socket]\n# admin's extra port\nListenStream=2375\n"})
    where, fix = texts(host)
    assert f"ListenStream=2375 of docker.socket ({dropin}:3)" in where
    assert fix.startswith(f"delete ListenStream=2375 at {dropin}:3; then systemctl daemon-reload")


def test_environment_line_in_a_unit_is_named_with_its_line(tmp_path: Path) -> None:
    """-H in a variable set by Environment= in an admin drop-in: that line is the edit."""
    dropin = f"{DROPIN_DIR}/env.conf"
    host = tree(tmp_path, files={
        PACKAGED_UNIT: "[Service]\nExecStart=/usr/sbin/dockerd -H fd:// $EXTRA\n",
        dropin: '[Service]\nEnvironment="EXTRA=-H tcp://127.0.0.1:2375"\n',
    })
    where, fix = texts(host)
    assert f"-H tcp://127.0.0.1:2375 in EXTRA set by Environment= at {dropin}:2" in where
    assert f"remove -H tcp://127.0.0.1:2375 from EXTRA in the Environment= at {dropin}:2" in fix
    assert "systemctl daemon-reload && systemctl restart docker" in fix


def test_a_listener_only_the_running_daemon_has_names_its_pid(tmp_path: Path) -> None:
    where, fix = texts(tree(tmp_path),
                       state=running(4242, [*STOCK_ARGV, "-H", "tcp://0.0.0.0:2375"]))
    assert "the running dockerd's command line (pid 4242" in where
    assert "kill 4242" in fix and "plan --mode" not in fix


def test_no_source_sends_to_ss_not_to_a_plan(tmp_path: Path) -> None:
    host = tree(tmp_path)
    assert sources_for(tcp_sources(host), "127.0.0.1", 2375) == []
    where, fix = removal([], None, 2375)
    assert "another process holds the port" in where
    assert "ss -ltnp 'sport = :2375'" in fix and "dockwiz plan" not in fix


def test_sources_of_another_address_or_port_are_not_blamed(tmp_path: Path) -> None:
    host = tree(tmp_path / "a", hosts=["tcp://10.0.0.5:2375", "tcp://127.0.0.1:2376"])
    assert [s.address for s in sources_for(tcp_sources(host), "127.0.0.1", 2376)] == [
        "tcp://127.0.0.1:2376"]
    loop = tcp_sources(tree(tmp_path / "b", hosts=["tcp://localhost:2375",
                                                   "tcp://10.0.0.5:2375"]))
    assert [s.address for s in sources_for(loop, "127.0.0.1", 2375)] == ["tcp://localhost:2375"]
    assert all(isinstance(s, TcpSource) for s in loop)
    named = tcp_sources(tree(tmp_path / "c", hosts=["tcp://docker.example:2375"]))
    assert sources_for(named, "10.0.0.5", 2375) and not sources_for(named, "127.0.0.1", 2375)


def test_plain_tcp_seen_by_our_client_or_the_cli_names_the_source(tmp_path: Path) -> None:
    """In a TLS mode a port that answers in plain text is explained with its source too."""
    host = tree(tmp_path, argv=[*STOCK_ARGV, "-H", "tcp://0.0.0.0:2376"],
                argv_from="/etc/systemd/system/docker.service.d/tcp.conf")
    ep = parse_endpoint("tcp://0.0.0.0:2376")
    ctx = Ctx(host=host, state=None, mode="mtls", detected="mtls", endpoints=[ep],
              unix=[], tcp=[ep], targets=[Target(ep, "127.0.0.1")], addresses=[],
              bundle_dir=tmp_path, bundle_shown="b", bundle=None, bundle_problem=None,
              server_ca=None, scratch=tmp_path, tcp_sources=tcp_sources(host))
    ours = explain_tls_failure(ProbeError(ProbeErrorKind.NOT_TLS, "x"), ctx, ctx.targets[0],
                               sent_client_cert=True)
    cli = explain_cli_failure("server gave HTTP response to HTTPS client", ctx, "127.0.0.1",
                              2376)
    for why in (ours, cli):
        assert why.failure_id == "plain-tcp"
        assert "docker.service.d/tcp.conf" in why.cause and "--mode mtls" in why.fix
        assert "remove -H tcp://0.0.0.0:2376 from the ExecStart in" in why.fix


# -- through inspect and the probes ------------------------------------------------------------
def _root(tmp_path: Path, files: dict[str, str]) -> Host:
    root = tmp_path / "root"
    for path, text in files.items():
        local = root / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(text)
    (root / "var/run").mkdir(parents=True, exist_ok=True)
    return Host(root)


DEBIAN_UNIT = """[Unit]
Description=Docker Application Container Engine
[Service]
EnvironmentFile=-/etc/default/docker
ExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS
"""


LIB_DROPIN = "/lib/systemd/system/docker.service.d/zzz-tcp.conf"


@pytest.mark.parametrize(
    ("files", "cause", "fix"),
    [
        pytest.param({SYSV_DEFAULTS: 'DOCKER_OPTS="-H tcp://127.0.0.1:{port}"\n'},
                     f"DOCKER_OPTS in {SYSV_DEFAULTS}",
                     "remove -H tcp://127.0.0.1:{port} from DOCKER_OPTS in " + SYSV_DEFAULTS,
                     id="etc-default-docker"),
        pytest.param({f"{DROPIN_DIR}/dockwiz.conf":
                      "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd://\n",
                      LIB_DROPIN: "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -DH "
                                  "tcp://127.0.0.1:{port}\n"},
                     f"ExecStart of {LIB_DROPIN}", f"an empty {DROPIN_DIR}/zzz-tcp.conf",
                     id="packaged-dropin-with-combined-short-flags"),
    ],
)
def test_verify_names_the_source_of_a_real_listener(
    tmp_path: Path, files: dict[str, str], cause: str, fix: str
) -> None:
    """The files under a root as inspect reads them, a real plain API on the port they name:
    every probe that finds the listener left names the file and the edit."""
    with serving(api_handler) as srv:
        port = srv.port
        host = _root(tmp_path, {
            PACKAGED_UNIT: DEBIAN_UNIT, DAEMON_JSON: json.dumps({}),
            **{path: text.replace("{port}", str(port)) for path, text in files.items()},
        })
        report = verify_host(host, use_docker_cli=False, expected_mode="unix")
    left = [p for p in report.failed
            if p.target == f"tcp://127.0.0.1:{port}" and p.failure_id == "tcp-listener-left"]
    assert left, "the plain listener was not reported as left"
    for probe in left:
        assert cause in (probe.cause or "")
        assert fix.replace("{port}", str(port)) in (probe.fix or "")
