"""Which source opens a TCP listener verify found, and the exact edit that removes it.

verify must never send the admin to a command that does not fix what it found (issue 12 §1):
"run dockwiz plan --mode unix" is no answer on its own when the listener comes from a place
the admin cannot see. Finding the sources is not this module's job: :func:`effective.derive`
is the one place that reads every listener source of the next start (ExecStart in systemd's
order, ``$DOCKER_OPTS`` traced to its EnvironmentFile, docker.socket's ListenStreams behind
``-H fd://``, daemon.json ``hosts``), each with its file and line (or key). This module keeps
verify's own job on top of it:

- matching a listener seen at an address and port to the sources that can open it;
- the fix for each kind of source, and what must be restarted for it to count;
- the one source no file shows: the running dockerd's own command line (started by hand, by
  another service, or before the files changed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal

from dockwiz import dockerd_flags, effective
from dockwiz.addresses import is_ip
from dockwiz.docker_paths import DOCKER_SOCKET_UNIT, DROPIN_DIR, SOCKET_UNIT_PATH
from dockwiz.procnet import is_loopback

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.models.host_state import DaemonProcess, HostState

PACKAGED_DIRS = ("/lib/systemd/", "/usr/lib/systemd/")
"""Where the package keeps its units: overridden from /etc, never edited (DOMAIN §3)."""
SOCKET_DROPIN_DIR = f"/etc/systemd/system/{DOCKER_SOCKET_UNIT}.d"

Restart = Literal["unit", "daemon", "service", "socket", "process"]
"""What must happen for an edit to count: ``unit`` systemctl restart docker (daemon.json, an
EnvironmentFile), ``daemon`` restart a dockerd no systemd unit runs, ``service`` daemon-reload
first (a unit file changed), ``socket`` docker.socket too, ``process`` stop a stray dockerd."""


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


def tcp_sources(host: Host, state: HostState | None = None) -> list[TcpSource]:
    """Every place that asks ``host``'s daemon for a TCP listener: the files as
    :func:`effective.derive` reads them (served at the next start or not: each one is an open
    door tomorrow), then what only ``state``'s running dockerd asks for."""
    try:
        eff = effective.derive(host)
    except (OSError, ValueError):  # a root dockwiz cannot read: name nothing, blame no file
        eff = effective.Effective(init="none")
    found = [_from_file(s, eff) for s in eff.tcp]
    found += _running_only(state.process if state is not None else None, found)
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
        again = "systemctl restart docker" if state is not None and state.unit.exists \
            else "restart dockerd"
        return (
            "no configuration dockwiz reads asks for it any more: the running daemon started "
            "from an older configuration",
            f"{again}, so the daemon starts from its files",
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
    fix = f"{fixes}; then {_restart(sources)}"
    if all(s.restart != "process" for s in sources):
        fix += f" (or let dockwiz do it: dockwiz plan --mode {mode}, then dockwiz apply)"
    return f"it comes from {where}", fix


# -- the fix for each kind of source ----------------------------------------------------------
def _from_file(src: effective.Source, eff: effective.Effective) -> TcpSource:
    if src.via == "daemon.json":
        return _daemon_json(src, eff)
    if src.via == "docker.socket":
        return _socket_unit(src, eff)
    if src.key is not None:  # -H in a variable the command line expands
        return _variable(src, eff)
    return _exec_start(src)


def _daemon_json(src: effective.Source, eff: effective.Effective) -> TcpSource:
    path = src.file or "daemon.json"
    local = [f'"{s.url}"' for s in eff.sources if s.via == "daemon.json" and s.kind != "tcp"]
    keep = f" (keep {', '.join(local)} there)" if local else ""
    restart: Restart = "unit" if eff.init == "systemd" else "daemon"
    return _make(src, f'"hosts" in {path} ({src.url})',
                 f'remove "{src.url}" from "hosts" in {path}{keep}', restart)


def _variable(src: effective.Source, eff: effective.Effective) -> TcpSource:
    """-H in ``$VAR``: set by an EnvironmentFile (Debian's DOCKER_OPTS in /etc/default/docker,
    also what a SysV script reads) or by an Environment= line of a unit (``file:line``)."""
    flag = f"-H {src.url}"
    file = src.file or "the unit's environment"
    if re.search(r":\d+$", file):  # Environment= in a unit file: reload the unit
        return _make(src, f"{flag} in {src.key} set by Environment= at {file}",
                     f"remove {flag} from {src.key} in the Environment= at {file}", "service")
    restart: Restart = "unit" if eff.init == "systemd" else "daemon"
    return _make(src, f"{flag} in {src.key} in {file}",
                 f"remove {flag} from {src.key} in {file}", restart)


def _exec_start(src: effective.Source) -> TcpSource:
    flag = f"-H {src.url}"
    path = src.file or "docker.service"
    at = f"{path}:{src.line}" if src.line is not None else path
    if not path.startswith(PACKAGED_DIRS):
        fix = f"remove {flag} from the ExecStart in {at}"
    elif ".d/" in path:
        name = PurePosixPath(path).name
        fix = (f"mask the packaged drop-in {path} with a same-named file in /etc "
               f"(an empty {DROPIN_DIR}/{name}; a packaged file is overridden, never edited)")
    else:
        fix = (f'override ExecStart in a drop-in {DROPIN_DIR}/override.conf ("[Service]", '
               f'"ExecStart=", then the same command line without {flag}); never edit the '
               f"packaged {path}")
    return _make(src, f"{flag} in the ExecStart of {at}", fix, "service")


def _socket_unit(src: effective.Source, eff: effective.Effective) -> TcpSource:
    """A TCP ListenStream of docker.socket, handed to dockerd by ``-H fd://``."""
    value = src.url
    path = src.file or DOCKER_SOCKET_UNIT
    at = f"{path}:{src.line}" if src.line is not None else path
    where = f"ListenStream={value} of {DOCKER_SOCKET_UNIT} ({at}), handed to dockerd by -H fd://"
    if not path.startswith(PACKAGED_DIRS):
        fix = f"delete ListenStream={value} at {at}"
    else:
        keep = [s.url.removeprefix("unix://") for s in eff.sources
                if s.via == "docker.socket" and s.kind == "unix"] or [SOCKET_UNIT_PATH]
        streams = ", ".join(f'"ListenStream={k}"' for k in keep)
        fix = (f"delete ListenStream={value} by resetting the list in a drop-in "
               f'{SOCKET_DROPIN_DIR}/override.conf ("[Socket]", "ListenStream=", {streams}); '
               f"never edit the packaged {path}")
    return _make(src, where, fix, "socket")


def _running_only(process: DaemonProcess | None, known: list[TcpSource]) -> list[TcpSource]:
    """TCP hosts on the running dockerd's command line that no file asks for."""
    if process is None or not process.argv:
        return []
    named = {(s.host, s.port) for s in known}
    out = []
    for url in dockerd_flags.parse_dockerd_args(process.argv).hosts:
        bound = _tcp(url)
        if bound is None or (bound[0], bound[1]) in named:
            continue
        out.append(TcpSource(
            address=url, host=bound[0], port=bound[1],
            where=(f"the running dockerd's command line (pid {process.pid}: -H {url}), which no "
                   "configuration file asks for (any more): it was started by hand, by another "
                   "service, or before the files changed"),
            fix=f"if it was started by hand, stop it (kill {process.pid})",
            restart="process",
        ))
    return out


# -- helpers ---------------------------------------------------------------------------------
def _make(src: effective.Source, where: str, fix: str, restart: Restart) -> TcpSource:
    assert src.port is not None  # a TCP source always has one
    return TcpSource(address=src.url, host=_bound(src.host), port=src.port, where=where,
                     fix=fix, restart=restart)


def _bound(host: str | None) -> str | None:
    """None for every address (Go binds 0.0.0.0 and :: dual-stack)."""
    return None if host in (None, "", "0.0.0.0", "::") else host  # noqa: S104 - matching


def _tcp(url: str) -> tuple[str | None, int] | None:
    if "://" in url and not url.startswith("tcp://"):
        return None  # unix://, fd://: not TCP
    parsed = effective.parse_tcp(url)
    return None if parsed is None else (_bound(parsed[0]), parsed[1])


def _reaches(host: str | None, dial: str) -> bool:
    """Whether a listener bound to ``host`` answers a client dialling ``dial``."""
    if host is None or host == dial:
        return True
    if is_loopback(host) or is_loopback(dial):
        return is_loopback(host) and is_loopback(dial)
    return not is_ip(host)  # a name may resolve to the address dialled: cannot rule it out


def _restart(sources: list[TcpSource]) -> str:
    kinds = {s.restart for s in sources}
    if "socket" in kinds:
        return f"systemctl daemon-reload && systemctl restart {DOCKER_SOCKET_UNIT} docker"
    if "service" in kinds:
        return "systemctl daemon-reload && systemctl restart docker"
    if "unit" in kinds:
        return "systemctl restart docker"
    return "restart dockerd"
