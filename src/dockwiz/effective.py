"""What dockerd will listen on at its next start, derived from the files under the Host root only.

Why: "secured" must be what the files say, never what the planner meant to write. Issue 12
found three ways a TCP listener survived a plan that said "No changes": a combined short flag
(``-DH tcp://...``), a drop-in in another directory that wins systemd's ordering, and a second
``ListenStream`` in docker.socket handed to ``-H fd://``. This module is the one place that
reads every source of a listener, as the daemon's start would, and names the file and line
(or key) of each, so inspect can report it, plan can remove it, and apply can refuse to restart
while one the mode forbids remains (:func:`forbidden_after_write`).

Sources, in the order dockerd meets them:

* the command line: docker.service's ExecStart in systemd's order (systemd.py: the first
  fragment on the unit path, drop-ins of every ``docker.service.d`` sorted by file name, an
  /etc file masking a same-named one lower down, ``ExecStart=`` resetting), with ``$VAR``
  expanded from Environment=/EnvironmentFile= (Debian's ``$DOCKER_OPTS`` from
  /etc/default/docker). Without a unit, a SysV init script that passes ``$DOCKER_OPTS``.
* ``-H fd://``: every ListenStream of docker.socket, TCP ones included (socket activation hands
  dockerd all of them).
* daemon.json ``hosts`` (only without ``-H``: with both, dockerd does not start at all).
* none of these: the default unix socket.

Reads only; never raises for a host that is merely unusual (problems are listed).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from dockwiz import daemon_json, dockerd_flags, systemd
from dockwiz.docker_paths import PLAIN_PORT, SOCKET_URL  # PLAIN_PORT: moby's DefaultHTTPPort
from dockwiz.host import Host
from dockwiz.models.plan import FileChange, Plan

DEFAULTS_FILE = "/etc/default/docker"
SYSV_SCRIPT = "/etc/init.d/docker"


class Source(BaseModel):
    """One endpoint dockerd is told to serve, and exactly where that is said."""

    url: str  # as written: "tcp://0.0.0.0:2375", "fd://", "unix:///run/docker.sock", "2375"
    kind: Literal["tcp", "unix", "fd"]
    host: str | None = None  # TCP: the address to bind ("localhost" stays as written)
    port: int | None = None
    via: Literal["flag", "docker.socket", "daemon.json", "default"]
    file: str | None = None  # host path of the file that says it
    line: int | None = None
    key: str | None = None  # "DOCKER_OPTS", "hosts[1]", "ListenStream"
    active: bool = True  # False: dockerd would not serve it (conflict, no fd:// ...)

    @property
    def where(self) -> str:
        place = self.file or "dockerd's default"
        if self.line is not None:
            place += f":{self.line}"
        return f"{place} ({self.key})" if self.key else place

    @property
    def bind_key(self) -> str:
        """``*:PORT`` for a wildcard (Go binds 0.0.0.0 dual-stack), loopback by its IP."""
        host = self.host or ""
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - matching, not binding
            host = "*"
        elif host == "localhost":
            host = "127.0.0.1"
        return f"{host}:{self.port}"


class Effective(BaseModel):
    """The next start's command line and every listener source, with where each comes from."""

    init: Literal["systemd", "sysv", "none"]
    argv: list[str] | None = None
    exec_source: str | None = None
    exec_line: int | None = None
    sources: list[Source] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)

    @property
    def tcp(self) -> list[Source]:
        """Every TCP source in the files, served or not: each one is an open door tomorrow."""
        return [s for s in self.sources if s.kind == "tcp"]

    @property
    def listeners(self) -> list[Source]:
        """What dockerd will really serve at the next start."""
        return [s for s in self.sources if s.active]


# -- addresses --------------------------------------------------------------------------------
def parse_tcp(url: str) -> tuple[str, int] | None:
    """moby's ParseTCPAddr for a daemon host: ``tcp://`` optional, host defaults to
    ``localhost``, port to 2375; None when dockerd would refuse the address."""
    rest = url.strip().removeprefix("tcp://")
    if "://" in rest:
        return None
    rest = rest.rstrip("/")
    if rest.startswith("["):
        m = re.fullmatch(r"\[([^\]]*)\](?::(\d*))?", rest)
        if m is None:
            return None
        host, port = m.group(1), m.group(2) or ""
    elif rest.count(":") > 1:
        return None  # Go's SplitHostPort: "too many colons"
    else:
        host, _, port = rest.partition(":")
    if port and (not port.isdigit() or int(port) > 65535):
        return None
    return host or "localhost", int(port) if port else PLAIN_PORT


