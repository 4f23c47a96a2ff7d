"""``systemctl`` for a lab's docker.service, so a tutorial can be followed literally in a lab.

A lab has no systemd (the machines have none as PID 1, DOMAIN §10), yet every tutorial says
``systemctl daemon-reload`` and ``systemctl restart docker``. Inside ``dockwiz lab shell`` and
``lab run`` a shim named ``systemctl`` comes first on PATH and lands here; ``dockwiz lab
restart`` is the same restart. What each verb does mirrors systemd on a real host:

* ``daemon-reload``: nothing to do. The lab re-reads the unit, its drop-ins and
  /etc/default/docker on every start, which is what a reload followed by a restart means.
* ``reload``: SIGHUP, as the unit's ExecReload does.
* ``restart``/``start``/``stop``: the lab's service manager (a start reads the sandbox's unit
  and daemon.json afresh); a failed start prints systemd's message and then dockerd's own
  reason, the line the admin would dig out of ``journalctl -u docker``.
* ``status``, ``cat``, ``is-active``: rendered from the sandbox's files and the live daemon.

Anything else is refused with the list of what is understood (exit 1), never silently ignored.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from typing import TextIO

import psutil

from dockwiz.host import CommandResult
from dockwiz.lab.current import lab_now
from dockwiz.lab.lab import Lab, LabServiceManager
from dockwiz.lab.logs import log_tail
from dockwiz.systemd import parse_unit, read_docker_unit

UNITS = ("docker", "docker.service", "docker.socket")
VERBS = ("daemon-reload", "start", "stop", "restart", "reload", "status", "cat", "is-active")
# systemctl's exit codes: 3 = unit not active (status/is-active), 5 = no such unit
EXIT_INACTIVE = 3
EXIT_NO_UNIT = 5


def restart(lab: Lab) -> CommandResult:
    """What ``systemctl restart docker`` is on a real host: stop, re-read, start, wait."""
    return LabServiceManager(lab).restart()


def systemctl(lab: Lab, args: list[str], out: TextIO | None = None,
              err: TextIO | None = None) -> int:
    """Run one systemctl command line against the lab; returns systemctl's exit status."""
    stdout = out or sys.stdout
    stderr = err or sys.stderr
    words = [a for a in args if not a.startswith("-")]  # --no-pager, -l, --full: no effect here
    if not words or words[0] not in VERBS:
        what = words[0] if words else "(nothing)"
        print(f"systemctl: the lab understands {', '.join(VERBS)} for docker, not {what!r}",
              file=stderr)
        return 1
    verb, units = words[0], words[1:]
    if verb == "daemon-reload":
        return 0
    if not units:
        print(f"Too few arguments: systemctl {verb} docker", file=stderr)
        return 1
    for unit in units:
        if unit not in UNITS:
            name = unit if "." in unit else f"{unit}.service"
            print(f"Failed to {verb} {name}: Unit {name} not found.", file=stderr)
            return EXIT_NO_UNIT
    actions: dict[str, Callable[[], int]] = {
        "start": lambda: _control(lab, "start", stderr),
        "stop": lambda: _control(lab, "stop", stderr),
        "restart": lambda: _control(lab, "restart", stderr),
        "reload": lambda: _control(lab, "reload", stderr),
        "status": lambda: _status(lab, stdout),
        "cat": lambda: _cat(lab, stdout),
        "is-active": lambda: _is_active(lab, stdout, quiet="--quiet" in args or "-q" in args),
    }
    return actions[verb]()


def _control(lab: Lab, verb: str, stderr: TextIO) -> int:
    manager = LabServiceManager(lab)
    result = {"start": manager.start, "stop": manager.stop, "restart": manager.restart,
              "reload": manager.reload}[verb]()
    if result.ok:
        return 0
    print(f"Job for docker.service failed because the control process exited with error code.\n"
          f'See "systemctl status docker.service" and "journalctl -xeu docker.service" for '
          f"details.\n{result.stderr.rstrip()}", file=stderr)
    return 1


def _is_active(lab: Lab, stdout: TextIO, *, quiet: bool) -> int:
    state = lab_now(lab).state
    word = {"running": "active", "failed": "failed", "stopped": "inactive"}[state]
    if not quiet:
        print(word, file=stdout)
    return 0 if state == "running" else EXIT_INACTIVE


def _cat(lab: Lab, stdout: TextIO) -> int:
    host = lab.host()
    unit = read_docker_unit(host)
    if unit.path is None:
        print("No files found for docker.service.", file=sys.stderr)
        return 1
    chunks = [(unit.path, host.read_text(unit.path))]
    chunks += [(d.path, d.text) for d in unit.dropins]
    print("\n".join(f"# {path}\n{text.rstrip()}\n" for path, text in chunks), file=stdout,
          end="")
    return 0


def _status(lab: Lab, stdout: TextIO) -> int:
    host = lab.host()
    unit = read_docker_unit(host)
    now = lab_now(lab)
    info = lab.info
    description = "docker.service"
    if unit.path is not None:
        values = parse_unit(host.read_text(unit.path), unit.path).values("Unit", "Description")
        description = values[-1] if values else description
    dot = {"running": "●", "failed": "×", "stopped": "○"}[now.state]
    engine = f"Docker {now.dockerd_version}" if now.dockerd_version else "the machine's Docker"
    lines = [f"{dot} docker.service - {description} (dockwiz lab, {engine})",
             f"     Loaded: loaded ({unit.path or 'not found'}; enabled)"]
    if unit.dropins:
        first, *rest = unit.dropins
        lines.append(f"    Drop-In: {first.path}")
        lines += [f"             {d.path}" for d in rest]
    if now.state == "running" and now.pid is not None:
        since = _since(now.pid)
        lines.append(f"     Active: active (running){since}")
        lines.append(f"   Main PID: {now.pid} (dockerd)")
        lines += [f"     Listen: {li}" for li in now.listeners]
    elif now.state == "failed":
        lines.append("     Active: failed (Result: exit-code)")
        if info.error:
            lines.append(f"     Reason: {info.error}")
    else:
        lines.append("     Active: inactive (dead)")
    if now.exec_start:
        lines.append(f"  ExecStart: {' '.join(now.exec_start)}")
    tail = log_tail(lab.dir / "dockerd.log", info.log_offset, lines=10)
    print("\n".join(lines) + ("\n\n" + tail if tail else ""), file=stdout)
    return 0 if now.state == "running" else EXIT_INACTIVE


def _since(pid: int) -> str:
    try:
        started = dt.datetime.fromtimestamp(psutil.Process(pid).create_time(), dt.UTC)
    except psutil.Error:
        return ""
    return f" since {started:%a %Y-%m-%d %H:%M:%S} UTC"
