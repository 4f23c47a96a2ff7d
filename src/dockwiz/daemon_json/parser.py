"""The strict parser: Go's encoding/json rules with 1-based line:column and a reason an admin
can act on (see the package docstring for what it follows)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from dockwiz.daemon_json.keys import _json_type
from dockwiz.errors import DockwizError
from dockwiz.models.host_state import JsonProblem

MAX_DEPTH = 200  # Go allows 10000; a daemon.json is a few levels deep, Python's stack is not.


class DaemonJsonError(DockwizError):
    """A daemon.json that dockerd would refuse, with the 1-based line and column of the cause."""

    def __init__(
        self,
        reason: str,
        line: int,
        col: int,
        *,
        source: str = "daemon.json",
        hint: str | None = None,
    ) -> None:
        super().__init__(f"{source}:{line}:{col}: {reason}", hint)
        self.reason = reason
        self.line = line
        self.col = col
        self.source = source

    def problem(self) -> JsonProblem:
        return JsonProblem(line=self.line, col=self.col, message=self.reason)


def line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column (in characters, as an editor shows them) of offset ``pos``."""
    pos = max(0, min(pos, len(text)))
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def _describe(ch: str) -> str:
    if ch == "":
        return "the end of the file"
    if ch == "\n":
        return "a line break"
    if ch.isprintable() and not ch.isspace():
        return repr(ch) if ch != "'" else '"\'"'
    return f"U+{ord(ch):04X}"


_WS = " \t\n\r"


_WS_RUN = re.compile(r"[ \t\n\r]*")  # always matches (possibly empty)


_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


_SURROGATE = re.compile(r"[\ud800-\udfff]")


_BAREWORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


_STR_PLAIN = re.compile(r'[^"\\\x00-\x1f]+')  # string content with nothing to decide


