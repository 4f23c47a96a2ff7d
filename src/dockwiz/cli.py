"""``dockwiz`` entry point: no arguments starts the wizard, a subcommand runs headless.

Dispatch is deliberately lazy: the parser for the chosen subcommand is built by importing just
that command's module (``dockwiz.commands.<name>``), keeping start-up of fast commands lean.

Every outcome leaves through ``_run_command``'s one handler: a DockwizError, a usage error
(argparse's, raised as errors.UsageError by ``Parser``), a PermissionError, Ctrl-C and a bug all
become one line on stderr, or one JSON object on stdout under ``--json`` (commands/_common.py's
``fail``; the convention is in its docstring). A closed stdout (``dockwiz lab status | head``)
ends quietly with 141, as a program killed by SIGPIPE would.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from dockwiz.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    DockwizError,
    UsageError,
)

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "inspect": ("inspect", "inspect the Docker host and list security findings"),
    "plan": ("plan", "compute the exact change for a mode and show it as a diff"),
    "apply": ("apply", "apply a plan as a transaction that rolls back on any failure"),
    "rollback": ("apply", "undo the last successful apply from its backups"),
    "recover": ("apply", "finish or undo an apply that was interrupted"),
    "history": ("apply", "list the applied and undone transactions (what rollback undoes next)"),
    "verify": ("verify", "prove the daemon is secured: real TLS probes, good and bad"),
    "certs": ("certs", "issue and inspect the CA, server and client certificates"),
    "renew": ("renew", "renew certificates before they expire (a transaction); --install-timer"),
    "clients": ("clients", "list, add and revoke client bundles (revoke: new CA, one transaction)"),
    "lab": ("lab", "throwaway lab hosts with a real dockerd in a known starting state"),
}

# Commands that act on a host's daemon config: each start first looks for an apply that died
# half-way (certbot's rule: recovery is offered before anything else). recover/rollback handle
# the journal themselves; certs and lab do not depend on the daemon's config.
WARNS_ON_PENDING_APPLY = frozenset({"inspect", "plan", "apply", "verify"})


class Parser(argparse.ArgumentParser):
    """argparse, except that a usage error is raised (errors.UsageError) instead of printed
    and exited on, so it reaches the one handler; sub-action parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog, self.format_usage())


def _warn_pending_apply(args: argparse.Namespace) -> None:
    from dockwiz.commands._common import host_from_args
    from dockwiz.commands.apply import pending_warning

    try:
        warning = pending_warning(host_from_args(args))
    except PermissionError as exc:  # a normal user reading a host: the state dir is root's
        warning = (f"note: cannot check for an interrupted apply ({exc.filename}: permission "
                   "denied); run as root to see it")
    if warning:
        print(warning, file=sys.stderr)


