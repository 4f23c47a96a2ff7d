"""Options every host-facing command shares (which host: --root / --lab; --json), what a command
needs before it starts (``check_can_run``), and how every outcome is printed (``fail``).

``check_can_run``: a normal user, a missing root or a root without /etc are refused here with one
line that says what to run instead, before anything is read or written, rather than as a
PermissionError half-way through.

The convention every command module follows (commands/*.py; new ones too):

* ``configure(name, parser)`` adds the arguments; every argument has a ``help=`` line and every
  sub-action parser a ``description=`` (tests/unit/test_cli_help.py walks them all). A command
  with machine output takes ``--json`` (``add_output_args``, or ``--json`` with a help line).
* Success: return ``EXIT_OK`` (errors.py) after printing the command's model: ``print_json``
  under ``--json`` (one JSON value on stdout, nothing else on stdout), text otherwise.
  Progress and warnings go to stderr under ``--json``; prompts too (``input`` writes to stdout).
* A failure the user can fix: ``raise DockwizError(message, hint)``. Never print it, never
  ``sys.exit``: cli.py's one handler calls ``fail``, which prints ``dockwiz NAME: error: ...``
  and ``fix: ...`` on stderr, or, under ``--json``, the error object (errors.error_report:
  ``ok`` false, ``error``, ``fix``, ``exit_code``, ``exit_meaning``) on stdout; exit 2. The same
  handler turns argparse's usage errors (errors.UsageError), a PermissionError (exit 2), Ctrl-C
  (130) and a bug (70, traceback on stderr) into the same object.
* A failure that has a model to show (an apply that failed and was rolled back: exit 1; a
  rollback that failed: exit 3): print the human report without ``--json``; under ``--json``
  print ``error_report(message, fix, code, result=model)`` with ``print_json`` and return the
  code (commands/apply.py's ``_report``).
* A refusal that is not an error of the input (the admin answered "no"): ``fail(...)`` with
  ``EXIT_USAGE``, so ``--json`` still gets one object.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockwiz.errors import DockwizError, error_report

if TYPE_CHECKING:
    from dockwiz.host import Host

# Commands that change the host: journal, backups, /etc/docker, a daemon restart. All of it is
# root's, so a normal user could only fail part-way through.
CHANGES_HOST = frozenset({"apply", "rollback", "recover", "renew"})
# Commands that act on an existing host tree ('certs init' may create a fresh one).
NEEDS_HOST_TREE = frozenset({"inspect", "plan", "apply", "rollback", "recover", "verify",
                             "renew", "clients"})
# 'plan' on a root without /etc is a mistyped --root far more often than a bare host, and it
# would print a plan for a host that is not there. (A saved plan may be applied to a bare tree.)
NEEDS_ETC = frozenset({"plan"})


def needs_root(name: str, argv: Sequence[str], why: str) -> DockwizError:
    """The one "needs root" error: what needs it, why, and the exact command to run instead."""
    return DockwizError(
        f"'dockwiz {name}' needs root here: {why}",
        f"run it as root: sudo {shlex.join(['dockwiz', name, *argv])}",
    )


def check_can_run(name: str, argv: Sequence[str], args: argparse.Namespace) -> None:
    """Refuse a command that cannot work for this user or on this root, before it starts.

    ``argv`` is the command's own arguments (after the name), for the command shown in the fix.
    Reading a host as a normal user stays allowed (inspect and plan degrade to what they can
    read); labs and changes are root's.
    """
    if os.geteuid() != 0:
        if name == "lab":
            raise needs_root(name, argv, "a lab is a network namespace, mounts and a dockerd, "
                             "all owned by root")
        if getattr(args, "lab", None):
            raise needs_root(name, argv, "a lab's files, journal and network namespace are "
                             "root's")
        if name in CHANGES_HOST:
            raise needs_root(name, argv, "it writes the daemon's configuration, the journal "
                             "and backups, and restarts dockerd")
    if name in NEEDS_HOST_TREE and not getattr(args, "lab", None):
        _check_root_tree(name, Path(getattr(args, "root", "/") or "/"))


def _check_root_tree(name: str, root: Path) -> None:
    hint = ("pass --root with the directory that holds the host's /etc (default: /), "
            "or --lab DIR for a lab")
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "is not a directory (it does not exist)"
        raise DockwizError(f"host root {root} {what}", hint)
    if name in NEEDS_ETC and not (root / "etc").is_dir():
        raise DockwizError(
            f"host root {root} has no /etc directory, so it is not a host's root: there is "
            "nothing to plan against",
            hint,
        )


def add_host_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    # default None, not "/": argparse takes a value equal to (the same object as) the default
    # for "not given", so '--root / --lab D' would pass the exclusion and act on the lab
    group.add_argument("--root", default=None, help="host root to act on (default: /)")
    group.add_argument("--lab", metavar="DIR", help="act on the lab host in DIR (dockwiz lab up)")


def add_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--no-color", action="store_true", help="plain output (also NO_COLOR)")


def host_from_args(args: argparse.Namespace) -> Host:
    """The Host the command acts on: a lab's sandbox or a filesystem root.

    Built once per command line (the start-up journal check and the command share it).
    """
    cached: Host | None = getattr(args, "_dockwiz_host", None)
    if cached is not None:
        return cached
    lab_dir = getattr(args, "lab", None)
    if lab_dir:
        from dockwiz.lab.lab import open_lab

        host = open_lab(Path(lab_dir)).host()
    else:
        from dockwiz.host import Host

        host = Host(getattr(args, "root", "/") or "/")
    args._dockwiz_host = host
    return host


def use_color(args: argparse.Namespace) -> bool:
    if getattr(args, "no_color", False) or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def print_json(data: Any) -> None:
    """Print pydantic models or plain data (which may hold models) as indented JSON."""
    if hasattr(data, "model_dump_json"):
        print(data.model_dump_json(indent=2))
    else:
        print(json.dumps(data, indent=2, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def wants_json(argv: Sequence[str]) -> bool:
    """``--json`` on the command line, read before argparse (which may fail before it gets
    there); what follows ``--`` is another program's (``lab run -- CMD --json``)."""
    for arg in argv:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def fail(prog: str, message: str, fix: str | None, exit_code: int, *, as_json: bool,
         **extra: Any) -> int:
    """Print a failure the one way (see the module docstring) and return its exit status.

    ``prog`` names who failed ("dockwiz apply"); ``extra`` adds the command's model (or the
    usage line) to the JSON object.
    """
    if as_json:
        print_json(error_report(message, fix, exit_code, **extra))
    else:
        print(f"{prog}: error: {message}", file=sys.stderr)
        if fix:
            print(f"  fix: {fix}", file=sys.stderr)
    return exit_code
