"""inspect_host against fake host roots: each starting state a tutorial leaves behind.

No daemon is started here (that is tests/e2e/test_inspect_e2e.py); these roots hold files only,
plus, for the "whose daemon is it" tests, a stand-in process that psutil sees as ``dockerd``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from dockwiz import pki
from dockwiz.host import Host
from dockwiz.inspect import (
    configured_hosts,
    inspect_host,
    read_accounts,
    to_listener,
)
from dockwiz.lab.scenarios import DEBIAN_DOCKER_SERVICE, DEBIAN_DOCKER_SOCKET
from dockwiz.models.host_state import HostState

SEED_001 = """{
  "icc": false, // prevent inter-container communication on default bridge
  "userns-remap": "default", // isolate container users
  "live-restore": true, // containers keep running if daemon restarts
  "no-new-privileges": true // apply to supported containers
}
"""
SEED_002_OVERRIDE = """[Service]
ExecStart=
ExecStart=/usr/bin/dockerd -D -H unix:///var/run/docker.sock --tlsverify \
--tlscert=/home/user/.docker/server-cert.pem --tlscacert=/home/user/.docker/ca.pem \
--tlskey=/home/user/.docker/server-key.pem --userns-remap="default" -H tcp://0.0.0.0:2376
"""
SEED_003 = """{
  "tlsverify": true,
  "tlscert": "/etc/docker/certs/server.crt",
  "tlskey": "/etc/docker/certs/server.key",
  "hosts": ["tcp://0.0.0.0:2376", "unix:///var/run/docker.sock"]
}
"""
SEED_004 = '{\n  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]\n}\n'


def put(root: Path, host_path: str, text: str | bytes, mode: int = 0o644) -> Path:
    p = root / host_path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    p.chmod(mode)
    return p


def debian_root(root: Path, daemon_json: str | None = None) -> Path:
    """A root laid out like Debian 12 with docker.io: unit, socket unit, /var/run -> /run."""
    put(root, "/lib/systemd/system/docker.service", DEBIAN_DOCKER_SERVICE)
    put(root, "/lib/systemd/system/docker.socket", DEBIAN_DOCKER_SOCKET)
    put(root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
        "alice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:999::/home/bob:/bin/sh\n")
    put(root, "/etc/group", "root:x:0:\ndocker:x:999:alice\nalice:x:1000:\n")
    (root / "run").mkdir(exist_ok=True)
    (root / "var").mkdir(exist_ok=True)
    (root / "var" / "run").symlink_to("/run")  # absolute, as on a real system
    if daemon_json is not None:
        put(root, "/etc/docker/daemon.json", daemon_json)
    return root


def ids(state: HostState) -> set[str]:
    return {f.id for f in state.findings}


def finding(state: HostState, id_: str) -> object:
    return next(f for f in state.findings if f.id == id_)


# -- starting states -------------------------------------------------------------------------
def test_stock_debian_install(tmp_path: Path) -> None:
    state = inspect_host(Host(debian_root(tmp_path)))
    assert state.unit.exec_start is not None and state.unit.exec_start[1:3] == ["-H", "fd://"]
    assert [h.address for h in state.configured_hosts] == ["fd://"]
    assert state.docker_socket is not None and state.docker_socket.path == "/run/docker.sock"
    assert state.docker_group_members == ["alice", "bob"]  # bob: primary group docker
    assert not state.daemon_running and state.daemon_error is None
    assert state.hosts_conflict is None
    assert {"DW-DOCKER-GROUP", "DW-NO-LIVE-RESTORE", "DW-NOT-RUNNING"} <= ids(state)
    assert not {"DW-TCP-PLAIN", "DW-V27-RULE", "DW-HOSTS-CONFLICT"} & ids(state)


def test_no_docker_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = Host(tmp_path)
    monkeypatch.setattr(host, "which", lambda name: None)
    state = inspect_host(host)
    assert not state.docker_installed and state.version.binary is None
    assert "DW-NOT-INSTALLED" in ids(state)
    assert not state.unit.exists
    assert "DW-NO-UNIT" in ids(state)


def test_invalid_json_reports_line_and_column(tmp_path: Path) -> None:
    state = inspect_host(Host(debian_root(tmp_path, '{\n  "hosts": ["tcp://0.0.0.0:2375"\n}\n')))
    dj = state.daemon_json
    assert dj.error is not None and dj.error.line == 3
    assert "DW-JSON-INVALID" in ids(state)
    assert state.daemon_error is not None and "line 3" in state.daemon_error
    assert "unable to configure the Docker daemon with file /etc/docker/daemon.json" in (
        state.daemon_error)


def test_commented_json_from_seed_001(tmp_path: Path) -> None:
    state = inspect_host(Host(debian_root(tmp_path, SEED_001)))
    assert state.daemon_json.has_comments and state.daemon_json.repairable
    assert {"DW-JSON-INVALID", "DW-JSON-COMMENTS", "DW-DAEMON-FAILS"} <= ids(state)
    assert "dockwiz plan" in finding(state, "DW-JSON-COMMENTS").fix  # type: ignore[attr-defined]


def test_hosts_conflict_with_the_stock_unit(tmp_path: Path) -> None:
    state = inspect_host(Host(debian_root(tmp_path, SEED_004)))
    assert state.hosts_conflict is not None
    assert "from flag: [fd://]" in state.hosts_conflict
    assert "tcp://0.0.0.0:2375" in state.hosts_conflict
    assert state.daemon_error is not None and "specified both as a flag" in state.daemon_error
    assert {"DW-HOSTS-CONFLICT", "DW-TCP-PLAIN", "DW-V27-RULE"} <= ids(state)
    sources = {h.address: h.source for h in state.configured_hosts}
    assert sources == {"fd://": "flag", "unix:///var/run/docker.sock": "daemon.json",
                       "tcp://0.0.0.0:2375": "daemon.json"}


def test_drop_in_override_from_seed_002(tmp_path: Path) -> None:
    root = debian_root(tmp_path, "{}\n")
    put(root, "/etc/systemd/system/docker.service.d/override.conf", SEED_002_OVERRIDE)
    state = inspect_host(Host(root))
    assert state.unit.exec_start is not None and state.unit.exec_start[0] == "/usr/bin/dockerd"
    assert state.unit.exec_start_source == "/etc/systemd/system/docker.service.d/override.conf"
    assert [d.sets_exec_start for d in state.unit.dropins] == [True]
    assert state.tls.tlsverify is True and state.tls.tlscacert == "/home/user/.docker/ca.pem"
    assert state.userns_remap == "default"
    addrs = {h.address for h in state.configured_hosts}
    assert addrs == {"unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"}
    assert state.hosts_conflict is None
    found = ids(state)
    assert {"DW-UNIT-OVERRIDE", "DW-TLS-HOME", "DW-CERT-MISSING"} <= found
    assert "DW-USERNS" not in found
    # the certs are missing: dockerd would fail, and says so in its own words
    assert state.daemon_error is not None and "/home/user/.docker/" in state.daemon_error


def _seed003_cert(root: Path) -> None:
    """Seed 003's openssl recipe: self-signed with -signkey, CN only, no SAN."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "docker-host")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    put(root, "/etc/docker/certs/server.crt", cert.public_bytes(serialization.Encoding.PEM))
    put(root, "/etc/docker/certs/server.key", key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), mode=0o644)


