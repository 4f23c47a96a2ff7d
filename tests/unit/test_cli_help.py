"""Every option of every command says what it does (issue 14 §6, Help).

The parsers are built the way ``dockwiz COMMAND --help`` builds them (cli.command_parser), then
walked down every sub-action (``certs show``, ``lab status``...), so a new option or a new
command without a help line fails here, not in front of an admin.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwiz import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def _walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _walk(sub)


def _all_parsers() -> list[argparse.ArgumentParser]:
    parsers = [cli._top_parser()]
    for name in cli.COMMANDS:
        parsers += _walk(cli.command_parser(name))
    return parsers


PARSERS = _all_parsers()


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.prog)
def test_every_option_has_a_help_line(parser: argparse.ArgumentParser) -> None:
    missing = [
        "/".join(a.option_strings) or a.dest
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction)
        and (not a.help or a.help == argparse.SUPPRESS or not a.help.strip())
    ]
    assert missing == [], f"{parser.prog}: no help for {missing}"


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.prog)
def test_every_command_has_a_description(parser: argparse.ArgumentParser) -> None:
    assert parser.description and parser.description.strip(), parser.prog


def test_the_walk_reaches_every_sub_action() -> None:
    progs = {p.prog for p in PARSERS}
    for expected in ("dockwiz certs server", "dockwiz certs renew", "dockwiz lab status",
                     "dockwiz lab run", "dockwiz lab systemctl", "dockwiz history"):
        assert expected in progs
    assert len(progs) == len(PARSERS)  # each parser once (aliases are not walked twice)


def test_help_output_shows_the_lines() -> None:
    """The real ``--help``: what the admin reads, from the same parsers."""
    r = subprocess.run([sys.executable, "-m", "dockwiz", "lab", "status", "--help"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert re.search(r"--dir DIR \S", text) and re.search(r"--json \S", text), r.stdout


def test_every_certs_action_is_in_the_readme() -> None:
    readme = README.read_text()
    sub = next(a for a in cli.command_parser("certs")._actions
               if isinstance(a, argparse._SubParsersAction))
    for action in sub.choices:
        assert f"dockwiz certs {action}" in readme, action
