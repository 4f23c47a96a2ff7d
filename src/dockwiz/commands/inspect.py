"""``dockwiz inspect``: what is on this Docker host and what is wrong with it.

Findings are the output, not a failure: the exit status is 0 whatever was found, so scripts can
consume ``--json`` without treating a bad host as a crashed command (2 is kept for errors the
user must fix before inspect can run at all, such as a missing lab).
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import TYPE_CHECKING, Any

from dockwiz.commands._common import (
    add_host_args,
    add_output_args,
    host_from_args,
    print_json,
    use_color,
)

if TYPE_CHECKING:
    from rich.console import Console

    from dockwiz.models.host_state import HostState

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    add_host_args(parser)
    add_output_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dockwiz.inspect import inspect_host

    host = host_from_args(args)  # the CLI has checked the root (_common.check_can_run)
    state = inspect_host(host)
    if args.json:
        print_json(state)
        return 0
    from rich.console import Console

    color = use_color(args)
    console = Console(no_color=not color, highlight=False, soft_wrap=False,
                      force_terminal=color or None)
    render(state, console)
    return 0


def _row(table: Any, *cells: Any) -> None:
    """Add a row whose plain strings are shown literally (paths and errors contain '[...]')."""
    from rich.text import Text

    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def _mode(mode: int | None) -> str:
    return "-" if mode is None else oct(mode & 0o7777)[2:].rjust(4, "0")


def render(state: HostState, console: Console) -> None:
    """Daemon, listeners, files, certificates, then findings by severity."""
    for table in (_daemon_table(state), _listener_table(state), _files_table(state)):
        console.print(table)
    if state.certs:
        console.print(_cert_table(state))
        if state.renewal is not None:
            how = (f"scheduled ({state.renewal.kind}): {state.renewal.detail}"
                   if state.renewal.scheduled else f"not scheduled ({state.renewal.detail})")
            console.print(f"[bold]Renewal[/]: {how}", highlight=False)
    console.print(_findings_table(state))
    if state.unreadable:
        console.print("[bold]Not readable[/] (run as root to see these):")
        for item in state.unreadable:
            console.print(f"  - {item}", markup=False)


def _daemon_table(state: HostState) -> object:
    from rich.table import Table

    t = Table(title=f"Docker daemon ({state.root})", show_header=False, title_justify="left")
    t.add_column("what", style="bold")
    t.add_column("value", overflow="fold")
    if not state.docker_installed:
        _row(t, "dockerd", "not installed (no dockerd on the PATH)")
    else:
        _row(t, "dockerd", state.dockerd_path or "-")
    v = state.version
    _row(t, "version", f"binary {v.binary or '?'}, API server {v.api_server or '?'}"
              + (f" (API {v.api_version})" if v.api_version else ""))
    if state.process is not None:
        p = state.process
        _row(t, "running", f"yes, pid {p.pid}, user {p.user or p.uid}"
                  + (" (rootless)" if state.rootless else ""))
        _row(t, "command line", " ".join(p.argv))
    else:
        _row(t, "running", "no" + (f": {state.daemon_error}" if state.daemon_error else ""))
    if state.unit.exists:
        _row(t, "docker.service", f"{state.unit.path} + {len(state.unit.dropins)} drop-in(s)")
        _row(t, "ExecStart", " ".join(state.unit.exec_start or []) +
                  (f"  (from {state.unit.exec_start_source})"
                   if state.unit.exec_start_source else ""))
    else:
        _row(t, "docker.service", "not found")
    _row(t, "TLS", _tls_text(state))
    _row(t, "live-restore", "on" if state.live_restore else "off")
    _row(t, "userns-remap", state.userns_remap or "off")
    if state.running_containers is not None:
        _row(t, "running containers", str(state.running_containers))
    return t


def _tls_text(state: HostState) -> str:
    tls = state.tls
    if not tls.enabled:
        return "off"
    if tls.verifies_clients:
        head = f"on, verifying clients; ca={tls.tlscacert or '(none configured)'}"
    else:
        head = "on, clients NOT verified"
    return f"{head}; cert={tls.tlscert or '(none)'} key={tls.tlskey or '(none)'}"


def _listener_table(state: HostState) -> object:
    from rich.table import Table
    from rich.text import Text

    t = Table(title="Endpoints", title_justify="left")
    for col in ("address", "kind", "source", "loopback", "listening"):
        t.add_column(col)
    from dockwiz.findings import merged_endpoints

    for ep in merged_endpoints(state):
        listening = "-" if ep.listening is None else ("yes" if ep.listening else "NO")
        loop = Text("yes") if ep.loopback else Text("NO (network)", style="bold red")
        _row(t, ep.address, ep.kind, ep.source, loop, listening)
    return t


def _files_table(state: HostState) -> object:
    from rich.table import Table

    t = Table(title="Configuration files", title_justify="left")
    for col in ("path", "state", "mode", "notes"):
        t.add_column(col, overflow="fold")
    dj = state.daemon_json
    notes = []
    if dj.error:
        notes.append(f"invalid JSON at {dj.error.line}:{dj.error.col}: {dj.error.message}")
    if dj.has_comments:
        notes.append("has comments")
    if dj.has_trailing_commas:
        notes.append("has trailing commas")
    _row(t, dj.path, "present" if dj.exists else "absent", _mode(dj.mode), "; ".join(notes))
    if state.unit.path:
        _row(t, state.unit.path, "present" if state.unit.exists else "absent",
                  _mode(state.unit.mode), "; ".join(state.unit.problems))
    for d in state.unit.dropins:
        _row(t, d.path, "drop-in", "-", "sets ExecStart" if d.sets_exec_start else "")
    su = state.socket_unit
    if su.path:
        _row(t, su.path, "present" if su.exists else "absent", "-",
                  f"ListenStream={','.join(su.listen_stream)}")
    s = state.docker_socket
    if s is not None:
        _row(t, s.path, "socket" if s.is_socket else ("present" if s.exists else "absent"),
                  _mode(s.mode), f"{s.owner or '?'}:{s.group or '?'}" if s.exists else "")
    if state.docker_group_members is not None:
        _row(t, "/etc/group: docker", "members", "-",
                  ", ".join(state.docker_group_members) or "(none)")
    return t


def _cert_table(state: HostState) -> object:
    from rich.markup import escape as e
    from rich.table import Table

    t = Table(title="TLS material", title_justify="left")
    for col in ("role", "path", "subject / SANs", "expires", "key", "modes"):
        t.add_column(col, overflow="fold")
    for c in state.certs:
        if not c.exists:
            t.add_row(c.role, e(c.path), "[red]missing[/]", "", "", "")
            continue
        if not c.readable or c.error:
            t.add_row(c.role, e(c.path), f"[yellow]{e(c.error or 'unreadable')}[/]", "", "", "")
            continue
        sans = ", ".join([*c.dns_names, *c.ip_addresses]) or "no SANs"
        key = (c.key_type or "?") + ("" if c.key_matches is None
                                     else (" matches" if c.key_matches else " [red]MISMATCH[/]"))
        t.add_row(c.role, e(c.path), e(f"{c.subject}\n{sans}"),
                  c.not_after.date().isoformat() if c.not_after else "?", key,
                  f"cert {_mode(c.mode)} key {_mode(c.key_mode)}")
    return t


def _findings_table(state: HostState) -> object:
    from rich.markup import escape as e
    from rich.table import Table

    counts: Counter[str] = Counter(f.severity for f in state.findings)
    summary = ", ".join(f"{counts[s]} {s}" for s in SEVERITY_STYLE if counts[s]) or "none"
    t = Table(title=f"Findings: {summary}", title_justify="left", show_lines=True)
    for col in ("severity", "id", "CIS", "finding", "fix"):
        t.add_column(col, overflow="fold")
    for f in state.findings:
        detail = f"[bold]{e(f.title)}[/]\n{e(f.why)}" + (
            f"\n[dim]{e(f.evidence)}[/]" if f.evidence else "")
        t.add_row(f"[{SEVERITY_STYLE[f.severity]}]{f.severity}[/]", f.id, f.cis or "",
                  detail, e(f.fix))
    return t