def parse_listen_stream(value: str) -> tuple[str, int] | str | None:
    """systemd's socket_address_parse for ListenStream=: a path (str), an (address, port)
    pair (a bare port binds every address, IPv6 dual-stack), or None if systemd refuses it."""
    if value.startswith(("/", "@")):
        return value
    if value.isdigit():
        port = int(value)
        return ("::", port) if 0 < port < 65536 else None
    m = re.fullmatch(r"\[([^\]]+)\]:(\d+)", value) or re.fullmatch(r"([0-9.]+):(\d+)", value)
    if m is None:
        return None
    try:
        ipaddress.ip_address(m.group(1))
    except ValueError:
        return None  # systemd does not resolve names
    port = int(m.group(2))
    return (m.group(1), port) if 0 < port < 65536 else None


class _Where(BaseModel):
    via: Literal["flag", "docker.socket", "daemon.json", "default"]
    file: str | None = None
    line: int | None = None
    key: str | None = None
    active: bool = True


def _source_for(url: str, where: _Where) -> Source | None:
    text = url.strip()
    place = where.model_dump()
    if text.startswith("fd://"):
        return Source(url=text, kind="fd", **place)
    if text.startswith("unix://") or text == "":
        return Source(url=text or SOCKET_URL, kind="unix", **place)
    if "://" in text and not text.startswith("tcp://"):
        return None  # npipe://, ssh://: not served on Linux
    parsed = parse_tcp(text)
    if parsed is None:
        return None
    return Source(url=text, kind="tcp", host=parsed[0], port=parsed[1], **place)


# -- the derivation ---------------------------------------------------------------------------
def derive(host: Host) -> Effective:
    """Every listener source of ``host``'s dockerd at its next start, from its files only."""
    unit = systemd.effective_exec_start(host)
    fragment = systemd.find_fragment(host, "docker.service")
    if fragment is not None:
        eff = Effective(init="systemd", argv=unit.argv, exec_source=unit.source,
                        exec_line=unit.line, problems=list(unit.problems))
        origins = unit.origins if unit.argv is not None else []
        env_sources = unit.environment_sources
    else:
        eff, origins, env_sources = _sysv(host)
    json_state = daemon_json.read_daemon_json(host)
    data = json_state.data or {}
    flags = dockerd_flags.parse_dockerd_args(eff.argv or [])
    eff.problems += [f"dockerd's command line: {e}" for e in flags.errors]
    eff.problems += [f"dockerd does not know {u}" for u in flags.unknown]
    conflict = systemd.conflict_message(flags, data)
    if conflict:
        eff.problems.append(f"dockerd will not start: {conflict}")
    _flag_sources(host, eff, flags, origins, env_sources)
    file_hosts = data.get("hosts")
    if isinstance(file_hosts, str):
        file_hosts = [file_hosts]
    if isinstance(file_hosts, list):
        for i, url in enumerate(file_hosts):
            src = _source_for(str(url), _Where(via="daemon.json", file=json_state.path,
                                               key=f"hosts[{i}]", active=not flags.hosts))
            if src is not None:
                eff.sources.append(src)
    if not flags.hosts and not any(s.via == "daemon.json" for s in eff.sources):
        eff.sources.append(Source(url=SOCKET_URL, kind="unix", via="default"))
    if conflict or (eff.argv is None and eff.init != "none"):
        for s in eff.sources:
            s.active = False  # dockerd does not start at all
    return eff


def _flag_sources(host: Host, eff: Effective, flags: dockerd_flags.DockerdFlags,
                  origins: list[str | None], env_sources: dict[str, str]) -> None:
    """-H flags (attributed to the EnvironmentFile when they came from ``$VAR``), and
    docker.socket's ListenStreams for ``-H fd://``."""
    position = 1  # argv index of the first token of each group (argv[0] is the program)
    group_start: dict[int, int] = {}
    for a in flags.args:
        if a.group not in group_start:
            group_start[a.group] = position
            position += len(a.tokens)
    fd_seen = False
    for a in flags.flags:
        if a.name != "host" or a.problem is not None:
            continue
        index = group_start[a.group]
        var = origins[index] if index < len(origins) else None
        if eff.init == "sysv":
            where = _Where(via="flag", file=DEFAULTS_FILE, key="DOCKER_OPTS")
        elif var is not None:
            where = _Where(via="flag", file=env_sources.get(var, "the unit's environment"),
                           key=var)
        else:
            where = _Where(via="flag", file=eff.exec_source, line=eff.exec_line)
        src = _source_for(a.value or "", where)
        if src is None:
            eff.problems.append(f"dockerd refuses the host {a.value!r}")
            continue
        eff.sources.append(src)
        if src.kind == "fd" and not fd_seen:
            fd_seen = True
            _socket_sources(host, eff)


def _socket_sources(host: Host, eff: Effective) -> None:
    streams, present = systemd.socket_listen_streams(host)
    if not present or not streams:
        eff.problems.append("-H fd:// without a docker.socket to hand over: dockerd fails "
                            "('no sockets found via socket activation')")
        return
    for entry in streams:
        parsed = parse_listen_stream(entry.value)
        where = _Where(via="docker.socket", file=entry.path, line=entry.line,
                       key="ListenStream").model_dump()
        if parsed is None:
            eff.problems.append(f"{entry.path}:{entry.line}: ListenStream={entry.value} is not "
                                "an address systemd accepts")
        elif isinstance(parsed, str):
            eff.sources.append(Source(url=f"unix://{parsed}", kind="unix", **where))
        else:
            eff.sources.append(Source(url=entry.value, kind="tcp", host=parsed[0],
                                      port=parsed[1], **where))