def _top_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="dockwiz",
        description="Take a Docker host to a secured daemon and prove it worked. "
        "Without a command, starts the interactive wizard.",
        epilog="commands:\n"
        + "\n".join(f"  {name:<10}{desc}" for name, (_, desc) in COMMANDS.items())
        + "\n\nrun 'dockwiz COMMAND --help' for a command's options",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", default="/", help="host root to act on (default: /)")
    parser.add_argument(
        "--lab",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="run the wizard on a lab host: DIR of an existing lab, or a new throwaway lab",
    )
    parser.add_argument("--scenario", default="insecure-tcp", help="scenario for a new --lab")
    parser.add_argument("--docker", default=None, metavar="VERSION",
                        help="Docker engine for a new --lab: 20.10, 26.1 or 28.5 (lab engines)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser


# The wizard's own options, and whether each takes a value (--lab's is optional).
_TOP_VALUE_OPTIONS = {"--root": True, "--scenario": True, "--lab": None}


def _split_command(args_list: list[str]) -> tuple[list[str], str | None, list[str]]:
    """(options before the command, the command, the rest); command None for the wizard.

    Skips the values of the wizard's own options, so ``--root / inspect`` finds ``inspect``
    and not ``/``.
    """
    i = 0
    while i < len(args_list):
        token = args_list[i]
        if token in COMMANDS:
            return args_list[:i], token, args_list[i + 1 :]
        takes = _TOP_VALUE_OPTIONS.get(token, False)
        nxt = args_list[i + 1] if i + 1 < len(args_list) else None
        if takes is True or (takes is None and nxt is not None and not nxt.startswith("-")
                             and nxt not in COMMANDS):
            i += 1
        i += 1
    return args_list, None, []


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    was_devnull = _stdout_is_devnull()
    try:
        status = _main(args_list)
        sys.stdout.flush()  # a closed pipe shows here, not at exit with a traceback
    except BrokenPipeError:
        # Python's documented recipe: further writes (the interpreter's own flush at exit) go
        # to /dev/null; no traceback, and the status a SIGPIPE'd program has.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except SystemExit as exc:
        # rich's Console.on_broken_pipe does the same recipe itself, then exits 1, which here
        # would read "apply failed"; nothing else in a command raises SystemExit(1)
        if exc.code == 1 and not was_devnull and _stdout_is_devnull():
            return EXIT_BROKEN_PIPE
        raise
    return status


def _stdout_is_devnull() -> bool:
    try:
        return os.path.samestat(os.fstat(sys.stdout.fileno()), Path(os.devnull).stat())
    except (OSError, ValueError):  # no stdout at all (closed, or replaced by a test)
        return False


def _main(args_list: list[str]) -> int:
    before, command, rest = _split_command(args_list)
    if command is not None:
        return _run_command(command, rest, before)
    try:
        args = _top_parser().parse_args(args_list)
    except UsageError as exc:
        return _usage_failed(exc, as_json=_wants_json(args_list))
    if args.version:
        from dockwiz import __version__

        print(f"dockwiz {__version__}")
        return 0
    from dockwiz.commands import tui

    status: int = tui.run(args)
    return status


def _wants_json(args_list: Sequence[str]) -> bool:
    from dockwiz.commands._common import wants_json

    return wants_json(args_list)


def _place_leading_options(
    name: str, parser: argparse.ArgumentParser, before: list[str], rest: list[str]
) -> list[str]:
    """Options written before the command (``dockwiz --root / inspect``) go where they belong.

    They move behind the command name, or behind its action (``certs show``) when that is the
    parser that knows them; an option the command does not take is an error that says where
    options go, instead of argparse's "unrecognized arguments".
    """
    if not before:
        return rest
    options = [t.split("=", 1)[0] for t in before if t.startswith("-")]
    if _knows(parser, options):
        return [*before, *rest]
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    action = sub.choices.get(rest[0]) if sub is not None and rest else None
    if action is not None and _knows(action, options):
        return [rest[0], *before, *rest[1:]]
    where = f"dockwiz {name} {rest[0]}" if sub is not None and rest else f"dockwiz {name}"
    unknown = next(o for o in options if not _knows(parser, [o])) if options else before[0]
    parser.error(
        f"{unknown} is not an option of '{where}'; options go after the command, "
        f"see '{where} --help'"
    )


def _knows(parser: argparse.ArgumentParser, options: list[str]) -> bool:
    return all(o in parser._option_string_actions for o in options)


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of ``dockwiz NAME``, built as the command line (and ``--help``) builds it."""
    module_name, desc = COMMANDS[name]
    module = importlib.import_module(f"dockwiz.commands.{module_name}")
    parser = Parser(prog=f"dockwiz {name}", description=desc)
    module.configure(name, parser)
    return parser


def _run_command(name: str, rest: list[str], before: list[str] | None = None) -> int:
    """Parse, check, run; every failure is printed by ``fail`` (text, or JSON under --json)."""
    from dockwiz.commands._common import check_can_run, fail, wants_json

    prog = f"dockwiz {name}"
    as_json = wants_json([*(before or []), *rest])  # before parsing: argparse may fail first
    argv = rest
    try:
        parser = command_parser(name)
        argv = _place_leading_options(name, parser, before or [], rest)
        args = parser.parse_args(argv)
        as_json = bool(getattr(args, "json", as_json))
        check_can_run(name, argv, args)
        if name in WARNS_ON_PENDING_APPLY:
            _warn_pending_apply(args)
        status: int = args.func(args)
    except UsageError as exc:
        return _usage_failed(exc, as_json=as_json)
    except DockwizError as exc:
        return fail(prog, exc.message, exc.hint, EXIT_USAGE, as_json=as_json)
    except PermissionError as exc:
        # Last resort: check_can_run refuses what it can foresee; a file only root may read or
        # write that it could not foresee still ends in one line, not a traceback.
        return fail(prog, f"permission denied: {exc.filename or exc}",
                    f"run it as root: sudo {shlex.join(['dockwiz', name, *argv])}", EXIT_USAGE,
                    as_json=as_json)
    except KeyboardInterrupt:
        if not as_json:
            print(f"{prog}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        return fail(prog, "interrupted", None, EXIT_INTERRUPTED, as_json=True)
    except BrokenPipeError:
        raise  # main's: stdout is gone, there is no one to tell
    except Exception as exc:  # a bug: keep the traceback for the report, still one JSON object
        traceback.print_exc()
        return fail(prog, f"internal error: {type(exc).__name__}: {exc}",
                    "this is a bug in dockwiz: report it with the traceback printed on stderr",
                    EXIT_INTERNAL, as_json=as_json)
    return status


def _usage_failed(exc: UsageError, *, as_json: bool) -> int:
    """argparse's own two lines on stderr, or the error object with the usage under --json."""
    if not as_json:
        sys.stderr.write(exc.usage)
        print(f"{exc.prog}: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    from dockwiz.commands._common import fail

    return fail(exc.prog, exc.message, exc.hint, EXIT_USAGE, as_json=True,
                usage=exc.usage.strip())


if __name__ == "__main__":
    sys.exit(main())
