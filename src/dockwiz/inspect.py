"""Build a HostState: what is on a Docker host now, observed only, never changed.

Config comes only through ``Host.path`` (so a sandbox root is inspected as itself, never the
machine's /etc/docker), with symlinks resolved *inside* the root: a real root tree has
``var/run -> /run``, which must mean the root's /run, not this machine's. Process facts come
from /proc and psutil, and a process is only reported for a sandbox root when it provably
belongs to that root (its own view of its pidfile, through /proc/PID/root, is the root's file),
so another lab's or the machine's own daemon is never blamed on a sandbox. Listeners are read
from /proc/PID/net, the daemon's own network namespace (a lab's 10.x address included).

Nothing here raises for a host that is merely unusual (no docker, daemon down, not root, broken
daemon.json): what could not be seen goes to ``HostState.unreadable`` with the reason.

One module on purpose (~780 lines): the inspection of one host, its steps in the order they
depend on each other (the daemon process, its flags and pidfile, the files, the API, the
sockets, the accounts, the certificates); each reader is small and the order is the story.
Judging is elsewhere: findings.py, pki/checks.py, effective.py.
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import psutil

from dockwiz import daemon_json, dockerd_flags, effective, findings, procnet, systemd
from dockwiz.addresses import is_loopback
from dockwiz.docker_paths import (
    PREVIOUS_CA_PATH,
    RENEW_CRON_PATH,
    RENEW_RANDOM_DELAY,
    RENEW_SERVICE_PATH,
    RENEW_TIMER_PATH,
    RENEW_TIMER_WANTS,
    SOCKET_PATH,
)
from dockwiz.errors import DockwizError
from dockwiz.host import CommandResult, Host, HostPathError
from dockwiz.models.host_state import (
    CertInfo,
    DaemonProcess,
    DockerVersion,
    HostState,
    Listener,
    SocketFile,
    SocketUnitState,
    TlsSettings,
)
from dockwiz.models.lifecycle import RenewalSchedule
from dockwiz.unixsock import connect_unix

PIDFILES = ("/var/run/docker.pid", "/run/docker.pid")
SOCKET_UNIT_DEFAULT = "/run/docker.sock"
API_TIMEOUT = 2.0
MAX_API_BODY = 8 << 20
VERSION_TIMEOUT = 10.0
TLS_KEYS = ("tls", "tlsverify", "tlscacert", "tlscert", "tlskey")
CertRole = Literal["ca", "server", "client", "unknown"]
Problem = (OSError, ValueError, DockwizError, HostPathError)


@dataclass
class _Notes:
    """What could not be read, collected as inspection goes (never raised)."""

    unreadable: list[str] = field(default_factory=list)

    def add(self, what: str, reason: object) -> None:
        text = f"{what}: {_reason(reason)}"
        if text not in self.unreadable:
            self.unreadable.append(text)


def _reason(reason: object) -> str:
    if isinstance(reason, OSError):
        return reason.strerror or str(reason)
    if isinstance(reason, DockwizError):
        return reason.message
    return str(reason)


# -- paths inside the root -------------------------------------------------------------------
# Symlinks resolve inside the root (``var/run -> /run`` means the root's /run): the one
# resolver, shared with daemon.json reading.


def _host_view(host: Host, local: str) -> str:
    """A local path shown as the host sees it (paths outside a sandbox root stay as they are)."""
    if host.is_real:
        return local
    try:
        return host.host_path_of(Path(local))
    except ValueError:
        return local


# -- account databases of the root (never this machine's, never NSS) ------------------------
@dataclass
class Accounts:
    """Users and groups as the root's own /etc/passwd and /etc/group say.

    Parsed by hand instead of pwd/grp: those ask this machine's NSS, and a sandbox's socket
    group or docker group members must be the sandbox's.
    """

    users: dict[int, str] = field(default_factory=dict)
    homes: dict[str, str] = field(default_factory=dict)
    primary: dict[str, int] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    group_ids: dict[str, int] = field(default_factory=dict)
    have_group: bool = False

    def user(self, uid: int | None) -> str | None:
        if uid is None:
            return None
        return self.users.get(uid, "root" if uid == 0 else str(uid))

    def group(self, gid: int | None) -> str | None:
        if gid is None:
            return None
        return self.groups.get(gid, "root" if gid == 0 else str(gid))

    def group_members(self, name: str) -> list[str] | None:
        """Explicit members plus users whose primary group it is; None if /etc/group is unread."""
        if not self.have_group:
            return None
        gid = self.group_ids.get(name)
        if gid is None:
            return []
        names = list(self.members.get(name, []))
        names += [u for u, g in self.primary.items() if g == gid and u not in names]
        return names


def host_accounts(host: Host) -> Accounts:
    """The root's users and groups, for callers outside inspect (verify's socket check)."""
    return read_accounts(host, _Notes())


def read_accounts(host: Host, notes: _Notes) -> Accounts:
    acc = Accounts()
    for line in _read_lines(host, "/etc/passwd", notes) or []:
        cols = line.split(":")
        if len(cols) >= 7 and cols[2].isdigit() and cols[3].isdigit():
            acc.users.setdefault(int(cols[2]), cols[0])
            acc.homes[cols[0]] = cols[5]
            acc.primary[cols[0]] = int(cols[3])
    group_lines = _read_lines(host, "/etc/group", notes)
    acc.have_group = group_lines is not None
    for line in group_lines or []:
        cols = line.split(":")
        if len(cols) >= 4 and cols[2].isdigit():
            acc.groups.setdefault(int(cols[2]), cols[0])
            acc.group_ids[cols[0]] = int(cols[2])
            acc.members[cols[0]] = [m for m in cols[3].split(",") if m]
    return acc


def _read_lines(host: Host, host_path: str, notes: _Notes) -> list[str] | None:
    """Non-comment lines; None when the file is missing or unreadable (noted)."""
    try:
        text = host.resolve(host_path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except Problem as exc:
        notes.add(host_path, exc)
        return None
    return [ln for ln in text.splitlines() if ln and not ln.startswith("#")]


# -- the daemon process ----------------------------------------------------------------------
def _flag_values(argv: Sequence[str], name: str) -> list[str]:
    """Every value of the long flag ``name`` in a dockerd argv, read by the one parser."""
    return dockerd_flags.parse_dockerd_args(list(argv)).values(name)


def _same_file(a: str | Path, b: Path) -> bool:
    try:
        return Path(a).samefile(b)
    except OSError:
        return False


def _is_dockerd(proc: psutil.Process) -> bool:
    try:
        name = proc.name()
        cmd = proc.cmdline()
    except psutil.Error:
        return False
    return name == "dockerd" or (bool(cmd) and PurePosixPath(cmd[0]).name == "dockerd")


def _belongs_to_root(
    host: Host, proc: psutil.Process, pidfile_host: str, pidfile: Path
) -> bool:
    """A sandbox's daemon is one whose own view of its pidfile is the root's file.

    ``/proc/PID/root`` is the process's ``/``: for a lab daemon (private mount namespace with
    the sandbox's /run bound in) its /var/run/docker.pid *is* the root's file; for the machine's
    daemon it is the machine's. Failing that, a command line naming the root's pidfile or
    config file also proves it. A stale pidfile whose PID now belongs to another daemon fails
    both, so another lab's or the machine's daemon is never reported for a sandbox.
    """
    if host.is_real:
        return _machine_daemon(proc)
    if _same_file(f"/proc/{proc.pid}/root{pidfile_host}", pidfile):
        return True
    try:
        argv = proc.cmdline()
    except psutil.Error:
        return False
    claimed = _flag_values(argv, "pidfile")
    if any(_same_file(p, pidfile) for p in claimed):
        return True
    config = host.resolve("/etc/docker/daemon.json")
    return any(_same_file(c, config) for c in _flag_values(argv, "config-file"))


def pidfile_candidates(host: Host, flags: Sequence[str], data: dict[str, Any]) -> list[str]:
    """Where this host's daemon writes its PID: its configured pidfile, then the defaults."""
    cands = _flag_values(flags, "pidfile")
    if isinstance(data.get("pidfile"), str):
        cands.append(data["pidfile"])
    cands += list(PIDFILES)
    return list(dict.fromkeys(c for c in cands if c.startswith("/")))