def _sysv(host: Host) -> tuple[Effective, list[str | None], dict[str, str]]:
    """No docker.service: Debian's /etc/init.d/docker starts dockerd with $DOCKER_OPTS."""
    try:
        script = host.read_text(SYSV_SCRIPT)
    except (OSError, ValueError):
        return Effective(init="none"), [], {}
    argv = ["/usr/bin/dockerd"]
    if "DOCKER_OPTS" in script:
        try:
            env = systemd.parse_env_file(host.read_text(DEFAULTS_FILE))
            argv += shlex.split(env.get("DOCKER_OPTS", ""))
        except (OSError, ValueError):
            pass
    return Effective(init="sysv", argv=argv), [], {}


# -- what a mode forbids ----------------------------------------------------------------------
def forbidden_tcp(eff: Effective, allowed: list[str]) -> list[Source]:
    """TCP sources other than the ``allowed`` endpoints (tcp:// URLs; none for unix/ssh)."""
    keys = set()
    for url in allowed:
        parsed = parse_tcp(url)
        if parsed is not None:
            keys.add(Source(url=url, kind="tcp", host=parsed[0], port=parsed[1],
                            via="flag").bind_key)
    return [s for s in eff.tcp if s.bind_key not in keys]


def allowed_tcp(plan: Plan) -> list[str]:
    """The TCP endpoints the plan means to serve (none in unix and ssh modes)."""
    return [e.url for e in plan.endpoints_after if e.url.startswith("tcp://")]


def describe(sources: list[Source]) -> str:
    return "; ".join(f"{s.url} from {s.where}" for s in sources)


# Files the derivation reads (beside the env files a unit names): copied for derive_after.
_READ = (
    "/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system",
    "/usr/lib/systemd/system", "/etc/docker/daemon.json", DEFAULTS_FILE, SYSV_SCRIPT,
)


def derive_after(host: Host, files: list[FileChange]) -> Effective:
    """:func:`derive` over the host's files as they will be once ``files`` are written.

    Builds a scratch root with copies of what the derivation reads (symlinks inside the root
    resolved, as the host would), then writes the plan's files on top. Reads the host only.
    """
    with tempfile.TemporaryDirectory(prefix="dockwiz-effective-") as tmp:
        scratch = Path(tmp)
        wanted = [*_READ, *_env_files(host)]
        for host_path in wanted:
            _copy_in(host, host_path, scratch)
        write_changes(scratch, files)
        return derive(Host(scratch))


def write_changes(root: Path, files: list[FileChange]) -> None:
    """Lay ``files`` over a scratch root (plain writes with their modes; None deletes). Only
    for scratch trees: the real apply writes atomically through its transaction."""
    for change in files:
        target = root / change.path.lstrip("/")
        if change.after is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(change.after)
        target.chmod(change.mode)


def _env_files(host: Host) -> list[str]:
    out = []
    for path in systemd.effective_exec_start(host).environment_sources.values():
        out.append(path.rsplit(":", 1)[0] if re.search(r":\d+$", path) else path)
    return out


def _copy_in(host: Host, host_path: str, scratch: Path) -> None:
    """Copy one file or unit dir into the scratch root; a link to /dev/null (a mask) becomes
    an empty file, which systemd also reads as masked (systemd.unit(5))."""
    target = scratch / host_path.lstrip("/")
    try:
        resolved = host.resolve_host_path(host_path)
        if resolved == "/dev/null":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("")
            return
        local = host.path(resolved)
        if local.is_dir():
            if host_path in _READ:  # a unit dir: only docker's units and drop-in dirs
                for name in _UNIT_NAMES:
                    _copy_in(host, f"{host_path}/{name}", scratch)
            else:  # a drop-in dir
                for entry in sorted(local.iterdir()):
                    if entry.name.endswith(".conf"):
                        _copy_in(host, f"{host_path}/{entry.name}", scratch)
        elif local.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, target)
    except (OSError, ValueError):
        return


_UNIT_NAMES = ("docker.service", "docker.socket", "docker.service.d", "docker.socket.d")


def forbidden_after_write(host: Host, plan: Plan) -> list[str]:
    """For apply, right after writing and before the restart: every TCP source the plan's
    mode forbids that the files as written still carry ([] = safe to restart). Any entry
    means: fail and roll back, the daemon would come back with a listener nobody planned."""
    eff = derive(host)
    left = forbidden_tcp(eff, allowed_tcp(plan))
    return [f"TCP listener {s.url} remains, from {s.where}" for s in left]
