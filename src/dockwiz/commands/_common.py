"""Options every host-facing command shares: which host (--root / --lab) and --json."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockwiz.host import Host


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