def _pid_from_file(local: Path, host_path: str, notes: _Notes) -> int | None:
    try:
        text = local.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        notes.add(host_path, exc)
        return None
    return int(text) if text.isdigit() else None


def find_daemon(
    host: Host, candidates: Sequence[str], notes: _Notes
) -> psutil.Process | None:
    """The dockerd of this host: from a pidfile under the root, confirmed; on a real host,
    otherwise the machine's dockerd (not a lab's, whose pidfile lives elsewhere)."""
    for host_path in candidates:
        try:
            local = host.resolve(host_path)
        except Problem as exc:
            notes.add(host_path, exc)
            continue
        pid = _pid_from_file(local, host_path, notes)
        if pid is None:
            continue
        try:
            # a pidfile holds the PID as the daemon's own PID namespace numbers it (a
            # container's, say): the Host maps it to this machine's numbering
            proc = psutil.Process(host.resolve_pid(pid))
            if _is_dockerd(proc) and _belongs_to_root(host, proc, host_path, local):
                return proc
        except psutil.Error:
            continue
    return _scan_for_dockerd() if host.is_real else None


def _scan_for_dockerd() -> psutil.Process | None:
    """The machine's dockerd when no pidfile names it (never a lab's, see _machine_daemon)."""
    for proc in psutil.process_iter():
        if _is_dockerd(proc) and _machine_daemon(proc):
            return proc
    return None