def test_tlsverify_without_ca_from_seed_003(tmp_path: Path) -> None:
    """Seed 003 as written: TLS on in daemon.json only, so dockerd's ~/.docker defaults do
    not apply; it starts and checks client certs against the system trust store."""
    root = debian_root(tmp_path, SEED_003)
    put(root, "/etc/systemd/system/docker.service.d/override.conf",
        "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd\n")
    _seed003_cert(root)
    put(root, "/root/.docker/ca.pem", pki.issue_ca().cert_pem())  # ignored by this config
    state = inspect_host(Host(root))
    assert [c.role for c in state.certs] == ["server"]
    server = state.certs[0]
    assert server.subject == "CN=docker-host" and server.key_matches is True
    found = {f.id: f.severity for f in state.findings}
    assert found["DW-TLSVERIFY-NO-CA"] == "critical"  # public CAs' client certs get root
    assert "trust store" in finding(state, "DW-TLSVERIFY-NO-CA").why  # type: ignore[attr-defined]
    assert found["DW-CERT-LEGACY-CN"] == "high" and found["DW-KEY-MODE"] == "high"
    assert "DW-V27-RULE" not in found and "DW-TCP-NOVERIFY" not in found  # tlsverify is on
    assert state.daemon_error is None


def test_tlsverify_flag_without_ca_uses_roots_home(tmp_path: Path) -> None:
    """The same mistake on the command line: --tlsverify's default CA is ~/.docker/ca.pem."""
    root = debian_root(tmp_path, "{}\n")
    put(root, "/etc/systemd/system/docker.service.d/override.conf",
        "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H unix:///var/run/docker.sock "
        "--tlsverify --tlscert=/etc/docker/certs/server.crt "
        "--tlskey=/etc/docker/certs/server.key -H tcp://0.0.0.0:2376\n")
    _seed003_cert(root)
    state = inspect_host(Host(root))
    roles = {c.role: c for c in state.certs}
    assert roles["ca"].path == "/root/.docker/ca.pem" and not roles["ca"].exists
    assert "DW-TLSVERIFY-NO-CA" in ids(state)
    assert state.daemon_error is not None and "/root/.docker/ca.pem" in state.daemon_error
    # put a CA in root's home: dockerd would now silently trust it
    put(root, "/root/.docker/ca.pem", pki.issue_ca().cert_pem())
    state = inspect_host(Host(root))
    why = finding(state, "DW-TLSVERIFY-NO-CA").why  # type: ignore[attr-defined]
    assert "decides which clients get root" in why
    assert state.daemon_error is None


