"""``dockwiz renew``: renew certificates before they expire, roll the CA over, schedule it.

The decisions live in :mod:`dockwiz.lifecycle`; this module parses options, shows the plan,
asks, hands it to ``apply_plan`` and proves the result (verify's day-two probes). The same
front door (:func:`run_day_two`) serves ``dockwiz clients add|revoke``.

Exit status: 0 done or nothing to do; 1 the apply failed and was rolled back, a day-two probe
failed, or the CA is due and ``--ca`` was not given (the timer's unit then shows as failed);
2 refused or a usage error; 3 the rollback failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockwiz.commands._common import (
    add_host_args,
    add_output_args,
    host_from_args,
    print_json,
    use_color,
)
from dockwiz.errors import DockwizError
from dockwiz.pki.checks import RENEW_BEFORE_DAYS

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.models.plan import Plan
    from dockwiz.models.results import Probe


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    del name
    add_host_args(parser)
    add_output_args(parser)
    add_apply_args(parser)
    parser.add_argument("--before", type=int, default=RENEW_BEFORE_DAYS, metavar="DAYS",
                        help=f"renew what expires within DAYS (default {RENEW_BEFORE_DAYS})")
    parser.add_argument("--san", action="append", default=[],
                        help="a SAN to add to the server certificate (repeatable)")
    parser.add_argument("--days", type=int, help="validity of the new certificate(s)")
    parser.add_argument("--force", action="store_true", help="renew even if nothing is due")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--ca", action="store_true",
                      help="renew the CA: every client bundle is reissued; a roll-over (the "
                      "daemon trusts old + new CA) unless --now")
    what.add_argument("--finish-ca-rollover", action="store_true",
                      help="end a roll-over: drop the old CA, new server certificate")
    what.add_argument("--install-timer", action="store_true",
                      help="renew daily by itself: a systemd timer (or cron without systemd)")
    what.add_argument("--remove-timer", action="store_true", help="remove the timer / cron entry")
    parser.add_argument("--now", action="store_true",
                        help="with --ca: replace the CA at once (old bundles stop working)")
    parser.add_argument("--exe", help="the dockwiz the timer runs (default: the one on PATH)")
    parser.set_defaults(func=run_renew)


def add_apply_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true",
                        help="do not ask for confirmation (required without a terminal)")
    parser.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    parser.add_argument("--live-restore", action="store_true",
                        help="if containers run: switch live-restore on first (a reload), so "
                        "they keep running through the restart")
    parser.add_argument("--service-manager", choices=("systemd", "sysv", "lab"),
                        help="how to restart dockerd (default: the lab's, else systemd, else SysV)")


def run_renew(args: argparse.Namespace) -> int:
    from dockwiz import lifecycle

    host = host_from_args(args)
    _refuse_pending(host)
    if args.now and not args.ca:
        raise DockwizError("--now goes with --ca", "dockwiz renew --ca --now")
    if args.install_timer or args.remove_timer:
        return _run_timer(args, host)
    status = None
    if args.finish_ca_rollover:
        plan = lifecycle.plan_finish_rollover(host)
    elif args.ca:
        plan = lifecycle.plan_renew_ca(host, now=args.now, days=args.days)
    else:
        status, plan = lifecycle.renew_with_status(host, before=args.before, add_sans=args.san,
                                                   force=args.force, days=args.days)
    ca_due = status is not None and status.ca_due
    if plan.is_empty:
        if args.json:
            print_json({"ok": True, "changed": False, "notes": plan.notes,
                        "warnings": plan.warnings,
                        "status": status.model_dump(mode="json") if status else None})
        else:
            for line in [*plan.notes, *(f"warning: {w}" for w in plan.warnings)]:
                print(line)
        return 1 if ca_due else 0
    code = run_day_two(args, host, plan, "renew")
    return code or (1 if ca_due else 0)


def _refuse_pending(host: Host) -> None:
    from dockwiz.apply import pending_recovery

    pending = pending_recovery(host)
    if pending is not None:
        raise DockwizError(
            f"an earlier apply ({pending.txid}) was interrupted at step '{pending.step}'",
            "run 'dockwiz recover' first: it restores the host from the journal")


def _run_timer(args: argparse.Namespace, host: Host) -> int:
    from dockwiz import lifecycle

    if args.remove_timer:
        plan = lifecycle.plan_remove_timer(host)
    else:
        plan = lifecycle.plan_install_timer(host, args.exe)
    if plan.is_empty:
        done = "installed" if args.install_timer else "absent"
        print_json({"ok": True, "changed": False}) if args.json else print(
            f"nothing to do: the renewal timer is already {done}")
        if args.install_timer and not args.dry_run:
            lifecycle.activate(host)
        return 0
    if not _show_and_confirm(args, host, plan):
        return _not_applied(args, plan)
    extra = lifecycle.deactivate(host) if args.remove_timer else None
    return run_day_two(args, host, plan, "renew", shown=True, extra=extra,
                       after=lifecycle.activate if args.install_timer else None)


def _not_applied(args: argparse.Namespace, plan: Plan) -> int:
    """A dry run (the plan shown, exit 0) or a "no" at the prompt (exit 2)."""
    if args.dry_run:
        if args.json:
            print_json({"dry_run": True, "plan": plan.model_dump(mode="json")})
        return 0
    print("not applied", file=sys.stderr if args.json else sys.stdout)
    return 2


def _show_and_confirm(args: argparse.Namespace, host: Host, plan: Plan) -> bool:
    from dockwiz.commands.apply import _confirm
    from dockwiz.diffs import plan_diff

    if not args.json:  # the diff lists the certificates, notes and warnings
        sys.stdout.write(plan_diff(plan, color=use_color(args)))
        sys.stdout.flush()
    if args.dry_run:
        return False
    return _confirm(args, f"Apply this change to {host.label}?")


def _bundles(host: Host, names: list[str], where: Any) -> dict[str, Path]:
    return {n: host.path(where(n)) for n in names}


def _keep_containers(args: argparse.Namespace, host: Host, plan: Plan) -> Plan:
    """DOMAIN §9: a restart without live-restore stops every running container. Say so, and
    with --live-restore (or a "yes" at the terminal) switch it on by a reload first."""
    from dockwiz.commands.apply import _containers_notice, _esc, _printer
    from dockwiz.lifecycle.context import with_live_restore

    notice = _containers_notice(plan)
    if not notice:
        return plan
    wanted = args.live_restore
    if not wanted:
        _printer(args).print(f"[bold yellow]warning:[/bold yellow] {_esc(notice)}")
        if not args.yes and not args.dry_run and sys.stdin.isatty():
            try:
                answer = input("Switch live-restore on first so they keep running? [Y/n] ")
            except EOFError:
                answer = "n"
            wanted = answer.strip().lower() in ("", "y", "yes")
    return with_live_restore(host, plan) if wanted else plan


def run_day_two(args: argparse.Namespace, host: Host, plan: Plan, what: str, *,
                shown: bool = False, extra: str | None = None,
                after: Any = None) -> int:
    """Preview, confirm, apply, prove: the one way every day-two plan reaches the host."""
    from dockwiz import lifecycle, pki
    from dockwiz.apply import apply_plan
    from dockwiz.commands.apply import _live, _manager
    from dockwiz.pki.lifecycle import revoked_dir

    plan = _keep_containers(args, host, plan)
    if not shown and not _show_and_confirm(args, host, plan):
        return _not_applied(args, plan)
    tcp = [e.url for e in plan.endpoints_after if e.url.startswith("tcp://")]
    restarts = any(a.kind == "restart" for a in plan.actions)
    old_serial = None
    if tcp and restarts and any(c.role == "server" and c.action != "reuse" for c in plan.certs):
        from dockwiz.verify.lifecycle import served_serial

        old_serial = served_serial(host, tcp[0])
    result = apply_plan(host, plan, on_step=_live(args), manager=_manager(host, args))
    probes: list[Probe] = []
    handoff: list[str] = []
    if result.ok:
        if after is not None:
            extra = after(host)
        if tcp and plan.certs:
            from dockwiz.verify.lifecycle import day_two_probes

            kept = lifecycle.keeps_access(plan) or (
                [Path(plan.client_bundle).name] if plan.client_bundle else [])
            gone = lifecycle.revoked_by(plan)
            probes = day_two_probes(host, tcp[0], old_serial=old_serial,
                                    accepted=_bundles(host, kept, pki.client_dir),
                                    refused=_bundles(host, gone, revoked_dir))
        handoff = lifecycle.context_commands(plan)
    return _report_day_two(args, result, what, probes, handoff, extra)


def _report_day_two(args: argparse.Namespace, result: Any, what: str, probes: list[Probe],
                    handoff: list[str], extra: str | None) -> int:
    from dockwiz.commands.apply import _esc, _printer, _report

    failed = [p for p in probes if not p.passed]
    if args.json:
        data = result.model_dump(mode="json")
        data.update(probes=[p.model_dump(mode="json") for p in probes], handoff=handoff,
                    note=extra)
        print_json(data)
        code = 0 if result.ok else (1 if result.recovery_ok else 3)
    else:
        code = _report(args, result, what)
        out = _printer(args)
        if extra:
            out.print(_esc(extra))
        for p in probes:
            mark = "[green]✓[/green]" if p.passed else "[bold red]✗[/bold red]"
            out.print(f"{mark} {_esc(p.title)}: {_esc(p.saw)}")
        if handoff:
            out.print("[bold]clients that copied a bundle into a docker context must update "
                      "it (the context keeps its own copy):[/bold]")
            for line in handoff:
                out.print(f"  {_esc(line)}")
    return code or (1 if failed else 0)