def _machine_daemon(proc: psutil.Process) -> bool:
    """This machine's own daemon shares our mount namespace (or is a rootless one under
    rootlesskit). Lab daemons run in private mount namespaces, containers' too: not ours.
    Without the right to look (not root), the benefit of the doubt: it is the machine's."""
    try:
        ours = Path("/proc/self/ns/mnt").stat().st_ino
        theirs = Path(f"/proc/{proc.pid}/ns/mnt").stat().st_ino
    except PermissionError:
        return True
    except OSError:
        return False
    if ours == theirs:
        return True
    try:
        parent = proc.parent()
        return parent is not None and parent.name() == "rootlesskit"
    except psutil.Error:
        return False


def describe_process(proc: psutil.Process, accounts: Accounts, notes: _Notes) -> DaemonProcess:
    info = DaemonProcess(pid=proc.pid)
    try:
        info.argv = proc.cmdline()
        info.uid = proc.uids().real
        info.user = accounts.user(info.uid)
        parent = proc.parent()
        parent_name = parent.name() if parent is not None else ""
    except psutil.Error as exc:
        notes.add(f"/proc/{proc.pid}", exc)
        return info
    try:
        info.exe = proc.exe()
    except psutil.Error as exc:
        notes.add(f"/proc/{proc.pid}/exe", exc)
    info.rootless = (
        (info.uid is not None and info.uid != 0)
        or parent_name == "rootlesskit"
        or "--rootless" in info.argv
    )
    return info


# -- hosts and listeners ---------------------------------------------------------------------
def to_listener(url: str, source: str) -> Listener | None:
    """A configured ``-H``/``hosts`` entry as a Listener (``tcp://:P`` means localhost:P)."""
    text = url.strip()
    src: Any = source
    if text.startswith("fd://"):
        return Listener(kind="fd", address=text, loopback=True, source=src)
    if text.startswith(("unix://", "/")):
        path = text.removeprefix("unix://") or SOCKET_PATH
        return Listener(kind="unix", address=f"unix://{path}", loopback=True, source=src)
    m = re.fullmatch(r"(?:tcp://)?(\[[^\]]*\]|[^:/\[\]]*)(?::(\d{1,5}))?/?", text)
    if m is None:
        return None
    name = m.group(1).strip("[]") or "localhost"
    port = int(m.group(2)) if m.group(2) else 2375
    shown = f"[{name}]" if ":" in name else name
    return Listener(kind="tcp", address=f"tcp://{shown}:{port}", host=name, port=port,
                    loopback=is_loopback(name), source=src)


def configured_hosts(flag_hosts: Sequence[str], json_hosts: Sequence[str]) -> list[Listener]:
    """Every endpoint the daemon is told to serve; none at all means the default unix socket."""
    out: list[Listener] = []
    for urls, source in ((flag_hosts, "flag"), (json_hosts, "daemon.json")):
        for url in urls:
            listener = to_listener(url, source)
            if listener is not None and listener.address not in {x.address for x in out}:
                out.append(listener)
    if not out:
        out.append(Listener(kind="unix", address=f"unix://{SOCKET_PATH}", source="default"))
    return out


