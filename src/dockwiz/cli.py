"""``dockwiz`` entry point: no arguments starts the wizard, a subcommand runs headless.

Dispatch is deliberately lazy: the parser for the chosen subcommand is built by importing just
that command's module (``dockwiz.commands.<name>``), keeping start-up of fast commands lean.
"""

from __future__ import annotations

import argparse
import importlib
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

    warning = pending_warning(host_from_args(args))
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
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    if first in COMMANDS and args_list and args_list[0] == first:
        return _run_command(first, args_list[1:])
    args = _top_parser().parse_args(args_list)
    if args.version:
        from dockwiz import __version__

        print(f"dockwiz {__version__}")
        return 0
    from dockwiz.commands import tui

    status: int = tui.run(args)
    return status


def _run_command(name: str, rest: list[str]) -> int:
    module_name, desc = COMMANDS[name]
    module = importlib.import_module(f"dockwiz.commands.{module_name}")
    parser = argparse.ArgumentParser(prog=f"dockwiz {name}", description=desc)
    module.configure(name, parser)
    args = parser.parse_args(rest)
    from dockwiz.errors import DockwizError

    try:
        if name in WARNS_ON_PENDING_APPLY:
            _warn_pending_apply(args)
        status: int = args.func(args)
    except DockwizError as exc:
        print(f"dockwiz {name}: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  fix: {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dockwiz {name}: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
