"""Real dockerd labs: every scenario reaches its promised state, and nothing outlives a lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import psutil
import pytest

from dockwiz.dockerapi import ping_unix
from dockwiz.errors import DockwizError
from dockwiz.lab.lab import SCENARIOS, Lab, lab_down, lab_up, open_lab
from dockwiz.procnet import listeners_of

pytestmark = pytest.mark.e2e

DOCKER = "docker"


def _etc_docker_listing() -> list[tuple[str, int, int, float]]:
    """Names, modes, sizes and mtimes of the machine's /etc/docker (it must never change)."""
    root = Path("/etc/docker")
    out = []
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out.append((str(path), st.st_mode, st.st_size, st.st_mtime))
    st = root.lstat()
    return [(str(root), st.st_mode, st.st_size, st.st_mtime), *out]


def _tcp_ports(lab: Lab) -> set[int]:
    assert lab.info.pid is not None
    return {li.port for li in listeners_of(lab.info.pid).listeners if li.kind == "tcp" and li.port}


def _docker(lab: Lab, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOCKER, *args], env={**os.environ, **lab.docker_env()},
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def _mounts_under(path: Path) -> list[str]:
    text = Path("/proc/self/mountinfo").read_text()
    return [ln.split()[4] for ln in text.splitlines() if ln.split()[4].startswith(str(path))]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_reaches_its_state(lab_factory, scenario: str) -> None:
    spec = SCENARIOS[scenario]
    lab = lab_factory(scenario)
    info = lab.info
    print(f"\n{scenario}: state={info.state} start_to_ping={info.start_seconds} s "
          f"error={info.error!r}")
    assert info.state == spec.expect_state, info.error
    if spec.expect_state == "running":
        assert lab.is_running()
        assert ping_unix(lab.unix_socket_path()).ok
        ports = _tcp_ports(lab)
        assert ports == set(spec.expect_tcp_ports), ports
        unix = [li.address for li in listeners_of(info.pid or 0).listeners if li.kind == "unix"]
        assert any(a.endswith("/docker.sock") for a in unix), unix
        assert info.start_seconds is not None
        assert info.start_seconds < spec.slow_start_s + 10
    else:
        assert info.pid is None
        assert spec.expect_error is not None and spec.expect_error in (info.error or "")
        assert not lab.host().services.is_active()


def test_stock_lab_uses_socket_activation_like_systemd(lab_factory) -> None:
    lab = lab_factory("fd-socket")
    assert lab.info.argv[1:3] == ["-H", "fd://"]
    sock = lab.unix_socket_path()
    st = sock.stat()
    assert oct(st.st_mode & 0o777) == oct(0o660)
    group_line = (lab.root / "etc/group").read_text().splitlines()[1]
    assert st.st_gid == int(group_line.split(":")[2])
    # the daemon's HOME, config dir and run dir are the sandbox's
    assert (lab.root / "etc/docker/key.json").exists()
    assert (lab.root / "run/docker.pid").read_text().strip() == str(lab.info.pid)


def test_hosts_conflict_is_dockerds_own_words(lab_factory) -> None:
    lab = lab_factory("hosts-conflict")
    assert "hosts: (from flag: [fd://], from file: [unix:///var/run/docker.sock " \
        "tcp://0.0.0.0:2375])" in (lab.info.error or "")


