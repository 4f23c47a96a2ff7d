"""``dockwiz lab``: throwaway lab hosts with a real dockerd in a known starting state.

A scenario that is *meant* to leave the daemon stopped (commented-json, hosts-conflict) is a
successful ``lab up``: the exit status says whether the lab reached the state the scenario
promises, and the daemon's own reason is printed either way.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dockwiz.commands._common import print_json

if TYPE_CHECKING:
    from dockwiz.lab.lab import Lab


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    from dockwiz.lab.engines import ENGINES
    from dockwiz.lab.lab import SCENARIOS

    sub = parser.add_subparsers(dest="lab_command", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="lay out a lab host and start its dockerd")
    up.add_argument("--dir", required=True, help="lab directory (new or empty)")
    up.add_argument(
        "--scenario",
        required=True,
        choices=sorted(SCENARIOS),
        help="starting state: "
        + "; ".join(f"{s.name}: {s.title}" for s in SCENARIOS.values()),
    )
    up.add_argument(
        "--docker",
        choices=list(ENGINES),
        default=None,
        help="the Docker engine the lab runs (Debian's docker.io; fetched from Debian's "
        "archive into a cache on first use, never installed): default the machine's docker.io "
        "when it is one of these, else 20.10",
    )
    up.add_argument("--wait", type=float, default=30.0, help="seconds to wait for /_ping")
    up.add_argument("--json", action="store_true", help="print the lab as JSON")
    up.set_defaults(func=_up)

    status = sub.add_parser("status", help="show a lab's state")
    status.add_argument("--dir", required=True)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_status)

    restart = sub.add_parser(
        "restart", help="what 'systemctl restart docker' is on a real host: re-read the lab's "
        "units and daemon.json, restart dockerd, show its own error if it fails")
    restart.add_argument("--dir", required=True)
    restart.set_defaults(func=_restart)

    engines = sub.add_parser("engines", help="the Docker engines labs can run: cached or not, "
                             "size, exact version")
    engines.add_argument("--fetch", action="store_true",
                         help="fetch every engine not cached yet (what the test suite needs)")
    engines.add_argument("--json", action="store_true")
    engines.set_defaults(func=_engines)

    ctl = sub.add_parser("systemctl", help="systemctl for the lab's docker.service (what the "
                         "'systemctl' inside lab shell/run calls)")
    ctl.add_argument("--dir", required=True)
    ctl.add_argument("args", nargs=argparse.REMAINDER, help="e.g. -- restart docker")
    ctl.set_defaults(func=_systemctl)

    shell = sub.add_parser("shell", help="an interactive shell on the lab host")
    shell.add_argument("--dir", required=True)
    shell.set_defaults(func=_shell)

    run = sub.add_parser("run", help="run a command on the lab host: lab run --dir D -- CMD")
    run.add_argument("--dir", required=True)
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="the command (after --)")
    run.set_defaults(func=_run)

    down = sub.add_parser("down", help="stop the lab's daemon and remove its namespace")
    down.add_argument("--dir", required=True)
    down.set_defaults(func=_down)

    lst = sub.add_parser("list", help="labs on this machine")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_list)


def _up(args: argparse.Namespace) -> int:
    from dockwiz.lab.lab import SCENARIOS, lab_up

    spec = SCENARIOS[args.scenario]
    if spec.slow_start_s >= 5 and not args.json:
        print(
            f"starting {spec.name}: dockerd deliberately sleeps about {spec.slow_start_s:.0f} s "
            "on this config (plain TCP on a non-loopback address without explicit TLS "
            "settings)...",
            file=sys.stderr,
        )
    lab = lab_up(Path(args.dir), args.scenario, wait=args.wait, docker=args.docker,
                 progress=lambda msg: print(msg, file=sys.stderr))
    if args.json:
        print_json(lab.info)
    else:
        _describe(lab)
    return 0 if lab.info.state == spec.expect_state else 1


def _describe(lab: Lab) -> None:
    """The lab as it is now (engine, open listeners, config on disk), not as it started."""
    from dockwiz.lab.current import lab_now
    from dockwiz.lab.lab import SCENARIOS, lab_is_up

    info = lab.info
    spec = SCENARIOS.get(info.scenario)
    engine = (f"Docker {info.dockerd_version} (docker.io {info.engine_version}, --docker "
              f"{info.engine})" if info.engine else "the machine's dockerd")
    print(f"lab {info.dir}: started from scenario {info.scenario}; engine {engine}")
    if not lab_is_up(lab):
        print(f"  the lab is down; start a new one with: dockwiz lab up --dir {info.dir} "
              f"--scenario {info.scenario}")
        return
    now = lab_now(lab)
    if now.state == "running":
        took = f", /_ping answered {info.start_seconds:.2f} s after start" if (
            info.start_seconds is not None) else ""
        print(f"  dockerd: running, pid {now.pid}{took}")
    else:
        expected = spec is not None and spec.expect_state == now.state
        print(f"  dockerd: {now.state}" + (" (as this scenario intends)" if expected else ""))
        if info.error:
            print(f"  reason: {info.error}")
    if now.state == "running":
        print("  listening now: " + (", ".join(now.listeners) or "nothing"))
    if now.exec_start:
        print(f"  ExecStart ({now.exec_start_source}): {' '.join(now.exec_start)}")
    if now.daemon_json_problem:
        print(f"  daemon.json: {now.daemon_json_problem}")
    else:
        hosts = ", ".join(now.daemon_json_hosts) if now.daemon_json_hosts is not None else "-"
        tls = ", ".join(f"{k}={v}" for k, v in now.daemon_json_tls.items()) or "none"
        print(f"  daemon.json now: hosts {hosts}; tls settings {tls}")
    print(f"  network namespace: {info.netns}, lab address {info.address}")
    print(f"  host root: {info.root}")
    print(f"  unix socket: {info.socket}")
    if info.client_cert_dir:
        print(f"  client bundle (made at lab up): {info.client_cert_dir}")
    print(f"  daemon log: {info.dir}/dockerd.log")
    print(f"  use it: dockwiz inspect --lab {info.dir}   |   dockwiz lab shell --dir {info.dir}")


def _status(args: argparse.Namespace) -> int:
    from dockwiz.lab.current import lab_now
    from dockwiz.lab.lab import lab_is_up, lab_state, open_lab

    lab = open_lab(Path(args.dir))
    if args.json:
        data = lab.info.model_copy(update={"state": lab_state(lab)}).model_dump(mode="json")
        data["now"] = lab_now(lab).model_dump(mode="json") if lab_is_up(lab) else None
        print_json(data)
    else:
        _describe(lab)
    return 0


def _restart(args: argparse.Namespace) -> int:
    from dockwiz.lab.current import lab_now
    from dockwiz.lab.lab import open_lab
    from dockwiz.lab.systemctl import restart

    lab = _up_lab(args.dir)
    result = restart(lab)
    if not result.ok:
        print(f"lab {args.dir}: {result.stderr.rstrip()}", file=sys.stderr)
        return 1
    lab = open_lab(Path(args.dir))
    listening = ", ".join(lab_now(lab).listeners) or "nothing"
    print(f"lab {args.dir}: dockerd restarted (Docker {lab.info.dockerd_version}), /_ping "
          f"answered {lab.info.start_seconds or 0:.2f} s after start; listening on {listening}")
    return 0


def _systemctl(args: argparse.Namespace) -> int:
    from dockwiz.lab.systemctl import systemctl

    argv = list(args.args)
    if argv and argv[0] == "--":
        argv = argv[1:]
    return systemctl(_up_lab(args.dir), argv)


def _engines(args: argparse.Namespace) -> int:
    from dockwiz.lab.engines import (
        ENGINES,
        cache_root,
        default_engine_key,
        engine_statuses,
        ensure_engine,
    )

    if args.fetch:
        for key in ENGINES:
            ensure_engine(key, progress=lambda msg: print(msg, file=sys.stderr))
    rows = engine_statuses()
    if args.json:
        print_json([row.model_dump(mode="json") for row in rows])
        return 0
    default = default_engine_key()
    print(f"engine cache: {cache_root()}")
    for row in rows:
        size = f"{row.size_bytes / 1e6:.0f} MB" if row.size_bytes is not None else "-"
        where = {"machine": "this machine's docker.io", "cache": "cached",
                 "not fetched": "not fetched (fetched on first use)"}[row.source]
        mark = " (default)" if row.key == default else ""
        print(f"  {row.key:<6} docker.io {row.package_version:<30} {row.suite:<9} "
              f"{where:<35} {size:>7}  dockerd {row.dockerd_version or '?'}{mark}")
    return 0


def _up_lab(directory: str) -> Lab:
    """The lab in ``directory``, refused with a clear error when its namespace is gone."""
    from dockwiz.errors import DockwizError
    from dockwiz.lab.lab import lab_is_up, open_lab

    lab = open_lab(Path(directory))
    if not lab_is_up(lab):
        raise DockwizError(
            f"the lab in {directory} is down (its network namespace is gone)",
            f"start a new one: dockwiz lab up --dir {directory} --scenario {lab.info.scenario}",
        )
    return lab


def _exec_in_lab(directory: str, argv: list[str], extra_env: dict[str, str] | None = None) -> int:
    from dockwiz.lab.lab import lab_command

    lab = _up_lab(directory)
    full, env = lab_command(lab, argv)
    env.update(extra_env or {})
    try:
        return subprocess.call(full, env={**os.environ, **env})
    except KeyboardInterrupt:
        return 130


def _shell(args: argparse.Namespace) -> int:
    shell = os.environ.get("SHELL") or "/bin/bash"
    print(
        f"lab shell in {args.dir}: DOCKER_HOST=unix:///var/run/docker.sock is the lab's daemon; "
        "/etc/docker, /run and /root are the lab's; 'systemctl restart docker' restarts the "
        "lab's dockerd; exit to leave",
        file=sys.stderr,
    )
    prompt = rf"(lab {Path(args.dir).name}) \u@\h:\w\$ "
    # bash's rc files would replace the prompt that says where you are
    argv = [shell, "--norc", "-i"] if Path(shell).name == "bash" else [shell, "-i"]
    return _exec_in_lab(args.dir, argv, {"PS1": prompt})


def _run(args: argparse.Namespace) -> int:
    from dockwiz.errors import DockwizError

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise DockwizError("no command given", "dockwiz lab run --dir DIR -- docker info")
    return _exec_in_lab(args.dir, cmd)


def _down(args: argparse.Namespace) -> int:
    from dockwiz.lab.lab import lab_down, open_lab

    open_lab(Path(args.dir))  # a directory that holds no lab is an error, not a silent success
    lab_down(Path(args.dir))
    print(f"lab {args.dir}: stopped, namespace removed")
    return 0


def _list(args: argparse.Namespace) -> int:
    from dockwiz.errors import DockwizError
    from dockwiz.lab.lab import lab_dirs, lab_state, open_lab

    rows = []
    for netns, directory in lab_dirs().items():
        try:
            lab = open_lab(Path(directory))
            rows.append({"netns": netns, "dir": directory, "scenario": lab.info.scenario,
                         "state": lab_state(lab), "address": lab.info.address,
                         "engine": lab.info.engine or "machine"})
        except DockwizError:
            rows.append({"netns": netns, "dir": directory, "scenario": "?", "state": "unknown",
                         "address": "?", "engine": "?"})
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no labs on this machine")
    for row in rows:
        print(f"{row['netns']}  {row['state']:<8} {row['scenario']:<16} {row['engine']:<7} "
              f"{row['address']:<15} {row['dir']}")
    return 0
