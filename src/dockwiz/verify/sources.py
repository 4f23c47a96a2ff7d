"""Where a TCP listener comes from, and the exact edit that removes it.

verify must never send the admin to a command that does not fix what it found (issue 12 §1):
"run dockwiz plan --mode unix" is no answer on its own when the listener comes from a place
the admin cannot see. So a TCP listener left in unix/ssh mode, or plain TCP served, is traced
to every place that asks for it, from what inspect already read (the HostState) and
/etc/default/docker:

- ``hosts`` in daemon.json;
- ``-H``/``--host`` in the ExecStart systemd runs, and the file that ExecStart comes from (the
  unit itself or a drop-in, in whatever unit directory);
- a variable of /etc/default/docker (``DOCKER_OPTS``) that the unit or a SysV script passes;
- a TCP ``ListenStream`` of docker.socket (socket activation hands it to ``-H fd://``);
- the running dockerd's own command line, when no file asks for the listener.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from dockwiz.addresses import is_ip
from dockwiz.docker_paths import (
    DAEMON_JSON,
    DOCKER_SOCKET_UNIT,
    DROPIN_DIR,
    SOCKET_UNIT_PATH,
    SYSV_DEFAULTS,
)
from dockwiz.dockerapi import Endpoint, parse_endpoint
from dockwiz.models.host_state import HostState
from dockwiz.procnet import is_loopback
from dockwiz.systemd import parse_dockerd_args

PACKAGED_DIRS = ("/lib/systemd/", "/usr/lib/systemd/")
"""Where the package keeps its units: overridden from /etc, never edited (DOMAIN §3)."""
SOCKET_DROPIN_DIR = f"/etc/systemd/system/{DOCKER_SOCKET_UNIT}.d"

Restart = Literal["daemon", "service", "socket", "process"]


@dataclass(frozen=True)
class TcpSource:
    """One place that asks for a TCP listener, and what removes it from there."""

    address: str
    """As that place writes it (``tcp://0.0.0.0:2375``, ``2375``)."""
    host: str | None
    """The address it binds; None for every address (a wildcard or a bare port)."""
    port: int
    where: str
    fix: str
    restart: Restart
    """What must be restarted for the edit to count."""


def tcp_sources(state: HostState, defaults: Mapping[str, str] | None = None) -> list[TcpSource]:
    """Every place that asks the daemon for a TCP listener; ``defaults`` is
    /etc/default/docker's variables (``systemd.parse_env_file``), when there is one."""
    found = [*_daemon_json(state), *_command_line(state, defaults or {}), *_socket_unit(state)]
    found += _running_only(state, found)
    return list({(s.where, s.address): s for s in found}.values())


def sources_for(sources: list[TcpSource], dial: str, port: int) -> list[TcpSource]:
    """The sources of the listener a client reaches at ``dial``:``port``."""
    return [s for s in sources if s.port == port and _reaches(s.host, dial)]


def removal(
    sources: list[TcpSource], state: HostState | None, port: int | None, mode: str = "unix"
) -> tuple[str, str]:
    """(where the listener comes from, the exact edits and restart) for a cause and a fix;
    ``mode`` is the TCP-free mode dockwiz would plan to do the same."""
    if not sources and port is None:
        return (
            "no configuration dockwiz reads asks for it any more: the running daemon started "
            "from an older configuration",
            f"{_restart([], state)}, so the daemon starts from its files",
        )
    if not sources:
        shown = f"sport = :{port}"
        return (
            "no configuration dockwiz reads asks for it (daemon.json hosts, docker.service's "
            "ExecStart and its drop-ins, /etc/default/docker, docker.socket), nor does the "
            "running dockerd's command line: another process holds the port",
            f"find and stop that process: ss -ltnp '{shown}' (in the daemon's network namespace)",
        )
    where = "; ".join(dict.fromkeys(s.where for s in sources))
    fixes = "; ".join(dict.fromkeys(s.fix for s in sources))
    fix = f"{fixes}; then {_restart(sources, state)}"
    if all(s.restart != "process" for s in sources):
        fix += f" (or let dockwiz do it: dockwiz plan --mode {mode}, then dockwiz apply)"
    return f"it comes from {where}", fix


# -- the places ------------------------------------------------------------------------------
def _daemon_json(state: HostState) -> list[TcpSource]:
    data = state.daemon_json.data or {}
    hosts = data.get("hosts")
    listed = [hosts] if isinstance(hosts, str) else hosts if isinstance(hosts, list) else []
    path = state.daemon_json.path or DAEMON_JSON
    local = [f'"{h}"' for h in listed if _tcp(str(h)) is None]
    keep = f" (keep {', '.join(local)} there)" if local else ""
    out = []
    for entry in listed:
        ep = _tcp(str(entry))
        if ep is not None:
            out.append(_source(ep, str(entry), f'"hosts" in {path} ({entry})',
                               f'remove "{entry}" from "hosts" in {path}{keep}', "daemon"))
    return out


def _command_line(state: HostState, defaults: Mapping[str, str]) -> list[TcpSource]:
    """-H in the unit's ExecStart, or in a /etc/default/docker variable it (or SysV) passes."""
    by_variable = {name: _flag_hosts(_words(value)) for name, value in defaults.items()}
    unit = state.unit
    argv = unit.exec_start if unit.exists else None
    out: list[TcpSource] = []
    if argv is None:  # no unit: a SysV script passes DOCKER_OPTS
        for name, eps in by_variable.items():
            out += [_defaults_source(ep, name) for ep in eps]
        return out
    for ep in _flag_hosts(argv):
        variable = next((n for n, eps in by_variable.items() if ep.url in {e.url for e in eps}),
                        None)
        if variable is not None:
            out.append(_defaults_source(ep, variable))
            continue
        flag = f"-H {ep.url}"
        where = unit.exec_start_source or unit.path or "docker.service"
        out.append(_source(ep, ep.url, f"{flag} in the ExecStart of {where}",
                           _exec_start_fix(where, flag), "service"))
    return out


def _defaults_source(ep: Endpoint, variable: str) -> TcpSource:
    flag = f"-H {ep.url}"
    return _source(ep, ep.url, f"{flag} in {variable} in {SYSV_DEFAULTS}",
                   f"remove {flag} from {variable} in {SYSV_DEFAULTS}", "daemon")


def _exec_start_fix(path: str, flag: str) -> str:
    if not path.startswith(PACKAGED_DIRS):
        return f"remove {flag} from the ExecStart in {path}"
    if ".d/" in path:
        name = PurePosixPath(path).name
        return (f"mask the packaged drop-in {path} with a same-named file in /etc "
                f"(an empty {DROPIN_DIR}/{name}; a packaged file is overridden, never edited)")
    return (f'override ExecStart in a drop-in {DROPIN_DIR}/override.conf ("[Service]", '
            f'"ExecStart=", then the same command line without {flag}); never edit the '
            f"packaged {path}")


def _socket_unit(state: HostState) -> list[TcpSource]:
    socket = state.socket_unit
    out = []
    for value in socket.listen_stream:
        bound = _listen_stream(value)
        if bound is None:
            continue
        host, port = bound
        path = socket.path or DOCKER_SOCKET_UNIT
        where = (f"ListenStream={value} of {DOCKER_SOCKET_UNIT} ({path} or a drop-in of it: "
                 f"systemctl cat {DOCKER_SOCKET_UNIT} shows which), handed to dockerd by -H fd://")
        fix = (f"delete ListenStream={value} where it is set; if that is the packaged {path}, "
               f'reset the list in a drop-in {SOCKET_DROPIN_DIR}/override.conf ("[Socket]", '
               f'"ListenStream=", "ListenStream={SOCKET_UNIT_PATH}")')
        out.append(TcpSource(address=value, host=host, port=port, where=where, fix=fix,
                             restart="socket"))
    return out


def _running_only(state: HostState, known: list[TcpSource]) -> list[TcpSource]:
    """TCP hosts on the running dockerd's command line that no file asks for."""
    process = state.process
    if process is None or not process.argv:
        return []
    named = {(s.host, s.port) for s in known}
    out = []
    for ep in _flag_hosts(process.argv):
        host = None if ep.is_wildcard else ep.host
        if (host, ep.port) in named:
            continue
        out.append(_source(
            ep, ep.url,
            f"the running dockerd's command line (pid {process.pid}: -H {ep.url}), which no "
            "configuration file asks for (any more): it was started by hand, by another "
            "service, or before the files changed",
            f"if it was started by hand, stop it (kill {process.pid})",
            "process",
        ))
    return out


# -- helpers ---------------------------------------------------------------------------------
def _source(ep: Endpoint, address: str, where: str, fix: str, restart: Restart) -> TcpSource:
    assert ep.port is not None
    return TcpSource(address=address, host=None if ep.is_wildcard else ep.host, port=ep.port,
                     where=where, fix=fix, restart=restart)


def _tcp(url: str) -> Endpoint | None:
    try:
        ep = parse_endpoint(url)
    except ValueError:
        return None
    return ep if ep.kind == "tcp" else None


def _flag_hosts(argv: list[str]) -> list[Endpoint]:
    found = (_tcp(h) for h in parse_dockerd_args(argv).hosts)
    return [ep for ep in found if ep is not None]


def _words(value: str) -> list[str]:
    """A variable's value as the words a shell (or systemd's $VAR) passes: argv[0] first."""
    try:
        return ["dockerd", *shlex.split(value)]
    except ValueError:
        return ["dockerd", *value.split()]


def _listen_stream(value: str) -> tuple[str | None, int] | None:
    """A TCP ListenStream (systemd.socket(5)): a bare port binds every address."""
    text = value.strip()
    if text.isdigit():
        return None, int(text)
    if text.startswith(("/", "@")) or ":" not in text:
        return None  # a unix socket (a path, or an abstract name)
    if text.startswith("vsock:"):
        return None
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        return None
    host = host.strip("[]")
    return (None if host in ("", "0.0.0.0", "::") else host), int(port)  # noqa: S104


def _reaches(host: str | None, dial: str) -> bool:
    """Whether a listener bound to ``host`` answers a client dialling ``dial``."""
    if host is None or host == dial:
        return True
    if is_loopback(host) or is_loopback(dial):
        return is_loopback(host) and is_loopback(dial)
    return not is_ip(host)  # a name may resolve to the address dialled: cannot rule it out


def _restart(sources: list[TcpSource], state: HostState | None) -> str:
    kinds = {s.restart for s in sources}
    if "socket" in kinds:
        return f"systemctl daemon-reload && systemctl restart {DOCKER_SOCKET_UNIT} docker"
    if "service" in kinds:
        return "systemctl daemon-reload && systemctl restart docker"
    if state is not None and state.unit.exists:
        return "systemctl restart docker"
    return "restart dockerd"
