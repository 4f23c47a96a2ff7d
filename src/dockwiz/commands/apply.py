"""``dockwiz apply``, ``rollback``, ``recover`` and ``history``: the transaction's front door.

``apply`` never changes a host the admin has not seen the diff for: it shows the plan and asks,
and without a terminal to ask on it refuses unless ``--yes`` says the admin already decided.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dockwiz.commands._common import (
    add_host_args,
    add_output_args,
    fail,
    host_from_args,
    print_json,
    use_color,
)
from dockwiz.commands.plan import add_plan_args, intent_from_args
from dockwiz.diffs import plan_diff
from dockwiz.docker_paths import JOURNAL_PATH
from dockwiz.errors import (
    EXIT_FAILED,
    EXIT_NOT_RECOVERED,
    EXIT_OK,
    EXIT_USAGE,
    DockwizError,
    error_report,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from dockwiz.apply.journal import Journal
    from dockwiz.host import Host, ServiceManager
    from dockwiz.models.plan import Plan
    from dockwiz.models.results import ApplyResult, ApplyStep

EXIT_FAILED_RECOVERED = EXIT_FAILED
EXIT_REFUSED = EXIT_USAGE
EXIT_FAILED_NOT_RECOVERED = EXIT_NOT_RECOVERED

_STATUS_MARK = {"ok": "✓", "failed": "✗", "skipped": "-", "rolled-back": "↺", "running": "…"}


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    add_host_args(parser)
    add_output_args(parser)
    parser.add_argument("--yes", "-y", action="store_true",
                        help="do not ask for confirmation (required without a terminal)")
    parser.add_argument("--service-manager", choices=("systemd", "sysv", "lab"),
                        help="how to restart dockerd (default: the lab's, else systemd if "
                        "running, else SysV 'service')")
    if name == "apply":
        _configure_apply(parser)
        parser.set_defaults(func=run_apply)
    elif name == "history":
        parser.set_defaults(func=run_history)
    elif name == "rollback":
        parser.set_defaults(func=run_rollback)
    else:
        parser.set_defaults(func=run_recover)


def _configure_apply(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan_file", nargs="?", metavar="PLAN_FILE",
                        help="a plan saved by 'dockwiz plan --save' (or plan it here: --mode ...)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show the diff and the steps apply would take; change nothing")
    parser.add_argument("--deadline", type=float, metavar="SECONDS",
                        help="how long the new daemon may take to answer (default: 20 s plus "
                        "dockerd's own startup sleeps)")
    add_plan_args(parser, mode_required=False)


# -- shared helpers ---------------------------------------------------------------------------
def _manager(host: Host, args: argparse.Namespace) -> ServiceManager:
    from dockwiz.services import choose_manager

    return choose_manager(host, getattr(args, "service_manager", None))


def _confirm(args: argparse.Namespace, question: str) -> bool:
    """Ask on the terminal; without one, --yes is the only way to say yes."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise DockwizError(
            "refusing to change the host without confirmation: no terminal to ask on",
            "review the plan ('dockwiz plan'), then run again with --yes",
        )
    return _ask(args, f"{question} [y/N] ") in ("y", "yes")


def _ask(args: argparse.Namespace, prompt: str) -> str:
    """The answer typed on the terminal ("" at end of input); under --json the prompt goes to
    stderr, since input() would write it into the JSON on stdout."""
    if getattr(args, "json", False):
        print(prompt, end="", file=sys.stderr, flush=True)
        prompt = ""
    try:
        return input(prompt).strip().lower()
    except EOFError:
        return ""


def _declined(args: argparse.Namespace, what: str, said: str) -> int:
    """The admin answered no: the text the terminal shows, or one JSON object (exit 2)."""
    if not args.json:
        _printer(args).print(said)
        return EXIT_REFUSED
    return fail(f"dockwiz {what}", f"{what} not confirmed: {said}",
                "run it again and answer y, or pass --yes", EXIT_REFUSED, as_json=True)


