"""effective.py: every listener source of the next start, from the files under the root only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockwiz.effective import derive, derive_after, forbidden_tcp, parse_listen_stream, parse_tcp
from dockwiz.host import Host
from dockwiz.models.plan import FileChange
from plan_helpers import DEBIAN_DOCKER_SOCKET, make_root, write

ETC_D = "/etc/systemd/system/docker.service.d"
LIB_D = "/lib/systemd/system/docker.service.d"


def exec_dropin(line: str) -> str:
    return f"[Service]\nExecStart=\nExecStart={line}\n"


def tcp(root: Path) -> list[tuple[str, str]]:
    return [(s.url, s.where) for s in derive(Host(root)).tcp]


def test_stock_host_has_only_the_activation_socket(tmp_path: Path) -> None:
    make_root(tmp_path, "{}\n", {})
    eff = derive(Host(tmp_path))
    assert eff.init == "systemd" and eff.exec_source == "/lib/systemd/system/docker.service"
    assert [(s.kind, s.url, s.via) for s in eff.sources] == [
        ("fd", "fd://", "flag"), ("unix", "unix:///run/docker.sock", "docker.socket")]
    assert eff.tcp == [] and eff.problems == []


def test_combined_short_flags_in_an_etc_dropin(tmp_path: Path) -> None:
    make_root(tmp_path, "{}\n", {"10-tcp.conf": exec_dropin(
        "/usr/sbin/dockerd -DH tcp://0.0.0.0:2375 -H fd://")})
    assert tcp(tmp_path) == [("tcp://0.0.0.0:2375", f"{ETC_D}/10-tcp.conf:3")]


def test_a_lib_dropin_sorting_last_wins_over_etc(tmp_path: Path) -> None:
    """systemd sorts drop-ins of all directories by file name: /lib's zzz-tcp.conf is last."""
    make_root(tmp_path, "{}\n", {"dockwiz.conf": exec_dropin("/usr/sbin/dockerd -H fd://")})
    write(tmp_path, f"{LIB_D}/zzz-tcp.conf",
          exec_dropin("/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2375"))
    assert tcp(tmp_path) == [("tcp://0.0.0.0:2375", f"{LIB_D}/zzz-tcp.conf:3")]


@pytest.mark.parametrize("mask", ["same-name", "dev-null"])
def test_a_same_named_etc_file_masks_the_lib_one(tmp_path: Path, mask: str) -> None:
    make_root(tmp_path, "{}\n", {})
    write(tmp_path, f"{LIB_D}/zzz-tcp.conf",
          exec_dropin("/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2375"))
    if mask == "same-name":
        write(tmp_path, f"{ETC_D}/zzz-tcp.conf", exec_dropin("/usr/sbin/dockerd -H fd://"))
    else:
        (tmp_path / ETC_D.lstrip("/")).mkdir(parents=True)
        os.symlink("/dev/null", tmp_path / ETC_D.lstrip("/") / "zzz-tcp.conf")
    assert tcp(tmp_path) == []


def test_run_dir_dropin_and_usr_lib_unit(tmp_path: Path) -> None:
    write(tmp_path, "/usr/lib/systemd/system/docker.service",
          "[Service]\nExecStart=/usr/bin/dockerd\n")
    write(tmp_path, "/run/systemd/system/docker.service.d/50-x.conf",
          exec_dropin("/usr/bin/dockerd -H127.0.0.1:2376"))
    assert tcp(tmp_path) == [("127.0.0.1:2376", "/run/systemd/system/docker.service.d/50-x.conf:3")]


def test_docker_opts_from_etc_default_is_attributed_to_that_file(tmp_path: Path) -> None:
    make_root(tmp_path, "{}\n", {})
    write(tmp_path, "/etc/default/docker", 'DOCKER_OPTS="-D -H tcp://0.0.0.0:2375"\n')
    assert tcp(tmp_path) == [("tcp://0.0.0.0:2375", "/etc/default/docker (DOCKER_OPTS)")]


def test_docker_opts_unused_by_the_unit_is_no_source(tmp_path: Path) -> None:
    make_root(tmp_path, "{}\n", {"o.conf": exec_dropin("/usr/sbin/dockerd -H fd://")})
    write(tmp_path, "/etc/default/docker", 'DOCKER_OPTS="-H tcp://0.0.0.0:2375"\n')
    assert tcp(tmp_path) == []