def test_mtls_material_is_read_and_checked(tmp_path: Path) -> None:
    root = debian_root(tmp_path, json.dumps({
        "hosts": ["unix:///var/run/docker.sock", "tcp://10.77.0.5:2376"], "tlsverify": True,
        "tlscacert": "/etc/docker/tls/ca.pem", "tlscert": "/etc/docker/tls/server-cert.pem",
        "tlskey": "/etc/docker/tls/server-key.pem", "live-restore": True}))
    put(root, "/etc/systemd/system/docker.service.d/override.conf",
        "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd\n")
    ca = pki.issue_ca()
    server = pki.issue_server(ca, ["docker.example"], ["10.77.0.5"])
    put(root, "/etc/docker/tls/ca.pem", ca.cert_pem(), 0o444)
    put(root, "/etc/docker/tls/server-cert.pem", server.cert_pem(), 0o444)
    put(root, "/etc/docker/tls/server-key.pem", server.key_pem(), 0o400)
    state = inspect_host(Host(root))
    server_info = next(c for c in state.certs if c.role == "server")
    assert server_info.ip_addresses == ["10.77.0.5"] and server_info.key_matches
    assert state.live_restore
    found = ids(state)
    assert not {"DW-TCP-PLAIN", "DW-TCP-NOVERIFY", "DW-V27-RULE", "DW-CERT-NO-IP-SAN",
                "DW-KEY-MODE", "DW-CERT-MODE", "DW-NO-LIVE-RESTORE"} & found