def test_restart_applies_the_sandbox_drop_in_and_daemon_json(lab_factory) -> None:
    lab = lab_factory("hosts-conflict")
    dropin = lab.root / "etc/systemd/system/docker.service.d/override.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text("[Service]\nExecStart=\nExecStart=/usr/bin/dockerd "
                      "--containerd=/run/containerd/containerd.sock\n")
    (lab.root / "etc/docker/daemon.json").write_text(json.dumps(
        {"hosts": ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"]}))
    services = lab.host().services
    assert services is not None
    assert services.daemon_reload().ok
    result = services.restart()
    assert result.returncode == 0, result.stderr
    lab.refresh()
    assert lab.info.state == "running"
    assert "fd://" not in lab.info.argv
    assert _tcp_ports(lab) == {2375}


def test_failed_restart_reports_dockerds_reason_then_recovers(lab_factory) -> None:
    lab = lab_factory("fd-socket")
    services = lab.host().services
    assert services is not None
    good = (lab.root / "etc/docker/daemon.json").read_text()
    (lab.root / "etc/docker/daemon.json").write_text('{"debug": true,}\n')
    result = services.restart()
    assert result.returncode != 0
    assert "unable to configure the Docker daemon" in result.stderr
    assert not services.is_active()
    (lab.root / "etc/docker/daemon.json").write_text(good)
    result = services.start()
    assert result.returncode == 0, result.stderr
    assert services.is_active()
    assert services.reload().ok  # SIGHUP: the daemon re-reads daemon.json and keeps running
    assert services.is_active()


def test_two_labs_side_by_side(lab_factory) -> None:
    a = lab_factory("fd-socket")
    b = lab_factory("mtls")
    assert a.info.netns != b.info.netns
    assert a.info.address != b.info.address
    assert a.info.pid != b.info.pid
    assert ping_unix(a.unix_socket_path()).ok and ping_unix(b.unix_socket_path()).ok
    assert _tcp_ports(a) == set() and _tcp_ports(b) == {2376}
    lab_down(a.dir)
    assert ping_unix(b.unix_socket_path()).ok


def test_running_lab_dir_is_refused(lab_factory) -> None:
    lab = lab_factory("fd-socket")
    with pytest.raises(DockwizError, match="already holds a running lab"):
        lab_up(lab.dir, "fd-socket")


def test_docker_cli_reaches_the_lab_over_mtls(lab_factory) -> None:
    lab = lab_factory("mtls")
    full = ["nsenter", f"--net=/var/run/netns/{lab.info.netns}", DOCKER, "--tlsverify",
            "-H", lab.info.tcp_endpoint or "", "version", "--format", "{{.Server.Version}}"]
    env = {**os.environ, "DOCKER_CERT_PATH": lab.info.client_cert_dir or ""}
    out = subprocess.run(full, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("20.")


def _busybox_image(lab: Lab, tmp_path: Path) -> str:
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        tar.add("/bin/busybox", arcname="bin/busybox")
        for name in ("sh", "sleep"):
            info = tarfile.TarInfo(f"bin/{name}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
    out = _docker(lab, "import", str(rootfs), "dwlab/busybox")
    assert out.returncode == 0, out.stderr
    return "dwlab/busybox"


def test_down_leaves_nothing_even_with_live_restore_containers(lab_factory, tmp_path) -> None:
    if not Path("/bin/busybox").exists():
        pytest.fail("this test needs busybox-static (apt-get install busybox-static)")
    before = _etc_docker_listing()
    lab = lab_factory("fd-socket")
    (lab.root / "etc/docker/daemon.json").write_text('{"live-restore": true}\n')
    services = lab.host().services
    assert services is not None and services.restart().ok
    lab.refresh()
    image = _busybox_image(lab, tmp_path)
    run = _docker(lab, "run", "-d", "--network", "none", image, "sleep", "600")
    assert run.returncode == 0, run.stderr
    # live-restore: the container survives a daemon restart
    assert services.restart().ok
    lab.refresh()
    ps = _docker(lab, "ps", "-q")
    assert ps.stdout.strip(), "container did not survive the restart"
    ours = [p for p in psutil.process_iter(["name", "cmdline"])
            if p.info["cmdline"] and "sleep" in p.info["cmdline"][:1] + p.info["cmdline"][1:2]
            and "600" in p.info["cmdline"]]
    assert ours, "the container's sleep process was not found"
    container_ids = [c.name for c in (lab.dir / "data/containers").iterdir()]
    daemon_pids = [lab.info.pid, *(c.pid for c in psutil.Process(lab.info.pid).children(True))]
    netns = lab.info.netns

    lab_down(lab.dir)
    lab_down(lab.dir)  # idempotent

    assert open_lab(lab.dir).info.state == "stopped"
    for pid in [*daemon_pids, *(p.pid for p in ours)]:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie", pid
    assert not any("containerd-shim" in " ".join(p.info["cmdline"] or [])
                   and str(lab.dir) in " ".join(p.info["cmdline"] or [])
                   for p in psutil.process_iter(["cmdline"]))
    assert _mounts_under(lab.dir) == []
    for cid in container_ids:
        assert not list(Path("/sys/fs/cgroup").glob(f"*/docker/{cid}")), cid
    assert not Path(f"/var/run/netns/{netns}").exists()
    assert _etc_docker_listing() == before


def test_cli_up_run_status_down(tmp_path: Path) -> None:
    lab_dir = tmp_path / "cli-lab"
    cli = [sys.executable, "-m", "dockwiz", "lab"]
    try:
        up = subprocess.run([*cli, "up", "--dir", str(lab_dir), "--scenario", "commented-json",
                             "--json"], capture_output=True, text=True, timeout=60, check=False)
        assert up.returncode == 0, up.stderr
        info = json.loads(up.stdout)
        assert info["state"] == "failed" and "invalid character '/'" in info["error"]
        run = subprocess.run([*cli, "run", "--dir", str(lab_dir), "--", "sh", "-c",
                              "ip -4 -o addr show dev lo; cat /etc/docker/daemon.json"],
                             capture_output=True, text=True, timeout=30, check=False)
        assert run.returncode == 0, run.stderr
        assert info["address"] in run.stdout
        assert "// prevent inter-container communication" in run.stdout
        status = subprocess.run([*cli, "status", "--dir", str(lab_dir)], capture_output=True,
                                text=True, timeout=30, check=False)
        assert "as this scenario intends" in status.stdout
    finally:
        down = subprocess.run([*cli, "down", "--dir", str(lab_dir)], capture_output=True,
                              text=True, timeout=60, check=False)
    assert down.returncode == 0, down.stderr
    assert not Path(f"/var/run/netns/{info['netns']}").exists()


def test_dropin_without_reset_is_refused_like_systemd(lab_factory) -> None:
    lab = lab_factory("fd-socket")
    dropin = lab.root / "etc/systemd/system/docker.service.d/tcp.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text("[Service]\nExecStart=/usr/sbin/dockerd -H unix:///var/run/docker.sock\n")
    services = lab.host().services
    assert services is not None
    result = services.restart()
    assert result.returncode != 0
    assert "ExecStart" in result.stderr
    assert not services.is_active()


def test_tlsverify_without_ca_refuses_a_private_ca_even_in_root_docker_dir(lab_factory) -> None:
    """Seen on 20.10: TLS set only in daemon.json never falls back to ~/.docker/ca.pem."""
    from dockwiz import pki
    from dockwiz.dockerapi import ProbeError, tls_request
    from dockwiz.netns import run_in_netns

    lab = lab_factory("tlsverify-no-ca")
    ca = pki.issue_ca()
    client = pki.issue_client(ca)
    home_docker = lab.root / "root/.docker"
    home_docker.mkdir(mode=0o700)
    (home_docker / "ca.pem").write_bytes(ca.cert_pem())
    (home_docker / "cert.pem").write_bytes(client.cert_pem())
    (home_docker / "key.pem").write_bytes(client.key_pem())
    services = lab.host().services
    assert services is not None and services.restart().ok
    lab.refresh()
    assert _tcp_ports(lab) == {2376}

    def probe() -> str:
        try:
            tls_request(lab.info.address, 2376, ca=None, cert=home_docker / "cert.pem",
                        key=home_docker / "key.pem")
        except ProbeError as exc:
            return str(exc)
        return "accepted"

    outcome = run_in_netns(lab.info.netns, probe)
    assert outcome != "accepted"
    assert "certificate" in outcome, outcome


def test_tls_flags_without_ca_fall_back_to_root_docker_dir(lab_factory) -> None:
    """The other half of DOMAIN §2: with --tls* *flags*, the ~/.docker default does apply."""
    lab = lab_factory("tlsverify-no-ca")
    (lab.root / "etc/docker/daemon.json").write_text("{}\n")
    (lab.root / "etc/systemd/system/docker.service.d/override.conf").write_text(
        "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2376 "
        "--tlsverify --tlscert=/etc/docker/certs/server.crt "
        "--tlskey=/etc/docker/certs/server.key\n"
    )
    services = lab.host().services
    assert services is not None
    result = services.restart()
    assert result.returncode != 0
    assert 'could not read CA certificate "/root/.docker/ca.pem"' in result.stderr
    lab.refresh()
    assert lab.info.state == "failed"