def _printer(args: argparse.Namespace) -> Console:
    from rich.console import Console

    # soft_wrap: a step's detail stays one line in logs and pipes instead of breaking at 80
    return Console(no_color=not use_color(args), highlight=False, soft_wrap=True,
                   stderr=bool(getattr(args, "json", False)))


def _live(args: argparse.Namespace) -> Callable[[ApplyStep], None]:
    """The on_step callback: one line per step as it happens (stderr under --json)."""
    console = _printer(args)

    def show(step: ApplyStep) -> None:
        style = {"ok": "green", "failed": "bold red", "skipped": "dim",
                 "rolled-back": "yellow"}.get(step.status, "cyan")
        mark = _STATUS_MARK.get(step.status, "?")
        detail = f" [dim]{_esc(step.detail)}[/dim]" if step.detail else ""
        seconds = f" ({step.seconds:.2f}s)" if step.seconds >= 0.01 else ""
        console.print(f"[{style}]{mark} {_esc(step.name)}[/{style}]{seconds}{detail}")

    return show


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _report(args: argparse.Namespace, result: ApplyResult, what: str) -> int:
    code = _exit_code(result)
    if args.json:
        if result.ok:
            print_json(result)
        else:
            message, fix = _failure_words(result, what)
            print_json(error_report(message, fix, code, result=result))
    else:
        console = _printer(args)
        print_ = console.print
        if result.ok:
            extra = f", downtime {result.downtime_s:.2f} s" if result.downtime_s else ""
            print_(f"[bold green]{what} succeeded[/bold green] (transaction {result.txid}{extra})")
            if what == "apply":
                from dockwiz.handoff import after_apply

                sys.stdout.write("\n" + after_apply(host_from_args(args), result))
                sys.stdout.flush()
        else:
            print_(f"[bold red]{what} failed[/bold red] at step "
                   f"'{_esc(result.failed_step or '?')}': {_esc(result.error or '')}")
            if result.daemon_log:
                print_("[bold]dockerd said:[/bold]")
                for line in result.daemon_log.splitlines()[-12:]:
                    print_(f"  {_esc(line)}")
            if result.rolled_back:
                print_(f"recovery: {_recovery_line(result)}")
    return code


def _exit_code(result: ApplyResult) -> int:
    if result.ok:
        return EXIT_OK
    return EXIT_FAILED_RECOVERED if result.recovery_ok else EXIT_FAILED_NOT_RECOVERED


def _failure_words(result: ApplyResult, what: str) -> tuple[str, str]:
    """The error object's ``error`` and ``fix`` for a failed transaction (JSON's words for what
    the text report prints)."""
    message = (f"{what} failed at step '{result.failed_step or '?'}': "
               f"{result.error or 'no reason recorded'}")
    if result.recovery_ok:
        return message, ("the host is back as it was and the old daemon answers; fix the cause "
                         "(result.daemon_log has dockerd's words) and run it again")
    if result.not_restored:
        return message, ("the host needs attention: NOT restored: "
                         + ", ".join(result.not_restored)
                         + "; dockerd was not restarted on a half-restored configuration. "
                         "Restore them from the backups the journal names, then check "
                         "'dockwiz inspect'")
    return message, ("the files are restored but the old daemon does not answer: check "
                     "'dockwiz inspect' and dockerd's log")


def _recovery_line(result: ApplyResult) -> str:
    """Only what was checked: every file read back, the old daemon answering."""
    if result.recovery_ok:
        return ("[green]the host is back as it was; the old daemon answers on its old "
                "endpoints[/green]")
    if result.not_restored:
        return ("[bold red]rollback failed, the host needs attention: NOT restored: "
                + _esc(", ".join(result.not_restored))
                + "; dockerd was not restarted on a half-restored configuration[/bold red]")
    return ("[bold red]the files are restored but the old daemon does not answer: "
            "check 'dockwiz inspect' and dockerd's log[/bold red]")