def add_tcp_sources(configured: list[Listener], eff: effective.Effective) -> None:
    """Every TCP source of the next start, each with the file and line that opens it: a TCP
    ListenStream handed over by docker.socket, a -H from an EnvironmentFile, a drop-in that
    wins systemd's ordering. A source already listed only gains its origin."""
    for src in eff.tcp:
        if src.host is None or src.port is None:
            continue
        shown = f"[{src.host}]" if ":" in src.host else src.host
        address = f"tcp://{shown}:{src.port}"
        same = [c for c in configured if c.kind == "tcp" and c.address == address]
        if same:
            for c in same:
                c.origin = c.origin or src.where
            continue
        configured.append(Listener(
            kind="tcp", address=address, host=src.host, port=src.port,
            loopback=is_loopback(src.host), origin=src.where,
            source="docker.socket" if src.via == "docker.socket" else src.via,
        ))


def observed_listeners(
    host: Host, pid: int, socket_unit: SocketUnitState, internal: Sequence[str], notes: _Notes
) -> list[Listener] | None:
    """The daemon's API listeners (None: /proc would not tell us, e.g. not root); unix paths
    are its own view (host paths), shown as such.

    Sockets under ``internal`` (the exec-root: libnetwork, metrics) are plumbing, not API.
    A socket bound through ``/proc/self/fd/N/NAME`` (how activators reach long directories)
    is listed by the kernel under that name; it is docker.socket's ListenStream.
    """
    found = procnet.listeners_of(pid)
    if found.unreadable:
        for line in found.unreadable:
            path, _, reason = line.partition(": ")
            notes.add(path, reason)
        return None
    streams = {PurePosixPath(p).name: p for p in socket_unit.listen_stream if p.startswith("/")}
    out: list[Listener] = []
    for listener in found.listeners:
        if listener.kind == "unix":
            path = listener.address[len("unix://"):]
            if path.startswith("/proc/self/fd/") and PurePosixPath(path).name in streams:
                path = streams[PurePosixPath(path).name]
            if any(path.startswith(prefix.rstrip("/") + "/") for prefix in internal):
                continue
            listener.address = "unix://" + _host_view(host, path)
        out.append(listener)
    return out


