"""daemon.json as dockerd really reads it: strict parsing, repair, key knowledge, rendering.

Why a hand-written parser: dockerd refuses to start on anything but strict JSON (Go's
``encoding/json``), and the admin needs the exact line:column and a reason they can act on
("comments are not allowed", "trailing comma"), not Python's wording. The parser follows what
moby's ``getConflictFreeConfiguration`` does (checked at v20.10.27, v23.0.18 ... v28.5.2):

- Docker >= 23 strips a UTF-8/UTF-16 byte order mark and trims whitespace; an empty or
  whitespace-only file is an empty configuration. Docker 20.10 decodes with
  ``json.NewDecoder(...).Decode`` instead: an empty file fails with "EOF", a BOM is an invalid
  character, and anything after the first object is silently ignored. We accept empty files and
  a BOM (the modern behaviour) but report them in ``DaemonJsonAnalysis.warnings``, and we
  reject content after the object (it is an error on every supported version but 20.10, and
  ignored configuration on 20.10 is a mistake either way).
- ``null`` as the whole document decodes into a nil map in Go: dockerd starts with no config.
- Duplicate keys are accepted by Go (the last one wins); we report them as warnings.
- ``NaN``/``Infinity``, comments, trailing commas, single quotes, control characters inside
  strings are errors, as in Go. Numbers that overflow a float64 are errors, as in Go.

Repair removes comments (``//``, ``/* */`` and ``#``) and trailing commas outside strings, and
nothing else: any other problem is an error at its position in the original text, never a guess.
"""

from __future__ import annotations

import bisect
import errno
import itertools
import json
import math
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from dockwiz.dockerd_flags import (  # noqa: F401 - re-exported: callers name them here
    DOCKERD_FLAGS,
    FLAGS_BY_JSON_KEY,
    FLAGS_BY_NAME,
    FLAGS_BY_SHORT,
    DockerdFlag,
    FlagKind,
)
from dockwiz.errors import DockwizError
from dockwiz.host import Host
from dockwiz.models.host_state import DaemonJsonState, JsonProblem

DEFAULT_PATH = "/etc/docker/daemon.json"
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


# --------------------------------------------------------------------------------------------
# dockerd's option table lives in dockerd_flags.py (one place); daemon.json keys follow it
# --------------------------------------------------------------------------------------------

# The named options whose daemon.json key differs from the flag name only exist in some
# releases (e.g. "host-gateway-ips" replaced the single "host-gateway-ip" in 28.x).
_NAMED_KEY_SINCE: dict[str, str] = {"host-gateway-ips": "28.0"}

# moby daemon/config: flatOptions are maps kept as one key; every other object in daemon.json
# is flattened (its members are checked as keys of their own: "proxies": {"http-proxy": ...}).
FLAT_OPTIONS: frozenset[str] = frozenset(
    {"cluster-store-opts", "default-network-opts", "log-opts", "runtimes", "default-ulimits",
     "features", "builder"}
)
# skipValidateOptions: keys that never count as unknown.
SKIP_VALIDATE: frozenset[str] = frozenset(
    {"features", "builder", "deprecated-key-path", "allow-nondistributable-artifacts"}
)
# skipDuplicates: keys that may be given both as flag and in the file (they are merged).
SKIP_DUPLICATES: frozenset[str] = frozenset({"runtimes"})


def _version_key(version: str) -> tuple[int, int]:
    parts = re.findall(r"\d+", version)
    major = int(parts[0]) if parts else 0
    minor = int(parts[1]) if len(parts) > 1 else 0
    return (major, minor)


def _in_range(version: str | None, since: str, until: str | None) -> bool:
    if version is None:
        return True
    v = max(_version_key(version), (20, 10))  # older releases: judged as the oldest we know
    return _version_key(since) <= v and (until is None or v <= _version_key(until))


def known_keys(version: str | None = None) -> frozenset[str]:
    """Keys dockerd accepts in daemon.json: every flag name, every named option, the skips.

    dockerd's check is ``flags.Lookup(key)`` (so a flag's own name, even ``host``, passes) or
    the name of a NamedOption flag value (``hosts``, ``log-opts``...). ``version`` ('20.10',
    '27.3.1') narrows to one release; None accepts what any release 20.10 through 28 accepts.
    """
    keys: set[str] = set(SKIP_VALIDATE)
    for flag in DOCKERD_FLAGS:
        if not _in_range(version, flag.since, flag.until):
            continue
        keys.add(flag.name)
        if _in_range(version, _NAMED_KEY_SINCE.get(flag.json_key, flag.since), flag.until):
            keys.add(flag.json_key)
    return frozenset(keys)