def pending_warning(host: Host) -> str | None:
    """The line every other command prints while an interrupted apply waits for recovery."""
    from dockwiz.apply import lock
    from dockwiz.apply.journal import load_journal

    try:
        busy = lock.holder(host)
        journal = load_journal(host)
    except DockwizError as exc:
        return f"warning: {exc.message}"
    except OSError as exc:  # not root: the state directory is root's alone
        return (f"warning: cannot tell whether an apply is running or was interrupted: "
                f"{exc.strerror} ({host.path(JOURNAL_PATH)} is root's: run as root to know)")
    if busy is not None:
        return (f"warning: a dockwiz transaction is running ({busy.describe()}); what you see "
                "may change under you")
    if journal is None or journal.finished:
        return None
    return (f"warning: an apply ({journal.txid}) was interrupted at step '{journal.step}'; "
            "the host may be half-changed. Run 'dockwiz recover' to restore it.")


# -- apply ------------------------------------------------------------------------------------
def _load_or_build_plan(host: Host, args: argparse.Namespace) -> Plan:
    if args.plan_file:
        from dockwiz.plan import load_plan

        return load_plan(Path(args.plan_file))
    if not getattr(args, "mode", None):
        raise DockwizError("nothing to apply", "give a saved PLAN_FILE or --mode unix|tls|mtls|ssh")
    from dockwiz.plan import plan_for_host

    intent = intent_from_args(args)
    _state, plan = plan_for_host(host, intent)
    return plan


def _dry_run_steps(plan: Plan) -> list[str]:
    from dockwiz.apply import cert_trees
    from dockwiz.docker_paths import BACKUP_ROOT, JOURNAL_PATH

    steps = [f"journal and back up {len(plan.files)} file(s)"
             + (f" and {', '.join(cert_trees(plan))}" if plan.certs else "")
             + f" ({JOURNAL_PATH}, {BACKUP_ROOT}/<txid>/)"]
    for c in plan.certs:
        steps.append(f"certificate: {c.action} {c.role} ({c.cert_path})")
    for f in plan.files:
        verb = "remove" if f.after is None else "write"
        steps.append(f"{verb} {f.path} (mode {f.mode:04o}, owner {f.uid}:{f.gid})")
    steps.append("validate: strict JSON, TLS files exist, cert matches key, SANs cover the "
                 "address; dockerd --validate where available")
    for a in plan.actions:
        steps.append(f"{a.kind}: {a.reason}")
    steps.append("wait until " + ", ".join(f"{e.url} ({e.security})" for e in plan.endpoints_after)
                 + " answer /_ping")
    steps.append("on any failure: restore every file, restart, confirm "
                 + ", ".join(e.url for e in plan.endpoints_before) + " answer again")
    return steps


def _containers_notice(plan: Plan) -> str | None:
    """DOMAIN §9: a restart without live-restore stops every running container."""
    running = plan.running_containers or 0
    restarts = any(a.kind == "restart" for a in plan.actions)
    live_restore = (plan.daemon_json_after or {}).get("live-restore") is True
    if not restarts or running <= 0 or live_restore:
        return None
    return (f"{running} container(s) are running and live-restore is off: the restart this "
            "change needs will STOP them. To keep them running, plan again with "
            "'--hardening live-restore' (switched on by a reload before the restart).")


def _offer_live_restore(args: argparse.Namespace) -> bool:
    """DOMAIN §9: offer live-restore (switched on by a reload first) before a restart that
    would stop containers; only when planning here and someone is at the terminal to answer."""
    if args.plan_file or args.yes or not sys.stdin.isatty():
        return False
    return _ask(args, "Switch live-restore on first so they keep running? [Y/n] ") in (
        "", "y", "yes")