class _Parser:
    """Recursive descent over Go's JSON grammar, recording duplicate keys on the way."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.depth = 0
        self.comma = 0  # offset of the last comma: a trailing comma error points at it
        self.keys: list[str] = []  # member names leading to the current value
        self.duplicates: list[str] = []

    # -- helpers ---------------------------------------------------------------------------
    def fail(self, reason: str, pos: int | None = None, hint: str | None = None) -> DaemonJsonError:
        line, col = line_col(self.text, self.pos if pos is None else pos)
        return DaemonJsonError(reason, line, col, source=self.source, hint=hint)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> None:
        run = _WS_RUN.match(self.text, self.pos)
        if run:
            self.pos = run.end()

    def unexpected(self, expected: str) -> DaemonJsonError:
        ch = self.peek()
        rest = self.text[self.pos : self.pos + 2]
        if rest in ("//", "/*") or ch == "#":
            return self.fail(
                f"comments are not allowed in JSON (found {rest if ch == '/' else '#'!r})",
                hint="remove the comment; dockwiz plan can repair this for you",
            )
        if ch == "'":
            return self.fail("strings must use double quotes, found a single quote")
        if ch == "":
            return self.fail(f"unexpected end of the file, expected {expected}")
        return self.fail(f"expected {expected}, found {_describe(ch)}")

    # -- grammar -----------------------------------------------------------------------------
    def document(self) -> Any:
        self.skip_ws()
        value = self.value()
        self.skip_ws()
        if self.pos < len(self.text):
            raise self.fail(
                "unexpected content after the end of the top-level value "
                f"(found {_describe(self.peek())}); daemon.json holds exactly one object",
            )
        return value

    def value(self) -> Any:
        ch = self.peek()
        if ch == "{":
            return self.obj()
        if ch == "[":
            return self.array()
        if ch == '"':
            return self.string()
        if ch == "-" or ch.isdigit():
            return self.number()
        word = _BAREWORDS.match(self.text, self.pos)
        if word:
            literal = word.group(0)
            if literal in ("true", "false", "null"):
                self.pos = word.end()
                return {"true": True, "false": False, "null": None}[literal]
            if literal in ("NaN", "Infinity"):
                raise self.fail(f"{literal} is not a JSON value")
            if literal in ("True", "False", "None", "TRUE", "FALSE", "NULL"):
                raise self.fail(f"{literal} is not a JSON value; JSON literals are lower-case")
        raise self.unexpected("a value (object, list, string, number, true, false or null)")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels")

    def obj(self) -> dict[str, Any]:
        self.enter()
        self.pos += 1  # '{'
        result: dict[str, Any] = {}
        self.skip_ws()
        if self.peek() == "}":
            self.pos += 1
            self.depth -= 1
            return result
        while True:
            self.skip_ws()
            if self.peek() != '"':
                if self.peek() == "}":
                    raise self._trailing_comma("}")
                raise self.unexpected("a member name in double quotes")
            key = self.string()
            self.skip_ws()
            if self.peek() != ":":
                raise self.unexpected(f"':' after the member name {key!r}")
            self.pos += 1
            self.skip_ws()
            self.keys.append(key)
            value = self.value()
            self.keys.pop()
            if key in result:
                # Go's decoder keeps the last value; report it as "outer.inner"
                self.duplicates.append(".".join([*self.keys, key]))
            result[key] = value
            self.skip_ws()
            ch = self.peek()
            if ch == ",":
                self.comma = self.pos
                self.pos += 1
                continue
            if ch == "}":
                self.pos += 1
                self.depth -= 1
                return result
            raise self.unexpected("',' or '}' after an object member")

    def array(self) -> list[Any]:
        self.enter()
        self.pos += 1  # '['
        result: list[Any] = []
        self.skip_ws()
        if self.peek() == "]":
            self.pos += 1
            self.depth -= 1
            return result
        while True:
            self.skip_ws()
            if self.peek() == "]" and result:
                raise self._trailing_comma("]")
            result.append(self.value())
            self.skip_ws()
            ch = self.peek()
            if ch == ",":
                self.comma = self.pos
                self.pos += 1
                continue
            if ch == "]":
                self.pos += 1
                self.depth -= 1
                return result
            raise self.unexpected("',' or ']' after a list entry")

    def _trailing_comma(self, closer: str) -> DaemonJsonError:
        """Point at the comma itself: that is what the admin has to delete."""
        return self.fail(
            f"trailing comma before {closer!r} is not allowed in JSON",
            pos=self.comma,
            hint="remove the comma after the last entry; dockwiz plan can repair this for you",
        )

    def string(self) -> str:
        start = self.pos
        self.pos += 1  # opening quote
        text, n = self.text, len(self.text)
        parts: list[str] = []
        chunk_start = self.pos
        while True:
            if self.pos >= n:
                raise self.fail("string is never closed (missing '\"')", pos=start)
            plain = _STR_PLAIN.match(text, self.pos)
            if plain and plain.end() > self.pos:
                self.pos = plain.end()
                continue
            ch = text[self.pos]
            if ch == '"':
                parts.append(text[chunk_start : self.pos])
                self.pos += 1
                return _SURROGATE.sub("\ufffd", "".join(parts))
            if ch == "\\":
                parts.append(text[chunk_start : self.pos])
                parts.append(self.escape())
                chunk_start = self.pos
                continue
            if ch < " ":
                what = "a line break" if ch == "\n" else f"the control character U+{ord(ch):04X}"
                raise self.fail(
                    f"{what} inside a string is not allowed (string started at column "
                    f"{line_col(text, start)[1]} of line {line_col(text, start)[0]})",
                    hint="close the string on the same line, or escape it (\\n, \\t)",
                )
            self.pos += 1

    def escape(self) -> str:
        text = self.text
        esc = text[self.pos + 1 : self.pos + 2]
        if esc in _ESCAPES:
            self.pos += 2
            return _ESCAPES[esc]
        if esc == "u":
            hex4 = _HEX4.match(text, self.pos + 2)
            if not hex4:
                raise self.fail("invalid \\u escape: expected four hex digits")
            code = int(hex4.group(0), 16)
            self.pos += 6
            if 0xD800 <= code < 0xDC00 and text.startswith("\\u", self.pos):
                low = _HEX4.match(text, self.pos + 2)
                if low and 0xDC00 <= int(low.group(0), 16) < 0xE000:
                    self.pos += 6
                    return chr(0x10000 + ((code - 0xD800) << 10) + int(low.group(0), 16) - 0xDC00)
            return "\ufffd" if 0xD800 <= code < 0xE000 else chr(code)
        if esc == "":
            raise self.fail("string is never closed (missing '\"')")
        raise self.fail(
            f"invalid escape '\\{esc}' in a string",
            hint="write a backslash as \\\\ (Windows paths and regular expressions need it)",
        )

    def number(self) -> int | float:
        m = _NUMBER.match(self.text, self.pos)
        if not m or m.end() == self.pos:
            raise self.fail("invalid number")
        end = m.end()
        if end < len(self.text) and (self.text[end].isalnum() or self.text[end] in ".+-"):
            raise self.fail("invalid number", pos=self.pos)
        literal = m.group(0)
        start = self.pos
        self.pos = end
        # dockerd first decodes the whole file into Go's interface{} (float64): a number beyond
        # float64's range anywhere stops it ("cannot unmarshal number ... of type float64",
        # checked with 28.5.2's --validate). float() of a long literal is inf, never an error,
        # while int() refuses more than 4300 digits: test the range before converting.
        if math.isinf(float(literal)):
            shown = literal if len(literal) <= 24 else f"{literal[:12]}...({len(literal)} chars)"
            raise self.fail(
                f"number {shown} is too large: dockerd cannot read numbers beyond about 1.8e308",
                pos=start,
                hint="write the value dockerd expects (a whole number fits in 64 bits)",
            )
        if re.fullmatch(r"-?[0-9]+", literal):
            return int(literal)
        return float(literal)


def _strip_bom(text: str) -> tuple[str, bool]:
    if text.startswith("\ufeff"):
        return text[1:], True
    return text, False


def _blank_bom(text: str) -> str:
    """Keep offsets (and so line:col) stable when a BOM is ignored."""
    return " " + text[1:] if text.startswith("\ufeff") else text


@dataclass
class _Parsed:
    data: dict[str, Any]
    duplicates: list[str]
    empty: bool
    null: bool


def _parse(text: str, source: str, allow_empty: bool) -> _Parsed:
    body = _blank_bom(text)
    if not body.strip(_WS):
        if allow_empty:
            return _Parsed({}, [], empty=True, null=False)
        raise DaemonJsonError("the file is empty", 1, 1, source=source,
                              hint='write "{}" for an empty configuration')
    parser = _Parser(body, source)
    value = parser.document()
    if value is None:
        return _Parsed({}, parser.duplicates, empty=False, null=True)
    if not isinstance(value, dict):
        parser.pos = len(body) - len(body.lstrip(_WS))
        raise parser.fail(
            f"daemon.json must hold one JSON object {{...}}, found {_json_type(value)}",
            hint='wrap the settings in braces: {"key": value, ...}',
        )
    return _Parsed(value, parser.duplicates, empty=False, null=False)


def parse_strict(
    text: str, *, source: str = "daemon.json", allow_empty: bool = True
) -> dict[str, Any]:
    """Parse as dockerd >= 23 does; raise DaemonJsonError with line:col on anything else.

    An empty or whitespace-only text is ``{}`` (dockerd >= 23 treats it as an empty config;
    pass ``allow_empty=False`` for the 20.10 behaviour, which fails with "EOF").
    """
    return _parse(text, source, allow_empty).data