def internal_dirs(flags: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """The exec-root, where dockerd keeps sockets that are not the API."""
    dirs = [str(v) for v in (flags.get("exec-root"), data.get("exec-root")) if v]
    return dirs or ["/var/run/docker", "/run/docker"]


def mark_listening(configured: list[Listener], observed: list[Listener]) -> None:
    """Whether each configured endpoint is actually served by the running daemon."""
    tcp = [o for o in observed if o.kind == "tcp"]
    unix = {o.address for o in observed if o.kind == "unix"}
    for c in configured:
        if c.kind == "tcp":
            c.listening = any(
                o.port == c.port
                and (o.host == c.host or (c.loopback and o.loopback)
                     or c.host in ("0.0.0.0", "::"))  # noqa: S104 - matching, not binding
                for o in tcp
            )
        elif c.kind == "fd":
            c.listening = bool(unix)  # socket activation hands over a unix socket
        elif c.kind == "unix":
            c.listening = c.address in unix or c.address.replace("/var/run/", "/run/") in unix


# -- the socket file -------------------------------------------------------------------------
def socket_host_path(configured: list[Listener], socket_unit: SocketUnitState) -> str:
    """The unix socket clients use: the first unix host, or docker.socket's for ``fd://``."""
    for listener in configured:
        if listener.kind == "unix":
            return listener.address[len("unix://"):]
        if listener.kind == "fd":
            paths = [p for p in socket_unit.listen_stream if p.startswith("/")]
            return paths[0] if paths else SOCKET_UNIT_DEFAULT
    return SOCKET_PATH


def socket_file(host: Host, host_path: str, accounts: Accounts, notes: _Notes) -> SocketFile:
    try:
        st = os.lstat(host.resolve(host_path))
    except FileNotFoundError:
        return SocketFile(path=host_path, exists=False)
    except Problem as exc:
        notes.add(host_path, exc)
        return SocketFile(path=host_path, exists=False)
    return SocketFile(
        path=host_path, exists=True, is_socket=stat.S_ISSOCK(st.st_mode),
        mode=stat.S_IMODE(st.st_mode), owner=accounts.user(st.st_uid),
        group=accounts.group(st.st_gid),
    )


# -- version and the API ---------------------------------------------------------------------
VERSION_RE = re.compile(r"version\s+v?([0-9][^\s,]*)", re.IGNORECASE)


class BinaryVersion:
    """``dockerd --version`` on a thread: a Go binary takes ~0.2 s to start, which inspect
    spends reading files instead of waiting."""

    def __init__(self, host: Host, dockerd: str | None) -> None:
        self.dockerd = dockerd
        self.result: CommandResult | None = None
        self.thread: threading.Thread | None = None
        if dockerd is not None:
            self.thread = threading.Thread(
                target=self._run, args=(host, dockerd), name="dockerd-version", daemon=True
            )
            self.thread.start()

    def _run(self, host: Host, dockerd: str) -> None:
        self.result = host.run([dockerd, "--version"], timeout=VERSION_TIMEOUT)

    def get(self, notes: _Notes) -> str | None:
        if self.thread is None or self.dockerd is None:
            return None
        self.thread.join()
        result = self.result
        m = VERSION_RE.search(result.stdout or result.stderr) if result else None
        if result is None or not result.ok or m is None:
            reason = (result.stderr or result.stdout).strip() if result else "did not run"
            notes.add(f"{self.dockerd} --version", reason or "no output")
            return None
        return m.group(1)


def api_socket(host: Host, pid: int, observed: list[Listener], fallback: str) -> Path | None:
    """A local path that reaches the daemon's API: the configured socket, else one it serves.

    Paths are the daemon's own view: resolved under the root, or else through
    ``/proc/PID/root`` (the daemon's mount namespace), never as this machine's path.
    """
    paths = [o.address[len("unix://"):] for o in observed if o.kind == "unix"]
    for path in dict.fromkeys([fallback, *paths]):
        if not path.startswith("/"):
            continue
        for local in (_safe_resolve(host, path), Path(f"/proc/{pid}/root{path}")):
            try:
                if local is not None and local.is_socket():
                    return local
            except OSError:
                continue
    return None


def _safe_resolve(host: Host, path: str) -> Path | None:
    try:
        return host.resolve(path)
    except Problem:
        return None


class ApiError(Exception):
    """The daemon's API could not be asked (connection, timeout, garbage)."""


def unix_get(sock_path: Path, url: str, timeout: float = API_TIMEOUT) -> tuple[int, bytes]:
    """A plain HTTP/1.0 GET over AF_UNIX: status and body.

    Deliberately tiny (no ssl/http.client imports on inspect's start-up path); HTTP/1.0 makes
    the daemon close the connection after the body, so no chunked decoding is needed. Paths
    longer than sun_path (deep lab roots) are reached through /proc/self/fd of the directory.
    """
    try:
        with connect_unix(sock_path, timeout) as sock:
            sock.sendall(f"GET {url} HTTP/1.0\r\nHost: docker\r\n\r\n".encode("ascii"))
            chunks: list[bytes] = []
            size = 0
            while size <= MAX_API_BODY:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except OSError as exc:
        raise ApiError(exc.strerror or str(exc) or type(exc).__name__) from None
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if not sep or len(status) < 2 or not status[1].isdigit():
        raise ApiError(f"not an HTTP response: {head[:60]!r}")
    return int(status[1]), body


def query_api(sock: Path, version: DockerVersion, notes: _Notes,
              warnings: list[str] | None = None) -> int | None:
    """``GET /version`` and ``GET /info``: the server's own version, the running containers,
    and the daemon's own warnings (26+ says "API is accessible on http://... without
    encryption", which the TCP findings quote). Two requests, as before ``/info`` replaced
    ``/containers/json``: its ``ContainersRunning`` is the same count."""
    try:
        status, body = unix_get(sock, "/version")
        if status == 200:
            data = json.loads(body)
            version.api_server = data.get("Version")
            version.api_version = data.get("ApiVersion")
        status, body = unix_get(sock, "/info")
        if status != 200:
            notes.add(f"API at {sock}", f"HTTP {status} for /info")
            return None
        info = json.loads(body)
        if warnings is not None:
            warnings.extend(w for w in info.get("Warnings") or [] if isinstance(w, str))
        running = info.get("ContainersRunning")
        return running if isinstance(running, int) else None
    except ApiError as exc:
        notes.add(f"API at {sock}", str(exc))
    except (ValueError, AttributeError) as exc:
        notes.add(f"API at {sock}", f"unexpected answer ({exc})")
    return None


# -- TLS -------------------------------------------------------------------------------------
def _bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("", "true", "1", "t"):
        return True
    if text in ("false", "0", "f"):
        return False
    return None


def merge_tls(flags: dict[str, Any], data: dict[str, Any]) -> TlsSettings:
    """daemon.json, then flags on top (a key in both is the hosts-conflict kind of error)."""
    merged: dict[str, Any] = {}
    for source in (data, flags):
        for key in TLS_KEYS:
            if source.get(key) is not None:
                merged[key] = source[key]
    return TlsSettings(
        tls=_bool(merged.get("tls")),
        tlsverify=_bool(merged.get("tlsverify")),
        tlscacert=_str_or_none(merged.get("tlscacert")),
        tlscert=_str_or_none(merged.get("tlscert")),
        tlskey=_str_or_none(merged.get("tlskey")),
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def cert_targets(
    tls: TlsSettings, home: str, by_flag: bool
) -> list[tuple[str, str | None, CertRole]]:
    """(cert, key, role) dockerd would load.

    The ``~/.docker/{ca,cert,key}.pem`` defaults are *flag* defaults: they apply only when TLS
    is switched on by ``--tls``/``--tlsverify``; TLS enabled in daemon.json alone loads only
    the paths it names (see findings.tls_by_flag).
    """
    dot = f"{home.rstrip('/')}/.docker"
    out: list[tuple[str, str | None, CertRole]] = []
    ca = tls.tlscacert or (f"{dot}/ca.pem" if by_flag and tls.verifies_clients else None)
    if ca:
        out.append((ca, None, "ca"))
    cert = tls.tlscert or (f"{dot}/cert.pem" if by_flag and tls.enabled else None)
    key = tls.tlskey or (f"{dot}/key.pem" if by_flag and tls.enabled else None)
    if cert:
        out.append((cert, key, "server"))
    return out


def collect_certs(
    host: Host, targets: list[tuple[str, str | None, CertRole]], notes: _Notes
) -> list[CertInfo]:
    if not targets:
        return []
    from dockwiz import pki  # cryptography is slow to import; most hosts have no TLS

    certs: list[CertInfo] = []
    for cert, key, role in targets:
        try:
            info = pki.cert_info(host, cert, key, role=role)
        except Problem as exc:
            info = CertInfo(path=cert, role=role, readable=False, key_path=key,
                            error=_reason(exc))
        if info.exists and (not info.readable or info.error):
            notes.add(cert, info.error or "not readable")
        certs.append(info)
    return certs


# -- the whole picture -----------------------------------------------------------------------
def daemon_error(state: HostState) -> str | None:
    """Why the daemon cannot start, in dockerd's own words where it has them."""
    dj = state.daemon_json
    prefix = f"unable to configure the Docker daemon with file {dj.path}"
    if dj.error is not None:
        return f"{prefix}: {dj.error.message} (line {dj.error.line}, column {dj.error.col})"
    if state.hosts_conflict:
        return f"{prefix}: {state.hosts_conflict}"
    return _tls_load_error(state)


def _tls_load_error(state: HostState) -> str | None:
    """dockerd loads its TLS files before listening: a missing one stops it (its wording)."""
    if not state.tls.enabled:
        return None
    for cert in state.certs:
        if cert.exists:
            continue
        if cert.role == "ca":
            return (f'failed to load listeners: could not read CA certificate "{cert.path}": '
                    f"open {cert.path}: no such file or directory")
        return (f'failed to load listeners: Could not load X509 key pair (cert: "{cert.path}", '
                f'key: "{cert.key_path}"): open {cert.path}: no such file or directory')
    if not any(c.role == "server" for c in state.certs):
        return ('failed to load listeners: Could not load X509 key pair (cert: "", key: ""): '
                "open : no such file or directory")
    return None


def inspect_host(host: Host) -> HostState:
    """Observe ``host`` and evaluate findings; never changes anything, never raises for the
    host's own condition (see module docstring)."""
    notes = _Notes()
    dj = daemon_json.read_daemon_json(host)
    if dj.exists and not dj.readable:
        notes.add(dj.path, "permission denied")
    data = dj.data or {}
    unit = systemd.read_docker_unit(host)
    socket_unit = systemd.read_socket_unit(host)
    accounts = read_accounts(host, notes)
    dockerd = host.which("dockerd")

    unit_argv = list(unit.exec_start or [])
    proc = find_daemon(host, pidfile_candidates(host, unit_argv, data), notes)
    # The running daemon *is* the binary on the PATH when /proc/PID/exe is the same inode:
    # then the API's version is the binary's, and executing dockerd (a ~0.2 s Go start) is
    # skipped. An upgraded package replaces the file (new inode), so that case still runs it.
    runs_binary = proc is not None and dockerd is not None and _same_file(
        f"/proc/{proc.pid}/exe", Path(dockerd))
    binary = BinaryVersion(host, None if runs_binary else dockerd)
    process = describe_process(proc, accounts, notes) if proc is not None else None
    argv = process.argv if process is not None and process.argv else unit_argv
    parsed = dockerd_flags.parse_dockerd_args(argv)
    flags = {systemd.flag_to_json_key(k): v for k, v in parsed.options.items()}
    # The conflict is about the next start: the unit's command line against daemon.json.
    next_start = dockerd_flags.parse_dockerd_args(unit_argv) if unit.exists else parsed

    state = HostState(
        root=str(host.root), is_root=os.geteuid() == 0, docker_installed=dockerd is not None,
        dockerd_path=dockerd, daemon_json=dj, unit=unit, socket_unit=socket_unit,
        daemon_running=process is not None, process=process, flag_options=flags,
    )
    state.hosts_conflict = systemd.conflict_message(next_start, data)
    state.configured_hosts = configured_hosts(parsed.hosts, _as_list(data.get("hosts")))
    add_tcp_sources(state.configured_hosts, effective.derive(host))
    observed = None if process is None else observed_listeners(
        host, process.pid, socket_unit, internal_dirs(flags, data), notes)
    state.listeners = observed or []
    if observed is not None:
        mark_listening(state.configured_hosts, observed)
    sock_path = socket_host_path(state.configured_hosts, socket_unit)
    state.docker_socket = socket_file(host, sock_path, accounts, notes)
    state.docker_group_members = accounts.group_members("docker")

    state.version = DockerVersion(binary=binary.get(notes))
    if process is not None:
        api = api_socket(host, process.pid, state.listeners, sock_path)
        if api is not None:
            state.running_containers = query_api(api, state.version, notes,
                                                 state.daemon_warnings)
    if runs_binary and state.version.binary is None:
        state.version.binary = state.version.api_server or BinaryVersion(host, dockerd).get(notes)

    state.tls = merge_tls(flags, data)
    state.rootless = bool(process and process.rootless) or _bool(flags.get("rootless")) is True
    remap = flags.get("userns-remap") or data.get("userns-remap")
    state.userns_remap = str(remap) if remap else None
    state.live_restore = bool(_bool(flags.get("live-restore", data.get("live-restore"))))
    home = accounts.homes.get(process.user or "root", "/root") if process else "/root"
    by_flag = findings.tls_by_flag(state)
    state.certs = collect_certs(host, cert_targets(state.tls, home, by_flag), notes)
    if not state.daemon_running:
        state.daemon_error = daemon_error(state)
    # material where the tutorials leave it, even when daemon.json does not name it
    from dockwiz.pki.discover import discover_material

    # only paths dockerd could open: a quoted one ('"/x"', DW-FLAG-QUOTED) names no file
    named = [p for c in state.certs for p in (c.path, c.key_path) if p and p.startswith("/")]
    state.found_material = discover_material(host, named)
    state.renewal = renewal_schedule(host)
    state.ca_rollover = host.resolve(PREVIOUS_CA_PATH).exists()
    state.unreadable = notes.unreadable
    state.findings = findings.evaluate(state)
    return state


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def renewal_schedule(host: Host) -> RenewalSchedule:
    """Whether renewal is scheduled on ``host`` (for inspect): files present and enabled."""
    if host.resolve(RENEW_TIMER_PATH).exists():
        wants = host.path(RENEW_TIMER_WANTS)
        enabled = wants.is_symlink() or wants.exists()
        return RenewalSchedule(kind="systemd-timer", files=[RENEW_SERVICE_PATH, RENEW_TIMER_PATH],
                               enabled=enabled, detail="daily, randomized delay "
                               f"{RENEW_RANDOM_DELAY}" + ("" if enabled else "; NOT enabled"))
    if host.resolve(RENEW_CRON_PATH).exists():
        try:
            text: str | None = host.resolve(RENEW_CRON_PATH).read_text()
        except OSError:
            text = None
        line = next((x for x in (text or "").splitlines() if "renew" in x and not
                     x.startswith("#")), "")
        return RenewalSchedule(kind="cron", files=[RENEW_CRON_PATH], enabled=bool(line),
                               detail=line)
    return RenewalSchedule(detail="no dockwiz-renew timer or cron entry")
