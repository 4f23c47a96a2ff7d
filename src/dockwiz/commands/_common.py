"""Options every host-facing command shares: which host (--root / --lab) and --json.

Also what a command needs of the user and the host before it starts (``check_can_run``): a normal
user, a missing root or a root without /etc are refused here with one line that says what to run
instead, before anything is read or written, rather than as a PermissionError half-way through.
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

from dockwiz.errors import DockwizError

if TYPE_CHECKING:
    from dockwiz.host import Host

# Commands that change the host: journal, backups, /etc/docker, a daemon restart. All of it is
# root's, so a normal user could only fail part-way through.
CHANGES_HOST = frozenset({"apply", "rollback", "recover"})
# Commands that act on an existing host tree ('certs init' may create a fresh one).
NEEDS_HOST_TREE = frozenset({"inspect", "plan", "apply", "rollback", "recover", "verify"})
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
    group.add_argument("--root", default="/", help="host root to act on (default: /)")
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
    """Print pydantic models or plain data as indented JSON."""
    if hasattr(data, "model_dump_json"):
        print(data.model_dump_json(indent=2))
    else:
        print(json.dumps(data, indent=2, default=str))
