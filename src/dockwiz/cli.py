"""``dockwiz`` entry point: no arguments starts the wizard, a subcommand runs headless.

Dispatch is deliberately lazy: the parser for the chosen subcommand is built by importing just
that command's module (``dockwiz.commands.<name>``), keeping start-up of fast commands lean.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
from collections.abc import Sequence

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
    "lab": ("lab", "throwaway lab hosts with a real dockerd in a known starting state"),
}

# Commands that act on a host's daemon config: each start first looks for an apply that died
# half-way (certbot's rule: recovery is offered before anything else). recover/rollback handle
# the journal themselves; certs and lab do not depend on the daemon's config.
WARNS_ON_PENDING_APPLY = frozenset({"inspect", "plan", "apply", "verify"})


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
    parser = argparse.ArgumentParser(
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
    before, command, rest = _split_command(args_list)
    if command is not None:
        return _run_command(command, rest, before)
    args = _top_parser().parse_args(args_list)
    if args.version:
        from dockwiz import __version__

        print(f"dockwiz {__version__}")
        return 0
    from dockwiz.commands import tui

    status: int = tui.run(args)
    return status


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


def _run_command(name: str, rest: list[str], before: list[str] | None = None) -> int:
    module_name, desc = COMMANDS[name]
    module = importlib.import_module(f"dockwiz.commands.{module_name}")
    parser = argparse.ArgumentParser(prog=f"dockwiz {name}", description=desc)
    module.configure(name, parser)
    rest = _place_leading_options(name, parser, before or [], rest)
    args = parser.parse_args(rest)
    from dockwiz.commands._common import check_can_run
    from dockwiz.errors import DockwizError

    try:
        check_can_run(name, rest, args)
        if name in WARNS_ON_PENDING_APPLY:
            _warn_pending_apply(args)
        status: int = args.func(args)
    except DockwizError as exc:
        print(f"dockwiz {name}: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  fix: {exc.hint}", file=sys.stderr)
        return 2
    except PermissionError as exc:
        # Last resort: check_can_run refuses what it can foresee; a file only root may read or
        # write that it could not foresee still ends in one line, not a traceback.
        print(f"dockwiz {name}: error: permission denied: {exc.filename or exc}", file=sys.stderr)
        print(f"  fix: run it as root: sudo {shlex.join(['dockwiz', name, *rest])}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dockwiz {name}: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