def run_apply(args: argparse.Namespace) -> int:
    from dockwiz.apply import apply_plan, pending_recovery

    host = host_from_args(args)
    pending = pending_recovery(host)
    if pending is not None:
        raise DockwizError(
            f"an earlier apply ({pending.txid}) was interrupted at step '{pending.step}'",
            "run 'dockwiz recover' first: it restores the host from the journal",
        )
    plan = _load_or_build_plan(host, args)
    if args.plan_file:
        from dockwiz.apply.freshness import check_fresh, check_policy

        check_fresh(host, plan)  # again under the transaction lock, at the last moment
        check_policy(host, plan)
    out = _printer(args)
    print_ = out.print
    if plan.is_empty:
        if args.json:
            print_json({"ok": True, "changed": False, "detail": "nothing to do"})
        else:
            print_("nothing to do: the host already matches the plan")
        return EXIT_OK
    if not args.json:
        sys.stdout.write(plan_diff(plan, color=use_color(args)))
        sys.stdout.flush()
    if args.dry_run:
        steps = _dry_run_steps(plan)
        if args.json:
            print_json({"dry_run": True, "steps": steps, "plan": plan.model_dump(mode="json")})
        else:
            print_("[bold]apply would:[/bold]")
            for n, s in enumerate(steps, 1):
                print_(f"  {n}. {_esc(s)}")
        return EXIT_OK
    notice = _containers_notice(plan)
    if notice:
        print_(f"[bold yellow]warning:[/bold yellow] {_esc(notice)}")
        if _offer_live_restore(args):
            args.hardening = ",".join(filter(None, [args.hardening, "live-restore"]))
            plan = _load_or_build_plan(host, args)
            if not args.json:
                sys.stdout.write(plan_diff(plan, color=use_color(args)))
                sys.stdout.flush()
    if not _confirm(args, f"Apply this change to {host.label}?"):
        return _declined(args, "apply", "not applied")
    manager = _manager(host, args)
    result = apply_plan(host, plan, on_step=_live(args), deadline_s=args.deadline,
                        manager=manager)
    return _report(args, result, "apply")


# -- rollback / recover -----------------------------------------------------------------------
def _journal_summary(journal: Journal) -> str:
    files = ", ".join(f.path for f in journal.files) or "no single files"
    trees = ", ".join(t.path for t in journal.trees)
    return (f"transaction {journal.txid} (started {journal.started:%Y-%m-%d %H:%M:%S} UTC, "
            f"step '{journal.step}'): {files}" + (f"; directories {trees}" if trees else ""))


def run_rollback(args: argparse.Namespace) -> int:
    from dockwiz.apply import rollback_last
    from dockwiz.apply.history import rollback_target

    host = host_from_args(args)
    journal = rollback_target(host)  # raises with the reason when there is nothing to undo
    out = _printer(args)
    out.print(f"will undo {_esc(_journal_summary(journal))}")
    if not _confirm(args, "Restore these files and restart dockerd on the old configuration?"):
        return _declined(args, "rollback", "nothing changed")
    result = rollback_last(host, on_step=_live(args), manager=_manager(host, args))
    return _report(args, result, "rollback")


def run_history(args: argparse.Namespace) -> int:
    """Every transaction, newest first; the first 'applied' one is what rollback undoes."""
    from dockwiz.apply.history import journals, outcome

    host = host_from_args(args)
    rows = [{"txid": j.txid, "when": j.started.isoformat(timespec="seconds"),
             "mode": j.mode, "files": [f.path for f in j.files] + [t.path for t in j.trees],
             "outcome": outcome(j)} for j in journals(host)]
    if args.json:
        print_json(rows)
        return EXIT_OK
    out = _printer(args)
    if not rows:
        out.print("no transaction recorded on this host")
    for row in rows:
        files = row["files"]
        assert isinstance(files, list)
        out.print(f"{row['txid']}  {row['when']}  {row['mode'] or '?':<5} "
                  f"{_esc(str(row['outcome'])):<20} {_esc(', '.join(files)) or '-'}")
    return EXIT_OK


def run_recover(args: argparse.Namespace) -> int:
    from dockwiz.apply import pending_recovery, recover

    host = host_from_args(args)
    journal = pending_recovery(host)
    out = _printer(args)
    if journal is None:
        if args.json:
            print_json({"ok": True, "recovered": False, "detail": "no interrupted apply"})
        else:
            out.print("nothing to recover: no interrupted apply on this host")
        return EXIT_OK
    out.print(f"interrupted apply: {_esc(_journal_summary(journal))}")
    if not _confirm(args, "Restore every file from the journal and restart dockerd?"):
        return _declined(args, "recover", "nothing changed; the host may be half-changed")
    result = recover(host, on_step=_live(args), manager=_manager(host, args))
    return _report(args, result, "recover")
