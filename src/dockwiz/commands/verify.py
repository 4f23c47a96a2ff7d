"""``dockwiz verify``: prove the daemon is secured with real probes, good and bad.

Exit status 0 only when every probe did what a secured daemon makes it do (a tls-mode daemon
passes as tls, with the warning that clients are not authenticated), 1 otherwise, 2 for an error
the user must fix first (bad arguments, a missing lab).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from dockwiz.commands._common import (
    add_host_args,
    add_output_args,
    host_from_args,
    print_json,
    use_color,
)
from dockwiz.docker_paths import CLIENTS_DIR, DEFAULT_CLIENT
from dockwiz.models.intent import Mode

if TYPE_CHECKING:
    from rich.console import Console

    from dockwiz.models.results import Probe, VerifyReport

def configure(name: str, parser: argparse.ArgumentParser) -> None:
    add_host_args(parser)
    parser.add_argument(
        "--bundle",
        metavar="DIR",
        type=Path,
        help="client bundle (ca.pem, cert.pem, key.pem) to connect with "
        f"(default: {CLIENTS_DIR}/{DEFAULT_CLIENT} under the root, or the only bundle there)",
    )
    parser.add_argument(
        "--endpoint",
        action="append",
        metavar="URL",
        help="endpoint to probe, e.g. tcp://10.0.0.5:2376 or unix:///var/run/docker.sock "
        "(repeatable; default: the daemon's configured hosts)",
    )
    parser.add_argument(
        "--former",
        action="append",
        metavar="URL",
        help="an endpoint the daemon used to serve that must now be shut (repeatable)",
    )
    parser.add_argument(
        "--mode", choices=[m.value for m in Mode], help="the mode the daemon must be in"
    )
    parser.add_argument(
        "--ssh-user", metavar="USER",
        help="ssh mode: the account clients log in as (default: the applied plan's)",
    )
    parser.add_argument(
        "--ssh-key", metavar="PATH", type=Path,
        help="ssh mode: a private key of that user; runs docker -H ssh://USER@HOST version "
        "from here",
    )
    parser.add_argument(
        "--no-docker-cli", action="store_true", help="skip the probes that run the docker CLI"
    )
    add_output_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dockwiz.verify import verify_host

    report = verify_host(
        host_from_args(args),
        endpoints=args.endpoint,
        bundle_dir=args.bundle,
        expected_mode=args.mode,
        use_docker_cli=not args.no_docker_cli,
        former_endpoints=args.former,
        ssh_user=args.ssh_user,
        ssh_key=args.ssh_key,
    )
    if args.json:
        print_json(report)
    else:
        from rich.console import Console

        color = use_color(args)
        console = Console(no_color=not color, highlight=False, force_terminal=color or None)
        render(report, console)
        from dockwiz.handoff import after_verify

        handoff = after_verify(host_from_args(args), report)
        if handoff:
            console.file.write("\n" + handoff)
    return 0 if report.passed else 1


def _mark(probe: Probe) -> str:
    if probe.outcome == "skipped":
        return "skip"
    return "ok" if probe.passed else "FAIL"


_MARK_STYLE = {"ok": "green", "FAIL": "bold red", "skip": "dim"}


def render(report: VerifyReport, console: Console) -> None:
    """The probe table, then each failure's cause and fix, the warnings, and the hand-off."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"dockwiz verify: {report.host}", title_justify="left", expand=False)
    for column in ("", "probe", "target", "expected", "saw"):
        table.add_column(column, overflow="fold")
    for probe in report.probes:
        mark = _mark(probe)
        table.add_row(
            Text(mark, style=_MARK_STYLE[mark]),
            Text(probe.title),
            Text(probe.target),
            Text("refused" if probe.expect == "fail" else "works"),
            Text(probe.saw),
        )
    console.print(table)
    console.print(
        Text(f"mode {report.mode} (configured: {report.detected_mode}); endpoints: "
             f"{', '.join(report.endpoints)}")
    )
    for probe in report.failed:
        console.print(Text(f"\nFAIL {probe.title} ({probe.target})", style="bold red"))
        if probe.failure_id:
            console.print(Text(f"  [{probe.failure_id}]"))
        if probe.cause:
            console.print(Text(f"  cause: {probe.cause}"))
        if probe.fix:
            console.print(Text(f"  fix:   {probe.fix}"))
    for warning in report.warnings:
        console.print(Text(f"\nwarning: {warning}", style="yellow"))
    style = "bold green" if report.passed else "bold red"
    console.print(Text(f"\n{report.summary}", style=style))