KNOWN_KEYS: frozenset[str] = known_keys()


def flattened_items(data: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The (key, value) pairs dockerd validates: moby's ``configValuesSet``."""
    for key, value in data.items():
        if isinstance(value, dict) and key not in FLAT_OPTIONS:
            yield from value.items()
        else:
            yield key, value


def unknown_keys(data: dict[str, Any], version: str | None = None) -> list[str]:
    """Keys that make dockerd refuse to start with "the following directives don't match any
    configuration option", in file order."""
    known = known_keys(version)
    seen: list[str] = []
    for key, _ in flattened_items(data):
        if key not in known and key not in seen:
            seen.append(key)
    return seen


def unknown_keys_message(keys: list[str]) -> str:
    """dockerd's own wording, so the admin can match it against the journal."""
    return "the following directives don't match any configuration option: " + ", ".join(keys)


# --------------------------------------------------------------------------------------------
# types of the keys that matter for security (and the classic mistakes)
# --------------------------------------------------------------------------------------------

_BOOL_KEYS = frozenset(
    {"tls", "tlsverify", "icc", "live-restore", "no-new-privileges", "debug", "experimental",
     "ip-forward", "ip-masq", "iptables", "ip6tables", "ipv6", "userland-proxy",
     "selinux-enabled", "raw-logs", "init", "rootless"}
)
_STR_KEYS = frozenset(
    {"tlscacert", "tlscert", "tlskey", "data-root", "exec-root", "pidfile", "userns-remap",
     "log-driver", "log-level", "storage-driver", "containerd", "group", "cgroup-parent",
     "default-runtime", "seccomp-profile", "bip", "fixed-cidr", "fixed-cidr-v6",
     "default-cgroupns-mode", "default-ipc-mode", "metrics-addr", "init-path",
     "userland-proxy-path", "swarm-default-advertise-addr", "containerd-namespace",
     "containerd-plugins-namespace", "default-shm-size", "bridge"}
)
_INT_KEYS = frozenset(
    {"mtu", "max-concurrent-downloads", "max-concurrent-uploads", "max-download-attempts",
     "shutdown-timeout", "network-control-plane-mtu"}
)
_STR_LIST_KEYS = frozenset(
    {"hosts", "labels", "dns", "dns-opts", "dns-search", "exec-opts", "storage-opts",
     "registry-mirrors", "insecure-registries", "authorization-plugins",
     "node-generic-resources", "cdi-spec-dirs"}
)
_STR_MAP_KEYS = frozenset({"log-opts"})
_GO_INT_MIN, _GO_INT_MAX = -(2**63), 2**63 - 1  # Go's int on 64-bit Linux


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _type_problem(key: str, value: Any) -> str | None:
    """Go's decoder leaves a field alone on null, so null is always accepted."""
    if value is None:
        return None
    if key in _BOOL_KEYS and not isinstance(value, bool):
        hint = f" (write {str(value).lower()} without quotes)" if value in ("true", "false") else ""
        return f"{key}: must be true or false, found {_json_type(value)}{hint}"
    if key in _STR_KEYS and not isinstance(value, str):
        return f"{key}: must be a string, found {_json_type(value)}"
    if key in _INT_KEYS and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{key}: must be a whole number, found {_json_type(value)}"
    if key in _INT_KEYS and not _GO_INT_MIN <= value <= _GO_INT_MAX:
        return f"{key}: {value} does not fit dockerd's 64-bit whole number"
    if key in _STR_LIST_KEYS:
        if not isinstance(value, list):
            return f"{key}: must be a list of strings, found {_json_type(value)}"
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            return f"{key}: every entry must be a string, found {_json_type(bad[0])}"
    if key in _STR_MAP_KEYS:
        if not isinstance(value, dict):
            return f"{key}: must be an object of strings, found {_json_type(value)}"
        for k, v in value.items():
            if not isinstance(v, str):
                return f'{key}: "{k}" must be a string (e.g. "{v}"), found {_json_type(v)}'
    return None


def type_problems(data: dict[str, Any]) -> list[str]:
    """Values dockerd's decoder rejects ("json: cannot unmarshal ... into Go struct field")."""
    problems: list[str] = []
    for key, value in data.items():
        problem = _type_problem(key, value)
        if problem:
            problems.append(problem)
    return problems


# --------------------------------------------------------------------------------------------
# positions
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# the strict parser
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# comments and trailing commas
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# analysis
# --------------------------------------------------------------------------------------------


class DaemonJsonAnalysis(BaseModel):
    """Everything a plan or inspect needs to know about a daemon.json text.

    ``data`` is set only when the text is valid as it stands; ``repaired_data`` when it is
    not but removing comments/trailing commas makes it valid. ``unknown_keys`` (any release
    20.10-28) and ``type_problems`` are computed on whichever of the two exists: either one
    stops dockerd just like a syntax error does.
    """

    data: dict[str, Any] | None = None
    error: JsonProblem | None = None
    has_comments: bool = False
    has_trailing_commas: bool = False
    repairable: bool = False
    repaired_text: str | None = None
    repaired_data: dict[str, Any] | None = None
    repair_error: JsonProblem | None = None
    duplicate_keys: list[str] = Field(default_factory=list)
    unknown_keys: list[str] = Field(default_factory=list)
    type_problems: list[str] = Field(default_factory=list)
    empty: bool = False
    bom: bool = False
    warnings: list[str] = Field(default_factory=list)


def analyze(text: str, *, source: str = "daemon.json") -> DaemonJsonAnalysis:
    """Never raises: every problem with the text ends up in the analysis."""
    body = _blank_bom(text)
    spans = _scan(body)
    result = DaemonJsonAnalysis(
        has_comments=any(s.kind != "trailing-comma" for s in spans),
        has_trailing_commas=any(s.kind == "trailing-comma" for s in spans),
        bom=text.startswith("\ufeff"),
    )
    try:
        parsed = _parse(text, source, allow_empty=True)
    except DaemonJsonError as exc:
        result.error = exc.problem()
        try:
            result.repaired_text = repair(text, source=source)
            repaired = _parse(result.repaired_text, source, allow_empty=True)
            result.repaired_data = repaired.data
            result.duplicate_keys = repaired.duplicates
            result.repairable = True
        except DaemonJsonError as rexc:
            result.repair_error = rexc.problem()
    else:
        result.data = parsed.data
        result.duplicate_keys = parsed.duplicates
        result.empty = parsed.empty
        if parsed.empty:
            result.warnings.append(
                "the file is empty: Docker 23 and later treat it as an empty configuration, "
                'Docker 20.10 refuses to start ("EOF"); write "{}" to be safe on every version'
            )
        if parsed.null:
            result.warnings.append("the file holds only null: dockerd treats it as empty")
    content = result.data if result.data is not None else result.repaired_data
    if content is not None:
        result.unknown_keys = unknown_keys(content)
        result.type_problems = type_problems(content)
    if result.bom:
        result.warnings.append(
            "the file starts with a byte order mark: Docker 23 and later ignore it, Docker "
            "20.10 refuses to start (invalid character)"
        )
    for key in result.duplicate_keys:
        result.warnings.append(f'key "{key}" appears more than once; dockerd uses the last one')
    return result


# --------------------------------------------------------------------------------------------
# reading the file on a host
# --------------------------------------------------------------------------------------------


def _decode(raw: bytes) -> tuple[str, JsonProblem | None]:
    """UTF-8 (BOM ignored) or UTF-16 with a BOM, as dockerd >= 23 accepts."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), None
        except UnicodeDecodeError:
            text = raw.decode("utf-16", errors="replace")
            return text, JsonProblem(line=1, col=1, message="the file is not valid UTF-16")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace")
        prefix = raw[: exc.start].decode("utf-8", errors="replace")
        line, col = line_col(prefix, len(prefix))
        return text, JsonProblem(
            line=line, col=col,
            message=f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
        )


def read_daemon_json(host: Host, path: str = DEFAULT_PATH) -> DaemonJsonState:
    """Observe daemon.json on ``host``; never raises for content or permission problems."""
    state = DaemonJsonState(path=path, exists=False)
    try:
        local = host.resolve(path)
        st = local.stat()
    except PermissionError:
        state.exists = True  # a directory on the way is closed to us: it may well be there
        state.readable = False
        return state
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # there, but dockerd cannot read it either
            state.exists, state.readable = True, False
        return state
    state.exists = True
    state.mode, state.uid, state.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
    if not stat.S_ISREG(st.st_mode):
        state.readable = False
        return state
    try:
        raw = local.read_bytes()
    except OSError:
        state.readable = False
        return state
    text, decode_problem = _decode(raw)
    state.text = text
    analysis = analyze(text, source=path.rsplit("/", 1)[-1])
    state.has_comments = analysis.has_comments
    state.has_trailing_commas = analysis.has_trailing_commas
    state.data = analysis.data
    state.error = analysis.error
    state.repairable = analysis.repairable
    if decode_problem is not None:
        state.data = None
        state.error = decode_problem
        state.repairable = False
    return state


# --------------------------------------------------------------------------------------------
# in-place editing: the diff shows only what the mode changes
# --------------------------------------------------------------------------------------------


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
