"""The issued material against the real thing: dockerd 20.10 (Go) serving TLS with the files
``dockwiz certs init`` stored, and the docker 28 CLI (Go) connecting with the client bundle.

Proves every key type we offer is accepted by Go's TLS on both sides (Ed25519 included), that
the bundle works exactly as written (DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH), and
that the classic failures are real: no client cert, and dialling an IP missing from the SANs.
Each test starts its own throwaway dockerd on 127.0.0.1 and stops it by PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwiz import pki
from dockwiz.host import Host

pytestmark = pytest.mark.e2e

DOCKERD = shutil.which("dockerd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
DOCKER = shutil.which("docker")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unmount_under(path: Path) -> None:
    mounts = [ln.split()[4] for ln in Path("/proc/self/mountinfo").read_text().splitlines()]
    for m in sorted((m for m in mounts if m.startswith(str(path))), reverse=True):
        subprocess.run(["umount", "-l", m], check=False)


@contextlib.contextmanager
def tls_daemon(root: Path, port: int) -> Iterator[Path]:
    """dockerd with --tlsverify and the files under ``root``/etc/docker/tls; yields its dir."""
    if os.geteuid() != 0 or not DOCKERD or not DOCKER:
        pytest.fail("needs root, dockerd (docker.io) and the docker CLI")
    work = Path(tempfile.mkdtemp(prefix="dwpki-", dir="/tmp"))
    host = Host(root)
    ca, cert, key = (host.path(p) for p in pki.server_paths())
    log = (work / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        [
            DOCKERD,
            "--data-root",
            str(work / "data"),
            "--exec-root",
            str(work / "exec"),
            "--pidfile",
            str(work / "dockerd.pid"),
            "-H",
            f"unix://{work}/d.sock",
            "-H",
            f"tcp://127.0.0.1:{port}",
            "--tlsverify",
            "--tlscacert",
            str(ca),
            "--tlscert",
            str(cert),
            "--tlskey",
            str(key),
            "--bridge",
            "none",
            "--iptables=false",
            "--ip6tables=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"dockerd exited: {(work / 'dockerd.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        else:
            pytest.fail("dockerd did not listen within 30 s")
        yield work
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()
        _unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)


def _dockwiz(*argv: str) -> None:
    r = subprocess.run([sys.executable, "-m", "dockwiz", *argv], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _docker(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    full.update(env)
    return subprocess.run(
        [str(DOCKER), *argv], env=full, capture_output=True, text=True, timeout=60, check=False
    )


def _bundle_env(root: Path, name: str, config: Path) -> dict[str, str]:
    """The client bundle's env.sh as written, with DOCKER_CERT_PATH mapped into the sandbox."""
    env: dict[str, str] = {"DOCKER_CONFIG": str(config)}
    text = (root / f"etc/dockwiz/clients/{name}/env.sh").read_text()
    for line in text.splitlines():
        if line.startswith("export "):
            k, _, v = line[len("export ") :].partition("=")
            env[k] = v.strip("'")
    env["DOCKER_CERT_PATH"] = str(root) + env["DOCKER_CERT_PATH"]
    return env


@pytest.mark.parametrize("key_type", pki.KEY_TYPES)
def test_go_daemon_and_cli_accept_every_key_type(tmp_path: Path, key_type: str) -> None:
    root, port = tmp_path / "root", _free_port()
    _dockwiz(
        "certs",
        "init",
        "--root",
        str(root),
        "--key-type",
        key_type,
        "--no-detect",
        "--san",
        "localhost",
        "--san",
        "127.0.0.1",
        "--client",
        "cli",
        "--endpoint",
        f"tcp://127.0.0.1:{port}",
    )
    config = tmp_path / "docker-config"
    with tls_daemon(root, port):
        env = _bundle_env(root, "cli", config)
        assert env["DOCKER_TLS_VERIFY"] == "1"
        ok = _docker(env, "version", "--format", "{{.Server.Version}}")
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.strip()
        # by name too (DNS SAN localhost)
        named = _docker({**env, "DOCKER_HOST": f"tcp://localhost:{port}"}, "version")
        assert named.returncode == 0, named.stderr
        # no client certificate: the daemon refuses (CLI without cert files)
        bare = _docker(
            {"DOCKER_CONFIG": str(config)},
            "--tlsverify",
            "--tlscacert",
            env["DOCKER_CERT_PATH"] + "/ca.pem",
            "-H",
            f"tcp://127.0.0.1:{port}",
            "version",
        )
        assert bare.returncode != 0
        assert "bad certificate" in bare.stderr or "certificate required" in bare.stderr


def test_ip_missing_from_sans_fails_in_go_as_documented(tmp_path: Path) -> None:
    """The classic tutorial failure, for real: a server cert without the dialled IP."""
    root, port = tmp_path / "root", _free_port()
    _dockwiz(
        "certs",
        "init",
        "--root",
        str(root),
        "--no-detect",
        "--san",
        "localhost",
        "--client",
        "cli",
        "--endpoint",
        f"tcp://127.0.0.1:{port}",
    )
    with tls_daemon(root, port):
        env = _bundle_env(root, "cli", tmp_path / "cfg")
        r = _docker(env, "version")
        assert r.returncode != 0
        assert "doesn't contain any IP SANs" in r.stderr, r.stderr
        # and our own check predicted it
        info = pki.cert_info(Host(root), "/etc/docker/tls/server-cert.pem")
        assert any(
            "no IP SAN for 127.0.0.1" in p for p in pki.check_server_cert(info, "127.0.0.1", None)
        )
        # renewing with the missing IP fixes it without touching the client
        _dockwiz("certs", "renew", "--root", str(root), "--san", "127.0.0.1")
    with tls_daemon(root, port):
        assert _docker(env, "version").returncode == 0


def test_detect_sans_of_a_lab_uses_the_lab_namespace(lab_factory) -> None:  # type: ignore[no-untyped-def]
    lab = lab_factory("fd-socket")
    dns, ips = pki.detect_sans(lab.host())
    assert lab.info.address in ips
    import psutil

    machine = {a.address.split("%")[0] for addrs in psutil.net_if_addrs().values() for a in addrs}
    assert not set(ips) & (machine - {"127.0.0.1", "::1"}), (ips, machine)
    assert dns == ["localhost"]


def test_hostnet_sees_a_lab_as_verify_did(lab_factory) -> None:  # type: ignore[no-untyped-def]
    """The one address list (hostnet, via `ip` in the lab's namespace) gives verify what its
    own psutil-in-the-namespace copy gave: the lab's address, nothing of this machine's."""
    import ipaddress

    import psutil

    from dockwiz import hostnet
    from dockwiz.netns import in_host_netns

    lab = lab_factory("fd-socket")
    host = lab.host()

    def the_old_way() -> list[str]:
        return [
            a.address
            for ifname, addrs in psutil.net_if_addrs().items()
            if not ifname.startswith(("docker", "br-", "veth"))
            for a in addrs
            if a.family.name == "AF_INET" and not ipaddress.ip_address(a.address).is_loopback
        ]

    assert hostnet.remote_addresses(host) == in_host_netns(host, the_old_way)
    assert lab.info.address in hostnet.remote_addresses(host)
    assert lab.info.address in hostnet.host_addresses(host)
