"""Unified diffs for the plan: plain text first, colour as an optional layer on top.

The plain text is the contract (golden files, journals, ``--no-color``, NO_COLOR); colour only
adds ANSI codes around whole lines, so stripping them gives back the exact plain diff. No rich
here: the core stays importable without any terminal library.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockwiz.models.plan import Endpoint, Plan

DEV_NULL = "/dev/null"

RESET = "\x1b[0m"
BOLD = "\x1b[1m"
RED = "\x1b[31m"
GREEN = "\x1b[32m"
YELLOW = "\x1b[33m"
CYAN = "\x1b[36m"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _lines(text: str | None) -> list[str]:
    """Split keeping line ends; a missing final newline is marked the way diff(1) does."""
    if text is None:
        return []
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def unified(path: str, before: str | None, after: str | None, context: int = 3) -> str:
    """One file's unified diff; a new file is diffed against /dev/null, a deletion to it."""
    if before == after:
        return ""
    old_name = DEV_NULL if before is None else f"a{path}"
    new_name = DEV_NULL if after is None else f"b{path}"
    out = difflib.unified_diff(
        _lines(before), _lines(after), fromfile=old_name, tofile=new_name, n=context
    )
    return "".join(out)


def colorize(text: str) -> str:
    """Colour a plain diff/plan text line by line (headers bold, -/+ red/green, hunks cyan)."""
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        end = line[len(body) :]
        if body.startswith(("--- ", "+++ ")):
            out.append(f"{BOLD}{body}{RESET}{end}")
        elif body.startswith("@@"):
            out.append(f"{CYAN}{body}{RESET}{end}")
        elif body.startswith("-"):
            out.append(f"{RED}{body}{RESET}{end}")
        elif body.startswith("+"):
            out.append(f"{GREEN}{body}{RESET}{end}")
        elif body.startswith("== "):
            out.append(f"{BOLD}{body}{RESET}{end}")
        elif body.lstrip().startswith(("WARNING", "!")):
            out.append(f"{YELLOW}{body}{RESET}{end}")
        else:
            out.append(line)
    return "".join(out)


def strip_color(text: str) -> str:
    return _ANSI.sub("", text)


def octal(mode: int | None) -> str:
    return "----" if mode is None else f"{mode:04o}"


# -- rendering --------------------------------------------------------------------------------
def _owner(uid: int, gid: int) -> str:
    names = {0: "root"}
    return f"{names.get(uid, str(uid))}:{names.get(gid, str(gid))}"


def render_plan(plan: Plan) -> str:
    """The plan as the admin reads it: diffs first, then what else happens, in order."""
    intent = plan.intent
    version = plan.docker_version or "version unknown"
    out: list[str] = [f"dockwiz plan: mode {intent.mode.value}, Docker {version}\n"]
    if plan.is_empty:
        out.append(f"No changes: this host already matches mode {intent.mode.value}.\n")
    diffs_text = [unified(f.path, f.before, f.after) for f in plan.files]
    if any(diffs_text):
        out.append("\n== Files\n")
        out.extend(d for d in diffs_text if d)
    out.extend(_material(plan))
    if plan.certs:
        out.append("\n== Certificates (made at apply time; key material is never shown)\n")
        for c in plan.certs:
            verb = {"create": "created", "reuse": "kept", "renew": "renewed",
                    "revoke": "revoked: moved out of the clients"}[c.action]
            out.append(f"  {c.action:<6} {c.role:<6} {c.cert_path} ({c.cert_mode:04o}, {verb})\n")
            out.append(
                f"  {'':<13} {c.key_path} ({c.key_mode:04o}, {verb}; key material not shown)\n"
            )
            names = [*c.dns_names, *c.ip_addresses]
            if names:
                out.append(f"  {'':<13} SANs: {', '.join(names)}\n")
            out.append(f"  {'':<13} {c.reason}\n")
    if plan.actions:
        out.append("\n== Service actions (in order)\n")
        for i, a in enumerate(plan.actions, 1):
            extra = " (after writing a daemon.json with only live-restore added)" if a.stage else ""
            out.append(f"  {i}. {a.kind}{extra}: {a.reason}\n")
    if plan.files:
        out.append("\n== File modes and owners\n")
        for f in plan.files:
            if f.after is None:
                out.append(f"  {f.path}: deleted\n")
                continue
            was = ""
            if f.before is None:
                was = " (new)"
            elif f.mode_before is not None and f.mode_before != f.mode:
                was = f" (was {f.mode_before:04o})"
            out.append(f"  {f.path}: {f.mode:04o} {_owner(f.uid, f.gid)}{was}\n")
    out.append("\n== Endpoints\n")
    out.append(f"  before: {_eps(plan.endpoints_before)}\n")
    out.append(f"  after:  {_eps(plan.endpoints_after)}\n")
    if plan.warnings:
        out.append("\n== Warnings\n")
        out.extend(f"  ! {w}\n" for w in plan.warnings)
    if plan.notes:
        out.append("\n== Notes\n")
        out.extend(f"  - {n}\n" for n in plan.notes)
    return "".join(out)


_KEEPING = {
    "reuse": "keeping the existing CA and server certificate (clients keep working)",
    "reuse-ca": "keeping the existing CA (clients keep working)",
}


def _material(plan: Plan) -> list[str]:
    """What happens to the certificates found where the tutorials put them (issue 14 §2)."""
    if plan.material_reason is None:
        return []
    out = ["\n== Existing certificates\n"]
    keeping = _KEEPING.get(plan.material_action or "")
    out.append(f"  {keeping}: {plan.material_reason}\n" if keeping
               else f"  starting fresh because {plan.material_reason}\n")
    for m in plan.material_moves:
        verb = "copying" if m.keep_source else "moving"
        why = f": {m.reason}" if m.reason else ""
        out.append(f"  {verb} {m.source} -> {m.destination} ({m.mode:04o}, dir "
                   f"{m.dir_mode:04o}){why}\n")
    return out


def _eps(eps: list[Endpoint]) -> str:
    return ", ".join(f"{e.url} ({e.security})" for e in eps) or "none"


def plan_diff(plan: Plan, color: bool = False) -> str:
    """The rendered plan, coloured for a terminal when asked (the plain text stays the contract)."""
    text = render_plan(plan)
    return colorize(text) if color else text
