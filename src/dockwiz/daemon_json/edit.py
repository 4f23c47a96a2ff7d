"""In-place editing: the diff shows only what the mode changes; every untouched line stays
byte for byte, new keys go where no existing line has to change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dockwiz.daemon_json.parser import _WS, _WS_RUN, DaemonJsonError, _parse
from dockwiz.daemon_json.repair import render


@dataclass(frozen=True)
class _Member:
    """One top-level member's offsets: ``key`` at the opening quote, value [start, end)."""

    key: str
    key_start: int
    value_start: int
    value_end: int


def _members(text: str) -> tuple[int, int, list[_Member]] | None:
    """The top-level object's brace offsets and members of a strict JSON text, or None when
    the text is not one plain object (a BOM, duplicate keys, anything unexpected)."""
    decoder = json.JSONDecoder()
    ws = _WS_RUN
    pos = ws.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("{", pos):
        return None
    open_at, pos = pos, pos + 1
    members: list[_Member] = []
    pos = ws.match(text, pos).end()  # type: ignore[union-attr]
    if text.startswith("}", pos):
        return open_at, pos, members
    while True:
        if not text.startswith('"', pos):
            return None
        key, after_key = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
        colon = ws.match(text, after_key).end()  # type: ignore[union-attr]
        if not text.startswith(":", colon):
            return None
        start = ws.match(text, colon + 1).end()  # type: ignore[union-attr]
        _, end = decoder.raw_decode(text, start)
        members.append(_Member(key, pos, start, end))
        pos = ws.match(text, end).end()  # type: ignore[union-attr]
        if text.startswith("}", pos):
            break
        if not text.startswith(",", pos):
            return None
        pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]
    if len({m.key for m in members}) != len(members) or text[pos + 1 :].strip(_WS):
        return None
    return open_at, pos, members


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _starts_line(text: str, pos: int) -> bool:
    return not text[_line_start(text, pos) : pos].strip(" \t")


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON text (so ``1`` and ``true``, or ``1`` and ``1.0``, differ)."""
    return json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)


def _value_text(value: Any, *, multiline: bool, indent: str, unit: str, nl: str) -> str:
    """A value as it sits after ``"key": ``: one line, or render()'s layout at ``indent``."""
    if not multiline or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    body = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=len(unit))
    if "\t" in unit:
        body = "\n".join(_retab(line, len(unit)) for line in body.split("\n"))
    return body.replace("\n", nl + indent)


def _retab(line: str, width: int) -> str:
    stripped = line.lstrip(" ")
    return "\t" * ((len(line) - len(stripped)) // width) + stripped


def _indent_of(text: str, pos: int) -> str:
    start = _line_start(text, pos)
    line = text[start:pos]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _drop_member(text: str, members: list[_Member], i: int, close_at: int) -> str:
    m = members[i]
    if i + 1 < len(members):
        nxt = members[i + 1]
        if _starts_line(text, m.key_start) and _starts_line(text, nxt.key_start):
            cut_to = _line_start(text, nxt.key_start)
            return text[: _line_start(text, m.key_start)] + text[cut_to:]
        return text[: m.key_start] + text[nxt.key_start :]
    if i == 0:  # the only member: the braces stay, on their lines
        if _starts_line(text, m.key_start) and _starts_line(text, close_at):
            return text[: _line_start(text, m.key_start)] + text[_line_start(text, close_at) :]
        return text[: m.key_start] + text[m.value_end :].lstrip(" \t")
    # the last member: the comma after the one before goes (that line has to change)
    return text[: members[i - 1].value_end] + text[m.value_end :]


def edit_in_place(text: str, data: dict[str, Any]) -> str:
    """``text`` (strict JSON, one object) changed to hold exactly ``data``, line by line.

    Every line holding a member whose value stays is kept byte for byte; a changed value is
    replaced where it stands (one line stays one line); a removed member takes its own line(s)
    only (or, for the last member, the comma before it); new members go right after the
    opening brace, each on its own line ending with a comma, so no existing line changes. A
    text this cannot edit safely (one-line objects get new members inline; anything else odd)
    falls back to :func:`render`. The result always parses to ``data``."""
    try:
        result = _edit(text, data)
    except (ValueError, DaemonJsonError):
        result = None
    if result is None:
        return render(data)
    try:
        if _parse(result, "daemon.json", allow_empty=False).data == data:
            return result
    except DaemonJsonError:
        pass
    return render(data)


def _edit(text: str, data: dict[str, Any]) -> str | None:
    if text.startswith("\ufeff"):
        return None
    scanned = _members(text)
    if scanned is None:
        return None
    _, _, members = scanned
    if not members or not data:
        return render(data)
    nl = "\r\n" if "\r\n" in text else "\n"
    old = {m.key: m for m in members}
    # removals, one at a time (offsets move)
    for key in [m.key for m in members if m.key not in data]:
        scanned = _members(text)
        assert scanned is not None
        _, close_at, current = scanned
        if len(current) == 1:
            return render(data)
        text = _drop_member(text, current, [m.key for m in current].index(key), close_at)
    # changed values, last first so earlier offsets stay valid
    scanned = _members(text)
    assert scanned is not None
    open_at, close_at, members = scanned
    unit = _unit(text, open_at, members)
    for m in reversed(members):
        old_value = json.loads(text[m.value_start : m.value_end])
        if _same(old_value, data[m.key]):
            continue
        span = text[m.value_start : m.value_end]
        new = _value_text(data[m.key], multiline="\n" in span,
                          indent=_indent_of(text, m.key_start), unit=unit, nl=nl)
        text = text[: m.value_start] + new + text[m.value_end :]
    added = [k for k in data if k not in old]
    if not added:
        return text
    return _insert(text, data, added, unit, nl)


def _unit(text: str, open_at: int, members: list[_Member]) -> str:
    """The file's indentation step: the first member's indent beyond the brace's, else 2."""
    first = members[0].key_start
    if _starts_line(text, first) and _line_start(text, first) > open_at:
        inner, outer = _indent_of(text, first), _indent_of(text, open_at)
        if inner.startswith(outer) and len(inner) > len(outer):
            return inner[len(outer) :]
    return "  "


def _insert(text: str, data: dict[str, Any], added: list[str], unit: str, nl: str) -> str:
    scanned = _members(text)
    assert scanned is not None
    open_at, _, members = scanned
    first = members[0]
    if _starts_line(text, first.key_start) and _line_start(text, first.key_start) > open_at:
        indent = _indent_of(text, first.key_start)
        lines = [
            f"{indent}{json.dumps(k, ensure_ascii=False)}: "
            f"{_value_text(data[k], multiline=True, indent=indent, unit=unit, nl=nl)},{nl}"
            for k in added
        ]
        at = _line_start(text, first.key_start)
        return text[:at] + "".join(lines) + text[at:]
    # a one-line object (its line changes anyway): new members inline before the brace
    inline = "".join(
        f", {json.dumps(k, ensure_ascii=False)}: "
        f"{_value_text(data[k], multiline=False, indent='', unit=unit, nl=nl)}"
        for k in added
    )
    last = members[-1].value_end
    return text[:last] + inline + text[last:]