# -- not root: read what is readable, say what was not ----------------------------------------
@pytest.fixture
def world_readable_tmp() -> Iterator[Path]:
    """pytest's tmp_path is 0700 root: 'nobody' could not even enter it."""
    d = Path(tempfile.mkdtemp(prefix="dw-inspect-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run_as_nobody(argv: list[str]) -> tuple[int, str, str]:
    """Run ``dockwiz ARGV`` in a forked child that has dropped to uid/gid 65534 (nobody).

    A fork, not a new interpreter: this machine's Python lives under /root (0700), which
    'nobody' cannot enter. Everything the command imports is loaded once as root first (the
    output is thrown away), so the child only *reads the host* as nobody.
    """
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from dockwiz.cli import main

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        main(argv)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 70
        try:
            os.close(out_r)
            os.close(err_r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            with (os.fdopen(out_w, "w") as out, os.fdopen(err_w, "w") as err,
                  redirect_stdout(out), redirect_stderr(err)):
                try:
                    status = main(argv)
                except BaseException:
                    import traceback

                    traceback.print_exc()
                    status = 71
        finally:
            os._exit(status)
    os.close(out_w)
    os.close(err_w)
    with os.fdopen(out_r) as out, os.fdopen(err_r) as err:
        stdout, stderr = out.read(), err.read()
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status), stdout, stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to 'nobody'")
def test_unreadable_key_as_non_root(world_readable_tmp: Path) -> None:
    root = debian_root(world_readable_tmp / "root", json.dumps({
        "hosts": ["tcp://127.0.0.1:2376"], "tls": True, "tlsverify": False,
        "tlscert": "/etc/docker/certs/cert.pem", "tlskey": "/etc/docker/certs/key.pem"}))
    root.chmod(0o755)
    ca = pki.issue_ca()
    server = pki.issue_server(ca, ["localhost"], ["127.0.0.1"])
    put(root, "/etc/docker/certs/cert.pem", server.cert_pem(), 0o444)
    put(root, "/etc/docker/certs/key.pem", server.key_pem(), 0o400)
    rc, stdout, stderr = run_as_nobody(["inspect", "--root", str(root), "--json"])
    assert rc == 0, stderr
    assert "Traceback" not in stderr
    state = HostState.model_validate_json(stdout)
    assert not state.is_root
    cert = next(c for c in state.certs if c.role == "server")
    assert cert.readable and cert.ip_addresses == ["127.0.0.1"]  # the cert was read...
    assert cert.error is not None and "key.pem" in cert.error  # ...its key was not
    assert any("/etc/docker/certs/cert.pem" in u for u in state.unreadable)
    assert "DW-PARTIAL" in ids(state) and "DW-CERT-UNREADABLE" in ids(state)
    # the human output says it too, without a traceback
    rc, stdout, stderr = run_as_nobody(["inspect", "--root", str(root), "--no-color"])
    assert rc == 0 and "Traceback" not in stderr, stderr
    assert "Not readable" in stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to 'nobody'")
def test_closed_config_dir_as_non_root(world_readable_tmp: Path) -> None:
    root = debian_root(world_readable_tmp / "root", SEED_004)
    root.chmod(0o755)
    (root / "etc" / "docker").chmod(0o700)
    rc, stdout, stderr = run_as_nobody(["inspect", "--root", str(root), "--json"])
    assert rc == 0 and "Traceback" not in stderr, stderr
    state = HostState.model_validate_json(stdout)
    assert not state.daemon_json.readable
    assert any(u.startswith("/etc/docker/daemon.json") for u in state.unreadable)
    assert "DW-PARTIAL" in ids(state)


# -- whose daemon is it ----------------------------------------------------------------------
@pytest.fixture
def fake_dockerd(tmp_path: Path) -> Iterator[object]:
    """Start stand-in processes named ``dockerd`` (a shell script), killed by PID afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    script = tmp_path / "bin" / "dockerd"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\nsleep 60\n")
    script.chmod(0o755)

    def start(*args: str) -> int:
        p = subprocess.Popen([str(script), *args])
        procs.append(p)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if psutil.Process(p.pid).name() == "dockerd":
                break
            time.sleep(0.02)
        return p.pid

    yield start
    for p in procs:
        os.kill(p.pid, signal.SIGTERM)
        p.wait(timeout=5)


def test_a_sandbox_reports_only_its_own_daemon(tmp_path: Path, fake_dockerd: object) -> None:
    mine = debian_root(tmp_path / "mine", "{}\n")
    other = debian_root(tmp_path / "other", "{}\n")
    pidfile = mine / "run" / "docker.pid"
    pid = fake_dockerd(f"--pidfile={pidfile}")  # type: ignore[operator]
    pidfile.write_text(f"{pid}\n")
    (other / "run" / "docker.pid").write_text(f"{pid}\n")  # stale, or another lab's PID
    state = inspect_host(Host(mine))
    assert state.daemon_running and state.process is not None and state.process.pid == pid
    assert "DW-NOT-RUNNING" not in ids(state)
    foreign = inspect_host(Host(other))
    assert not foreign.daemon_running and foreign.process is None


def test_sandbox_never_falls_back_to_scanning(tmp_path: Path, fake_dockerd: object) -> None:
    fake_dockerd()  # type: ignore[operator]
    state = inspect_host(Host(debian_root(tmp_path, "{}\n")))
    assert not state.daemon_running


# -- the sandbox proof -----------------------------------------------------------------------
AUDIT_SCRIPT = r"""
import json, os, sys
opened = []
def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.append(os.fsdecode(args[0]))
    elif event in ("os.listdir", "os.scandir") and args and args[0] is not None:
        opened.append(os.fsdecode(args[0]))
from dockwiz.host import Host
from dockwiz.inspect import inspect_host
import dockwiz.pki, dockwiz.pki.discover, dockwiz.commands.inspect  # imports: not config reads
sys.addaudithook(hook)
state = inspect_host(Host(sys.argv[1]))
sys.stdout.write(json.dumps({"opened": opened, "state": state.model_dump(mode="json")}))
"""


def test_nothing_outside_the_root_is_read_for_config(tmp_path: Path) -> None:
    """Point inspect at a root whose files differ from this machine's: everything it reports
    comes from the root, and every file it opened is under the root (or /proc, /sys)."""
    root = debian_root(tmp_path / "root", json.dumps({
        "hosts": ["unix:///var/run/docker.sock", "tcp://10.99.88.77:2375"],
        "tlscert": "/etc/docker/c.pem", "tlskey": "/etc/docker/k.pem"}))
    put(root, "/etc/group", "root:x:0:\ndocker:x:4242:sandbox-only-user\n")
    put(root, "/etc/systemd/system/docker.service.d/override.conf",
        "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd --sandbox-marker --tlsverify\n")
    put(root, "/run/docker.pid", "1\n")  # PID 1 is not a dockerd (and not this root's)
    out = subprocess.run([sys.executable, "-c", AUDIT_SCRIPT, str(root)], capture_output=True,
                         text=True, timeout=60, check=True)
    data = json.loads(out.stdout)
    state = HostState.model_validate(data["state"])
    assert state.docker_group_members == ["sandbox-only-user"]
    assert "tcp://10.99.88.77:2375" in {h.address for h in state.configured_hosts}
    assert state.unit.exec_start == ["/usr/sbin/dockerd", "--sandbox-marker", "--tlsverify"]
    assert {c.path for c in state.certs} == {"/root/.docker/ca.pem", "/etc/docker/c.pem"}
    assert not state.daemon_running
    allowed = (str(root), "/proc/", "/sys/", "/dev/null", sys.prefix, sys.base_prefix,
               sys.exec_prefix, "/usr/lib/python3", "/usr/local/lib/python3")
    outside = sorted({p for p in data["opened"] if not os.path.abspath(p).startswith(allowed)})
    assert not outside, f"inspect opened paths outside the root: {outside}"
    assert any(p.startswith(str(root)) for p in data["opened"])  # the hook did see opens


def test_symlinks_resolve_inside_the_root(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    put(root, "/run/docker.pid", "123\n")
    host = Host(root)
    assert host.resolve("/var/run/docker.pid") == root / "run" / "docker.pid"
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc" / "up").symlink_to("../../../../../../../etc")
    assert host.resolve("/etc/up/passwd") == root / "etc" / "passwd"
    (root / "loop").symlink_to("/loop")
    with pytest.raises(OSError):
        host.resolve("/loop/x")


@settings(max_examples=60, deadline=None)
@given(target=st.lists(st.sampled_from(["..", ".", "/", "etc", "run", "x", "/tmp", "/etc"]),
                       min_size=1, max_size=6),
       query=st.lists(st.sampled_from(["..", "a", "link", "etc"]), min_size=1, max_size=4))
def test_resolution_never_leaves_the_root(target: list[str], query: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        link = "/".join(target).replace("//", "/")
        (root / "link").symlink_to(link)
        try:
            resolved = Host(root).resolve("/" + "/".join(query))
        except OSError:
            return
        assert resolved == root or root in resolved.parents


# -- parsers -----------------------------------------------------------------------------------
def test_configured_host_urls_follow_dockerd() -> None:
    def one(url: str) -> tuple[str, bool] | None:
        lst = to_listener(url, "flag")
        return None if lst is None else (lst.address, lst.loopback)

    assert one("tcp://0.0.0.0:2375") == ("tcp://0.0.0.0:2375", False)
    assert one("tcp://:2375") == ("tcp://localhost:2375", True)  # dockerd: DefaultHTTPHost
    assert one("tcp://[::1]:2376") == ("tcp://[::1]:2376", True)
    assert one("tcp://10.0.0.5") == ("tcp://10.0.0.5:2375", False)
    assert one("fd://") == ("fd://", True)
    assert one("unix://") == ("unix:///var/run/docker.sock", True)
    assert one("ssh://x") is None
    default = configured_hosts([], [])
    assert [(d.address, d.source) for d in default] == [("unix:///var/run/docker.sock",
                                                         "default")]


@given(st.text(max_size=40))
def test_host_url_parser_never_raises(text: str) -> None:
    to_listener(text, "daemon.json")


def test_accounts_from_the_root_not_nss(tmp_path: Path) -> None:
    put(tmp_path, "/etc/passwd", "# comment\nroot:x:0:0::/root:/bin/sh\nbroken\nz:x:5:77::/h:\n")
    put(tmp_path, "/etc/group", "docker:x:77:a,b\n")
    from dockwiz.inspect import _Notes

    acc = read_accounts(Host(tmp_path), _Notes())
    assert acc.group_members("docker") == ["a", "b", "z"]
    assert acc.user(5) == "z" and acc.user(0) == "root" and acc.user(4321) == "4321"
    empty = read_accounts(Host(tmp_path / "nothing"), _Notes())
    assert empty.group_members("docker") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process as 'nobody'")
def test_rootless_daemon_is_recognised(world_readable_tmp: Path) -> None:
    """A dockerd running as an ordinary user is rootless (its uid, not a flag, says so)."""
    root = debian_root(world_readable_tmp / "root", "{}\n")
    root.chmod(0o755)
    script = world_readable_tmp / "bin" / "dockerd"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\nsleep 60\n")
    script.chmod(0o755)
    pidfile = root / "run" / "docker.pid"
    proc = subprocess.Popen([str(script), "--pidfile", str(pidfile)], user="nobody",
                            group="nogroup", extra_groups=[])
    try:
        deadline = time.monotonic() + 5
        while psutil.Process(proc.pid).name() != "dockerd" and time.monotonic() < deadline:
            time.sleep(0.02)
        pidfile.write_text(f"{proc.pid}\n")
        state = inspect_host(Host(root))
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    assert state.daemon_running and state.process is not None
    assert state.process.uid == 65534 and state.rootless
    assert "DW-ROOTLESS" in ids(state) and "DW-USERNS" not in ids(state)


@pytest.mark.parametrize(("files", "expected"), [
    ({}, "not found"),  # no unit, no daemon.json: a bare root
    ({"/etc/docker/daemon.json": '{"hosts": [}'}, "invalid JSON at 1:"),
    ({"/etc/docker/daemon.json": SEED_001}, "has comments"),
    ({"/etc/docker/daemon.json": SEED_004,
      "/lib/systemd/system/docker.service": DEBIAN_DOCKER_SERVICE}, "from flag: [fd://]"),
    ({"/etc/docker/daemon.json": '{"tlsverify": true, "tlscert": "/c.pem", "tlskey": "/k.pem"}'},
     "missing"),
])
def test_human_output_explains_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str], expected: str,
) -> None:
    from dockwiz.cli import main

    for host_path, text in files.items():
        put(tmp_path, host_path, text)
    status = main(["inspect", "--root", str(tmp_path), "--no-color"])
    out, err = capsys.readouterr()
    assert status == 0 and "Traceback" not in err
    assert "Findings:" in out and "Endpoints" in out and "Docker daemon" in out
    flat = " ".join(out.split())  # the table wraps long cells
    assert expected in flat or expected in out, out


def test_json_output_is_the_host_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dockwiz.cli import main

    put(tmp_path, "/etc/docker/daemon.json", SEED_004)
    assert main(["inspect", "--root", str(tmp_path), "--json"]) == 0
    state = HostState.model_validate_json(capsys.readouterr().out)
    assert state.root == str(tmp_path.resolve())
    assert any(f.id == "DW-TCP-PLAIN" for f in state.findings)


def test_a_root_that_is_not_a_directory_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from dockwiz.cli import main

    assert main(["inspect", "--root", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "is not a directory" in err and "fix:" in err


# -- the daemon's own view: GET /version and GET /info over the socket -----------------------
def _serve_api(path: Path, answers: dict[str, tuple[int, bytes]]) -> Iterator[list[str]]:
    """A stand-in API on a unix socket: answers ``answers[url]``; yields the URLs asked."""
    import socketserver
    import threading

    asked: list[str] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            url = self.rfile.readline().decode().split()[1]
            while self.rfile.readline().strip():
                pass
            asked.append(url)
            status, body = answers.get(url, (404, b"{}"))
            self.wfile.write(f"HTTP/1.0 {status} X\r\nContent-Type: application/json\r\n\r\n"
                             .encode() + body)

    server = socketserver.UnixStreamServer(str(path), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield asked
    finally:
        server.shutdown()
        server.server_close()


WARNING_28 = ("[DEPRECATION NOTICE]: API is accessible on http://0.0.0.0:2375 without "
              "encryption.\n         Access to the remote API is equivalent to root access on "
              "the host.")


def test_query_api_reads_version_running_count_and_warnings(tmp_path: Path) -> None:
    from dockwiz.inspect import _Notes, query_api
    from dockwiz.models.host_state import DockerVersion

    sock = tmp_path / "d.sock"
    info = {"ContainersRunning": 2, "Warnings": [WARNING_28, 7]}
    answers = {"/version": (200, b'{"Version": "28.5.2", "ApiVersion": "1.51"}'),
               "/info": (200, json.dumps(info).encode())}
    gen = _serve_api(sock, answers)
    asked = next(gen)
    version, notes, warnings = DockerVersion(), _Notes(), []
    try:
        running = query_api(sock, version, notes, warnings)
    finally:
        gen.close()
    assert asked == ["/version", "/info"]  # two requests, as before /info replaced the list
    assert running == 2 and version.api_server == "28.5.2" and version.api_version == "1.51"
    assert warnings == [WARNING_28] and notes.unreadable == []


def test_query_api_notes_a_failing_info(tmp_path: Path) -> None:
    from dockwiz.inspect import _Notes, query_api
    from dockwiz.models.host_state import DockerVersion

    sock = tmp_path / "d.sock"
    gen = _serve_api(sock, {"/version": (200, b'{"Version": "20.10.24"}'),
                            "/info": (500, b"{}")})
    next(gen)
    notes, warnings = _Notes(), []
    try:
        assert query_api(sock, DockerVersion(), notes, warnings) is None
    finally:
        gen.close()
    assert warnings == [] and any("HTTP 500 for /info" in u for u in notes.unreadable)
