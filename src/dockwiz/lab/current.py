"""What a lab is NOW: its engine, the listeners open in its namespace, its config as written.

``lab status`` used to repeat the scenario's original description (and "2375") after an apply
had long changed the lab. A student following a tutorial needs the lab's present truth, so
everything here is read afresh: listeners from ``/proc`` of the running daemon (in its own
network namespace, see ``procnet``), daemon.json and the unit's ExecStart from the sandbox's
files as they are on disk.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from dockwiz.lab.lab import Lab, LabState, lab_state
from dockwiz.models.host_state import Listener
from dockwiz.procnet import listeners_of
from dockwiz.systemd import read_docker_unit

TLS_KEYS = ("tls", "tlsverify", "tlscacert", "tlscert", "tlskey")
INTERNAL_SOCKET_DIRS = ("/var/run/docker/", "/run/docker/")


class LabNow(BaseModel):
    """The lab's current state and configuration (what ``lab status`` prints)."""

    state: LabState
    pid: int | None
    engine: str | None
    engine_version: str | None
    dockerd_version: str | None
    listeners: list[str] = Field(default_factory=list)  # "tcp 10.77.1.2:2376", "unix /run/..."
    exec_start: list[str] | None = None
    exec_start_source: str | None = None
    daemon_json_hosts: list[str] | None = None
    daemon_json_tls: dict[str, Any] = Field(default_factory=dict)
    daemon_json_problem: str | None = None


def lab_now(lab: Lab) -> LabNow:
    info = lab.refresh().info
    state = lab_state(lab)
    now = LabNow(state=state, pid=info.pid if state == "running" else None, engine=info.engine,
                 engine_version=info.engine_version, dockerd_version=info.dockerd_version)
    if now.pid is not None:
        now.listeners = [text for li in listeners_of(now.pid).listeners
                         if (text := _listener_text(li)) is not None]
    unit = read_docker_unit(lab.host())
    now.exec_start = unit.exec_start
    now.exec_start_source = unit.exec_start_source
    _read_daemon_json(lab, now)
    return now


def _listener_text(li: Listener) -> str | None:
    """An API listener as an admin writes it; dockerd's internal sockets are left out."""
    if li.kind == "tcp":
        host = li.host or "?"
        return f"tcp {'[' + host + ']' if ':' in host else host}:{li.port}"
    path = li.address.removeprefix("unix://")
    if path.startswith(INTERNAL_SOCKET_DIRS):
        return None  # metrics.sock, libnetwork's, containerd's: not endpoints of the API
    if path.startswith("/proc/self/fd/"):
        return "unix /run/docker.sock (docker.socket's, handed over as fd 3)"
    return f"unix {path}"


def _read_daemon_json(lab: Lab, now: LabNow) -> None:
    path = lab.root / "etc/docker/daemon.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        now.daemon_json_problem = "no /etc/docker/daemon.json"
        return
    except (OSError, ValueError) as exc:
        now.daemon_json_problem = f"/etc/docker/daemon.json is not valid JSON ({exc})"
        return
    if not isinstance(data, dict):
        now.daemon_json_problem = "/etc/docker/daemon.json is not a JSON object"
        return
    hosts = data.get("hosts")
    now.daemon_json_hosts = [str(h) for h in hosts] if isinstance(hosts, list) else None
    now.daemon_json_tls = {k: data[k] for k in TLS_KEYS if k in data}
