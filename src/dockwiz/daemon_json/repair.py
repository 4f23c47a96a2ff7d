"""Repair removes comments (//, /* */, #) and trailing commas outside strings, and nothing
else; render writes a dict as dockwiz writes daemon.json."""

from __future__ import annotations

import bisect
import itertools
import json
from dataclasses import dataclass
from typing import Any, Literal

from dockwiz.daemon_json.parser import _WS, DaemonJsonError, _blank_bom, _parse, line_col


@dataclass(frozen=True)
class _Span:
    kind: Literal["line-comment", "block-comment", "hash-comment", "trailing-comma"]
    start: int
    end: int  # exclusive
    closed: bool = True


def _scan(text: str) -> list[_Span]:
    """Find comments and trailing commas outside strings.

    Strings end at their closing quote or, when broken, at the end of the line, so one
    unterminated string does not hide every comment after it (the strict parse reports it).
    """
    spans: list[_Span] = []
    tokens: list[tuple[int, str]] = []  # significant characters outside strings and comments
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            tokens.append((i, '"'))
            i = min(j + 1, n)
            continue
        if (ch == "/" and text.startswith("//", i)) or ch == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            kind: Literal["line-comment", "hash-comment"] = (
                "hash-comment" if ch == "#" else "line-comment"
            )
            spans.append(_Span(kind, i, end))
            i = end
            continue
        if ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            closed = end >= 0
            end = end + 2 if closed else n
            spans.append(_Span("block-comment", i, end, closed))
            i = end
            continue
        if ch not in _WS:
            tokens.append((i, ch))
        i += 1
    for (pos, ch), (_, nxt) in itertools.pairwise(tokens):
        if ch == "," and nxt in "}]":
            spans.append(_Span("trailing-comma", pos, pos + 1))
    spans.sort(key=lambda s: s.start)
    return spans


def _blank(text: str, spans: list[_Span]) -> str:
    """Replace spans with spaces (keeping line breaks): offsets stay those of the original."""
    chars = list(text)
    for span in spans:
        for k in range(span.start, span.end):
            if chars[k] not in "\r\n":
                chars[k] = " "
    return "".join(chars)


def _cut(text: str, spans: list[_Span]) -> str:
    """Remove spans for real, keeping line breaks so lines stay aligned with the original;
    then drop lines left holding nothing but blanks and trim blanks the removal left behind.
    Untouched lines (and CRLF endings) stay byte for byte."""
    chars = list(text)
    newlines = [i for i, c in enumerate(text) if c == "\n"]
    touched: set[int] = set()
    for span in spans:
        first = bisect.bisect_left(newlines, span.start)
        last = bisect.bisect_left(newlines, span.end)
        touched.update(range(first, last + 1))
        for k in range(span.start, span.end):
            if chars[k] not in "\r\n":
                chars[k] = ""
    out: list[str] = []
    for idx, line in enumerate("".join(chars).split("\n")):
        if idx not in touched:
            out.append(line)
            continue
        eol = "\r" if line.endswith("\r") else ""
        body = line.rstrip("\r").rstrip(" \t")
        if body.strip(" \t") == "":
            continue  # the line held nothing but what we removed
        out.append(body + eol)
    return "\n".join(out)


def repair(text: str, *, source: str = "daemon.json") -> str:
    """Remove comments and trailing commas outside strings; the result is strict JSON.

    Raises DaemonJsonError at the position in the ORIGINAL text for anything else (an unclosed
    block comment, a missing comma, a broken string...): those have more than one plausible
    fix, and picking one would be a guess about the admin's intent.
    """
    body = _blank_bom(text)
    spans = _scan(body)
    for span in spans:
        if not span.closed:
            line, col = line_col(body, span.start)
            raise DaemonJsonError("comment '/*' is never closed with '*/'", line, col,
                                  source=source)
    data = _parse(_blank(body, spans), source, allow_empty=True).data
    repaired = _cut(body, spans)
    if text.startswith("\ufeff"):
        repaired = repaired[1:]  # the blank that stood for the BOM: Docker 20.10 rejects a BOM
    if spans and not repaired.strip(_WS):
        return render(data)  # only comments: "{}" works on every version, "" not on 20.10
    try:
        if _parse(repaired, source, allow_empty=True).data == data:
            return repaired if repaired.endswith("\n") or not repaired else repaired + "\n"
    except DaemonJsonError:
        pass
    return render(data)  # tidying changed the meaning: fall back to a clean rendering


def render(data: dict[str, Any]) -> str:
    """Stable strict JSON: 2-space indent, key order kept, UTF-8 as is, newline at the end."""
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