def test_socket_activation_hands_over_tcp_listen_streams(tmp_path: Path) -> None:
    make_root(tmp_path, "{}\n", {})
    write(tmp_path, "/etc/systemd/system/docker.socket.d/tcp.conf",
          "[Socket]\nListenStream=2375\nListenStream=10.0.0.5:2376\n")
    got = derive(Host(tmp_path)).tcp
    assert [(s.url, s.via, s.bind_key) for s in got] == [
        ("2375", "docker.socket", "*:2375"), ("10.0.0.5:2376", "docker.socket", "10.0.0.5:2376")]
    # a reset in a later drop-in leaves the unix socket only
    write(tmp_path, "/etc/systemd/system/docker.socket.d/z.conf",
          "[Socket]\nListenStream=\nListenStream=/run/docker.sock\n")
    assert tcp(tmp_path) == []


def test_listen_streams_without_fd_are_not_served(tmp_path: Path) -> None:
    make_root(tmp_path, "{}\n", {"o.conf": exec_dropin("/usr/sbin/dockerd")})
    write(tmp_path, "/lib/systemd/system/docker.socket",
          DEBIAN_DOCKER_SOCKET.replace("SocketMode", "ListenStream=2375\nSocketMode"))
    assert tcp(tmp_path) == []


def test_daemon_json_hosts_and_the_conflict(tmp_path: Path) -> None:
    make_root(tmp_path, '{"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]}\n',
              {"o.conf": exec_dropin("/usr/sbin/dockerd")})
    eff = derive(Host(tmp_path))
    assert [(s.url, s.where, s.active) for s in eff.tcp] == [
        ("tcp://0.0.0.0:2375", "/etc/docker/daemon.json (hosts[1])", True)]
    stock = make_root(tmp_path / "stock", '{"hosts": ["tcp://0.0.0.0:2375"]}\n', {})  # -H fd://
    eff = derive(Host(stock))
    assert [s.active for s in eff.tcp] == [False]  # dockerd does not start, yet it is a source
    assert any("specified both as a flag" in p for p in eff.problems)


def test_sysv_init_uses_docker_opts(tmp_path: Path) -> None:
    write(tmp_path, "/etc/init.d/docker", "DOCKER_OPTS=\n. /etc/default/docker\n$DOCKER_OPTS\n")
    write(tmp_path, "/etc/default/docker", "DOCKER_OPTS='-H tcp://0.0.0.0:2375 -H unix://'\n")
    eff = derive(Host(tmp_path))
    assert eff.init == "sysv"
    assert [(s.url, s.where) for s in eff.tcp] == [
        ("tcp://0.0.0.0:2375", "/etc/default/docker (DOCKER_OPTS)")]


def test_derive_after_sees_the_files_as_they_will_be(tmp_path: Path) -> None:
    make_root(tmp_path, "{}\n", {"10-tcp.conf": exec_dropin("/usr/sbin/dockerd -H fd:// -H :2375")})
    change = FileChange(path=f"{ETC_D}/10-tcp.conf", before=None, role="dropin", reason="t",
                        after=exec_dropin("/usr/sbin/dockerd -H fd://"))
    assert [s.url for s in derive(Host(tmp_path)).tcp] == [":2375"]
    assert derive_after(Host(tmp_path), [change]).tcp == []
    assert (tmp_path / ETC_D.lstrip("/") / "10-tcp.conf").read_text().count("2375")  # untouched


def test_forbidden_tcp_allows_only_the_planned_endpoint(tmp_path: Path) -> None:
    make_root(tmp_path, "{}\n", {"o.conf": exec_dropin(
        "/usr/sbin/dockerd -H fd:// -H tcp://10.0.0.5:2376 -H tcp://0.0.0.0:2375")})
    eff = derive(Host(tmp_path))
    assert [s.url for s in forbidden_tcp(eff, ["tcp://10.0.0.5:2376"])] == ["tcp://0.0.0.0:2375"]
    assert len(forbidden_tcp(eff, [])) == 2


def test_address_parsers() -> None:
    assert parse_tcp("tcp://") == ("localhost", 2375)
    assert parse_tcp(":2376") == ("localhost", 2376)
    assert parse_tcp("tcp://[::]:2375") == ("::", 2375)
    assert parse_tcp("0.0.0.0") == ("0.0.0.0", 2375)
    assert parse_tcp("tcp://::1:2375") is None and parse_tcp("tcp://h:99999") is None
    assert parse_listen_stream("2375") == ("::", 2375)
    assert parse_listen_stream("[::1]:2375") == ("::1", 2375)
    assert parse_listen_stream("/run/docker.sock") == "/run/docker.sock"
    assert parse_listen_stream("localhost:2375") is None  # systemd does not resolve names
