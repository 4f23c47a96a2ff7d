"""docker.service and docker.socket as systemd sees them, and dockerd's command line.

Why this matters: the hosts conflict (a ``-H fd://`` in the unit plus ``hosts`` in
daemon.json) is the most common way a hand-secured daemon fails to start, and the only safe fix
is a drop-in that resets ExecStart while keeping every other flag. That needs the *effective*
ExecStart: the first unit fragment found along systemd's search path, its drop-ins in lexical
order (an empty ``ExecStart=`` resets the list), and ``$VAR``/``${VAR}`` expanded from
Environment= and EnvironmentFile= (Debian's docker.io unit passes ``$DOCKER_OPTS`` from
/etc/default/docker). All semantics follow systemd.syntax(7), systemd.unit(5),
systemd.service(5) and systemd.exec(5); dockerd's flags are read by dockerd_flags (pflag's rules).

One module on purpose (~830 lines): systemd's rules for a unit (search path, drop-in order
and masking, ``ExecStart=`` resets, quoting, ``$VAR`` expansion) only make sense together, and
a split would put half of one rule in each file; effective.py builds on it for listeners.
"""

from __future__ import annotations

import contextlib
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from dockwiz.daemon_json import (
    SKIP_DUPLICATES,
    flattened_items,
)
from dockwiz.docker_paths import SOCKET_URL
from dockwiz.dockerd_flags import FLAGS_BY_NAME, DockerdFlag
from dockwiz.dockerd_flags import DockerdFlags as DockerdFlags  # re-exported: older callers
from dockwiz.dockerd_flags import parse_dockerd_args as parse_dockerd_args  # the one parser
from dockwiz.errors import DockwizError
from dockwiz.host import Host
from dockwiz.models.host_state import DropIn, SocketUnitState, UnitState

# Highest precedence first (systemd.unit(5), "Unit File Load Path", system manager).
UNIT_DIRS: tuple[str, ...] = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
)
DROPIN_DIR = "/etc/systemd/system/docker.service.d"
_WS = " \t\n\r"  # systemd's WHITESPACE: no other character separates words or lines


class SystemdError(DockwizError):
    """A unit file or command line that systemd itself would reject."""


# --------------------------------------------------------------------------------------------
# unit files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitEntry:
    section: str
    key: str
    value: str
    line: int  # 1-based line where the assignment starts


@dataclass
class UnitFile:
    """A parsed unit file: every assignment in order, repeated keys kept."""

    path: str | None
    entries: list[UnitEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def values(self, section: str, key: str) -> list[str]:
        """Raw values in file order (including empty resets)."""
        return [e.value for e in self.entries if e.section == section and e.key == key]

    def sections(self) -> list[str]:
        seen: list[str] = []
        for e in self.entries:
            if e.section not in seen:
                seen.append(e.section)
        return seen


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Join backslash continuations as systemd's config parser does: the backslash becomes a
    space, continuation lines keep their leading blanks, and comment lines inside a
    continuation are skipped."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip(" \t\r")
        if pending and line.lstrip()[:1] in ("#", ";"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            if not pending:
                start = number
            pending.append(line[:-1] + " ")
            continue
        if pending:
            pending.append(line)
            yield start, "".join(pending).strip(_WS)
            pending = []
        else:
            yield number, line.strip(_WS)
    if pending:
        yield start, "".join(pending).strip(_WS)


def parse_unit(text: str, path: str | None = None) -> UnitFile:
    """Parse unit-file syntax (systemd.syntax(7)); never raises, oddities go to ``problems``."""
    unit = UnitFile(path=path)
    section = ""
    for number, line in _logical_lines(text):
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if line.endswith("]") and len(line) > 2:
                section = line[1:-1]
            else:
                unit.problems.append(f"{path or 'unit'}:{number}: malformed section header")
            continue
        if "=" not in line:
            unit.problems.append(f"{path or 'unit'}:{number}: line is not KEY=VALUE, ignored")
            continue
        if not section:
            unit.problems.append(f"{path or 'unit'}:{number}: assignment outside a section")
            continue
        key, value = line.split("=", 1)
        unit.entries.append(UnitEntry(section, key.strip(_WS), value.strip(_WS), number))
    return unit


# --------------------------------------------------------------------------------------------
# command lines
# --------------------------------------------------------------------------------------------

_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", '"': '"', "'": "'", "s": " ",
}
_EXEC_PREFIX = "-@:+!"


@dataclass(frozen=True)
class _Word:
    value: str
    raw: str


def _unescape(text: str, i: int) -> tuple[str, int]:
    """C-style escape at text[i] == '\\' (systemd's cunescape); returns (char, next index)."""
    if i + 1 >= len(text):
        raise SystemdError("command line ends with a lone backslash")
    c = text[i + 1]
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], i + 2
    hexlen = {"x": 2, "u": 4, "U": 8}.get(c)
    if hexlen:
        digits = text[i + 2 : i + 2 + hexlen]
        if len(digits) == hexlen and all(d in "0123456789abcdefABCDEF" for d in digits):
            code = int(digits, 16)
            if 0 < code <= 0x10FFFF and not 0xD800 <= code < 0xE000:
                return chr(code), i + 2 + hexlen
        raise SystemdError(f"invalid escape '\\{c}{digits}' in command line")
    if c in "01234567":
        digits = text[i + 1 : i + 4]
        if len(digits) == 3 and all(d in "01234567" for d in digits) and 0 < int(digits, 8) < 256:
            return chr(int(digits, 8)), i + 4
        raise SystemdError(f"invalid octal escape '\\{digits}' in command line")
    raise SystemdError(f"invalid escape '\\{c}' in command line")


def _words(value: str) -> list[_Word]:
    """systemd's extract_first_word with UNQUOTE|CUNESCAPE, repeated over the line."""
    words: list[_Word] = []
    i, n = 0, len(value)
    while True:
        while i < n and value[i] in _WS:
            i += 1
        if i >= n:
            return words
        start = i
        out: list[str] = []
        quote = ""
        while i < n:
            c = value[i]
            if quote:
                if c == quote:
                    quote = ""
                    i += 1
                elif c == "\\":
                    ch, i = _unescape(value, i)
                    out.append(ch)
                else:
                    out.append(c)
                    i += 1
                continue
            if c in _WS:
                break
            if c in "\"'":
                quote = c
                i += 1
            elif c == "\\":
                if i == start and value[i : i + 2] == "\\;" and value[i + 2 : i + 3] in ("", *_WS):
                    out.append(";")  # systemd checks for a lone \; word before unescaping
                    i += 2
                else:
                    ch, i = _unescape(value, i)
                    out.append(ch)
            else:
                out.append(c)
                i += 1
        if quote:
            raise SystemdError(f"unbalanced {quote} quote in command line")
        words.append(_Word("".join(out), value[start:i]))


def _specifiers(word: str) -> str:
    """Only '%%' matters for dockerd lines; other specifiers are left as written."""
    return word.replace("%%", "%")


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|\$)")
_WHOLE_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _expand_word(word: str, env: Mapping[str, str]) -> list[str]:
    """systemd.service(5): '$FOO' alone splits at whitespace into 0..n words; '${FOO}' is
    substituted in place and always yields exactly one word; '$$' is a literal '$'."""
    whole = _WHOLE_VAR.fullmatch(word)
    if whole:
        return split_var_value(env.get(whole.group(1), ""))

    def sub(m: re.Match[str]) -> str:
        return "$" if m.group(0) == "$$" else env.get(m.group(1), "")

    return [_VAR.sub(sub, word)]


def split_var_value(value: str) -> list[str]:
    """A ``$VAR`` value as systemd splits it into words: extract_first_word with
    EXTRACT_RELAX|EXTRACT_UNQUOTE (env-util.c, replace_env_argv). Quotes are removed wherever
    they are (``--tlscacert="/x"`` gives ``--tlscacert=/x``, checked against systemd 252 in
    tests/e2e/test_quoted_flags_e2e.py), a backslash keeps the next character, an unbalanced
    quote or a trailing backslash ends the word (RELAX)."""
    words: list[str] = []
    i, n = 0, len(value)
    while True:
        while i < n and value[i] in _WS:
            i += 1
        if i >= n:
            return words
        out: list[str] = []
        quote = ""
        while i < n:
            c = value[i]
            if c == "\\":
                if i + 1 < n:
                    out.append(value[i + 1])
                i += 2
            elif quote:
                if c == quote:
                    quote = ""
                else:
                    out.append(c)
                i += 1
            elif c in _WS:
                break
            elif c in "\"'":
                quote = c
                i += 1
            else:
                out.append(c)
                i += 1
        words.append("".join(out))


def _split_commands(value: str) -> list[list[_Word]]:
    """Only an unquoted ';' word separates commands; '\\;' and '";"' are a literal ';'."""
    commands: list[list[_Word]] = [[]]
    for word in _words(value):
        if word.raw == ";":
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def split_exec(
    value: str, env: Mapping[str, str] | None = None, *, expand: bool = True
) -> list[str]:
    """Split an Exec*= value into argv, as systemd does, for the first command on the line.

    Strips the ``-@:+!`` prefixes (with ``@`` the second word is argv[0] for the program:
    we return the executable path followed by the real arguments, which is what flag
    parsing needs). Expands ``$VAR``/``${VAR}``/``$$`` from ``env`` (unset variables expand
    to nothing, as in systemd); ``expand=False`` keeps the words as written. Raises
    SystemdError for unbalanced quotes or invalid escapes (systemd rejects the line too).
    """
    return [word for word, _var in split_exec_traced(value, env, expand=expand)]


def split_exec_traced(
    value: str, env: Mapping[str, str] | None = None, *, expand: bool = True
) -> list[tuple[str, str | None]]:
    """:func:`split_exec` with, for each word, the variable it came from (``$DOCKER_OPTS``)
    or None, so a listener read from an EnvironmentFile is reported against that file."""
    env = {} if env is None else env
    commands = _split_commands(value.strip(_WS))
    if not commands:
        return []
    words = [w.value for w in commands[0]]
    raw_first = commands[0][0].raw
    prefix = raw_first[: len(raw_first) - len(raw_first.lstrip(_EXEC_PREFIX))]
    words[0] = words[0][len(prefix) :]
    if not words[0]:
        words = words[1:]  # "- /usr/bin/dockerd": the prefix stood alone
    if "@" in prefix and len(words) > 1:
        del words[1]  # the word after the path is argv[0] for the program, not an argument
    result: list[tuple[str, str | None]] = []
    for word in words:
        word = _specifiers(word)
        if not expand:
            result.append((word, None))
            continue
        names = [m.group(1) for m in _VAR.finditer(word) if m.group(1)]
        whole = _WHOLE_VAR.fullmatch(word)
        origin = whole.group(1) if whole else (names[0] if names else None)
        result.extend((w, origin) for w in _expand_word(word, env))
    return result


_SAFE_ARG = re.compile(r"[A-Za-z0-9_@+=:,./-]+")


def quote_arg(arg: str, *, first: bool = False) -> str:
    """Quote one argument so that split_exec gives it back unchanged (no expansion either).

    Only the first word of a command line can carry the ``-@:+!`` prefixes, so only there
    does a leading '-' need quotes.
    """
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if arg == ";":
        return "\\;"
    if _SAFE_ARG.fullmatch(escaped) and not (first and escaped[0] in _EXEC_PREFIX):
        return escaped
    out = ['"']
    for ch in escaped:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render_exec(argv: list[str]) -> str:
    if not argv or not argv[0].startswith("/"):
        raise SystemdError(
            "ExecStart needs an absolute path to the program",
            hint="use the full path of dockerd, e.g. /usr/bin/dockerd",
        )
    return " ".join(quote_arg(a, first=i == 0) for i, a in enumerate(argv))


def render_dropin(argv: list[str], why: str) -> str:
    """A drop-in that replaces ExecStart (the packaged unit is never edited)."""
    # A comment line ending in a backslash would swallow the next line (systemd continues
    # lines before it looks for comments), so trailing backslashes are dropped.
    comments = "".join(
        f"# {line}".rstrip(" \t\r\\") + "\n" for line in why.strip().splitlines()
    )
    return f"{comments}[Service]\nExecStart=\nExecStart={render_exec(argv)}\n"


# --------------------------------------------------------------------------------------------
# environment
# --------------------------------------------------------------------------------------------


def parse_environment_assignments(value: str) -> dict[str, str]:
    """Environment= takes space-separated, optionally quoted VAR=value words."""
    env: dict[str, str] = {}
    try:
        words = _words(value)
    except SystemdError:
        return env
    for word in words:
        name, sep, val = _specifiers(word.value).partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            env[name] = val
    return env


def parse_env_file(text: str) -> dict[str, str]:
    """EnvironmentFile= syntax (systemd.exec(5)): KEY=VALUE lines, '#'/';' comments, quotes.

    Values in double quotes honour backslash escapes of '"', '\\', '$' and '`'; single quotes
    are literal; unquoted values lose surrounding blanks. A trailing backslash continues.
    A shell-style ``export NAME=...`` line is not an assignment for systemd (the name would
    contain a space) and is ignored, as systemd does: options set that way never reach dockerd.
    """
    env: dict[str, str] = {}
    joined: list[str] = []
    for raw in text.split("\n"):
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            joined.append(raw[:-1])
            continue
        joined.append(raw)
        line = "".join(joined).strip(_WS)
        joined = []
        if not line or line[0] in "#;":
            continue
        name, sep, value = line.partition("=")
        name = name.strip(_WS)
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
            continue
        env[name] = _env_value(value.strip(_WS))
    return env


def _env_value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r'\\([\\"$`])', r"\1", value[1:-1])
    return value


# --------------------------------------------------------------------------------------------
# locating units and drop-ins on a host
# --------------------------------------------------------------------------------------------


def _locate(host: Host, path: str) -> tuple[str, Path] | None:
    """(resolved host path, local path), following symlinks inside the host root."""
    try:
        resolved = host.resolve_host_path(path)
    except (OSError, ValueError):
        return None
    return resolved, host.path(resolved)


def _is_null(host: Host, path: str) -> bool:
    """systemd treats a link to /dev/null, and an empty file, as masked."""
    located = _locate(host, path)
    if located is None:
        return False
    resolved, local = located
    if resolved == "/dev/null":
        return True
    try:
        return local.is_file() and local.stat().st_size == 0
    except OSError:
        return False


def find_fragment(host: Host, name: str) -> str | None:
    """The unit file systemd would load: the first found along UNIT_DIRS."""
    for directory in UNIT_DIRS:
        candidate = f"{directory}/{name}"
        located = _locate(host, candidate)
        if located and (located[0] == "/dev/null" or located[1].is_file()):
            return candidate
    return None


def find_dropins(host: Host, name: str) -> list[str]:
    """Drop-ins for ``name``: '*.conf' in NAME.d/ of every dir; an earlier dir masks a file
    of the same name in a later one; the survivors apply in lexical order of file name."""
    chosen: dict[str, str] = {}
    for directory in UNIT_DIRS:
        d = f"{directory}/{name}.d"
        located = _locate(host, d)
        if located is None:
            continue
        try:
            entries = sorted(p.name for p in located[1].iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".conf") and entry not in chosen:
                chosen[entry] = f"{d}/{entry}"
    return [chosen[k] for k in sorted(chosen)]


@dataclass
class _Loaded:
    fragment: str | None
    fragment_mode: int | None
    files: list[tuple[str, UnitFile, str]]  # (path, parsed, text), fragment first
    problems: list[str]
    masked: bool = False


def _read(host: Host, path: str) -> tuple[str | None, str | None]:
    try:
        local = host.resolve(path)
        return local.read_text(encoding="utf-8", errors="replace"), None
    except PermissionError:
        return None, f"{path}: permission denied"
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"


def _load(host: Host, name: str) -> _Loaded:
    fragment = find_fragment(host, name)
    loaded = _Loaded(fragment=fragment, fragment_mode=None, files=[], problems=[])
    if fragment is None:
        return loaded
    if _is_null(host, fragment):
        loaded.masked = True
        loaded.problems.append(f"{name} is masked ({fragment} is empty or links to /dev/null)")
        return loaded
    with contextlib.suppress(OSError, ValueError):
        loaded.fragment_mode = stat.S_IMODE(host.resolve(fragment).stat().st_mode)
    for path in [fragment, *find_dropins(host, name)]:
        if path != fragment and _is_null(host, path):
            continue
        text, problem = _read(host, path)
        if text is None:
            loaded.problems.append(f"cannot read {problem}")
            continue
        unit = parse_unit(text, path)
        loaded.problems.extend(unit.problems)
        loaded.files.append((path, unit, text))
    return loaded


# --------------------------------------------------------------------------------------------
# effective ExecStart
# --------------------------------------------------------------------------------------------


class ExecStartResult(BaseModel):
    """The ExecStart systemd would run, where it came from, and what is wrong with it."""

    argv: list[str] | None = None
    raw: str | None = None
    source: str | None = None
    line: int | None = None  # where the ExecStart in force starts in ``source``
    candidates: list[tuple[str, str]] = Field(default_factory=list)  # (source, raw) after reset
    environment: dict[str, str] = Field(default_factory=dict)
    environment_sources: dict[str, str] = Field(default_factory=dict)  # NAME -> file that set it
    origins: list[str | None] = Field(default_factory=list)  # per argv word: the $VAR it came from
    problems: list[str] = Field(default_factory=list)


def _service_environment(
    host: Host, files: list[tuple[str, UnitFile, str]], sources: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Environment= then EnvironmentFile= (files override Environment=, systemd.exec(5)).

    ``sources`` (when given) receives, for each variable, the file (and line) that set it."""
    sources = {} if sources is None else sources
    env: dict[str, str] = {}
    env_files: list[str] = []
    problems: list[str] = []
    for path, unit, _text in files:
        for entry in unit.entries:
            if entry.section != "Service":
                continue
            if entry.key == "Environment":
                if entry.value == "":
                    env = {}
                else:
                    assigned = parse_environment_assignments(entry.value)
                    env.update(assigned)
                    sources.update({k: f"{path}:{entry.line}" for k in assigned})
            elif entry.key == "EnvironmentFile":
                if entry.value == "":
                    env_files = []
                else:
                    env_files.append(entry.value)
    for spec in env_files:
        optional = spec.startswith("-")
        path = spec[1:] if optional else spec
        if not path.startswith("/"):
            problems.append(f"EnvironmentFile={spec}: path is not absolute")
            continue
        text, problem = _read(host, path)
        if text is None:
            if not optional:
                problems.append(f"EnvironmentFile={path} cannot be read ({problem}): "
                                "systemd will refuse to start the service")
            continue
        from_file = parse_env_file(text)
        env.update(from_file)
        sources.update({k: path for k in from_file})
    return env, problems


def effective_exec_start(host: Host, name: str = "docker.service") -> ExecStartResult:
    """The ExecStart systemd would run for ``name``: argv, source file, the environment used
    to expand it, and every candidate line when there is more than one (systemd refuses)."""
    return _effective_exec_start(host, name)[0]


def _effective_exec_start(host: Host, name: str) -> tuple[ExecStartResult, _Loaded]:
    loaded = _load(host, name)
    result = ExecStartResult(problems=list(loaded.problems))
    if loaded.fragment is None or loaded.masked:
        return result, loaded
    candidates: list[tuple[str, str]] = []
    lines: list[int] = []
    reset_seen = False
    for path, unit, _text in loaded.files:
        for entry in unit.entries:
            if entry.section != "Service" or entry.key != "ExecStart":
                continue
            if entry.value == "":
                candidates, lines = [], []
                reset_seen = True
            else:
                candidates.append((path, entry.value))
                lines.append(entry.line)
    result.candidates = candidates
    env, env_problems = _service_environment(host, loaded.files, result.environment_sources)
    result.environment = env
    result.problems.extend(env_problems)
    if not candidates:
        result.problems.append("no ExecStart: the unit cannot start dockerd")
        return result, loaded
    if len(candidates) > 1:
        where = ", ".join(sorted({p for p, _ in candidates}))
        if reset_seen:
            result.problems.append(
                f"two ExecStart after reset (in {where}): systemd refuses a service with more "
                "than one ExecStart= unless Type=oneshot"
            )
        else:
            result.problems.append(
                f"more than one ExecStart (in {where}): a drop-in must first reset it with an "
                "empty 'ExecStart=' line, otherwise systemd refuses to load the service"
            )
        return result, loaded
    source, raw = candidates[0]
    result.source, result.raw, result.line = source, raw, lines[0]
    try:
        traced = split_exec_traced(raw, env)
        result.argv = [word for word, _ in traced]
        result.origins = [origin for _, origin in traced]
    except SystemdError as exc:
        result.problems.append(f"ExecStart in {source}: {exc.message}")
    return result, loaded


def read_docker_unit(host: Host) -> UnitState:
    """Observe docker.service; never raises (problems are recorded)."""
    try:
        result, loaded = _effective_exec_start(host, "docker.service")
    except OSError as exc:  # pragma: no cover - a filesystem failure mid-read
        return UnitState(problems=[f"cannot read docker.service: {exc}"])
    state = UnitState(
        path=loaded.fragment,
        exists=loaded.fragment is not None,
        mode=loaded.fragment_mode,
        exec_start=result.argv,
        exec_start_source=result.source,
        problems=result.problems,
    )
    if loaded.fragment is None:
        state.problems.append(
            "docker.service not found in " + ", ".join(UNIT_DIRS)
        )
    for path, unit, text in loaded.files[1:]:
        state.dropins.append(
            DropIn(path=path, text=text, sets_exec_start=bool(unit.values("Service", "ExecStart")))
        )
    return state


class ListenStreamEntry(BaseModel):
    """One ListenStream= in force for a socket unit, with the file and line that set it."""

    value: str
    path: str
    line: int


def socket_listen_streams(host: Host, name: str = "docker.socket") -> tuple[
        list[ListenStreamEntry], bool]:
    """The ListenStream= values in force (fragment, then drop-ins in systemd's order, an empty
    assignment resets), and whether the unit is there at all (present and not masked)."""
    loaded = _load(host, name)
    if loaded.fragment is None or loaded.masked:
        return [], False
    streams: list[ListenStreamEntry] = []
    for path, unit, _text in loaded.files:
        for entry in unit.entries:
            if entry.section == "Socket" and entry.key == "ListenStream":
                if entry.value == "":
                    streams = []
                else:
                    streams.append(ListenStreamEntry(value=entry.value, path=path,
                                                     line=entry.line))
    return streams, True


def read_socket_unit(host: Host) -> SocketUnitState:
    """Observe docker.socket (socket activation hands the socket over only with -H fd://)."""
    try:
        loaded = _load(host, "docker.socket")
    except OSError:  # pragma: no cover
        return SocketUnitState()
    state = SocketUnitState(path=loaded.fragment, exists=loaded.fragment is not None)
    for _path, unit, _text in loaded.files:
        for entry in unit.entries:
            if entry.section != "Socket":
                continue
            if entry.key == "ListenStream":
                if entry.value == "":
                    state.listen_stream = []
                else:
                    state.listen_stream.append(entry.value)
            elif entry.key == "SocketMode":
                state.socket_mode = entry.value or None
            elif entry.key == "SocketUser":
                state.socket_user = entry.value or None
            elif entry.key == "SocketGroup":
                state.socket_group = entry.value or None
    return state


# --------------------------------------------------------------------------------------------
# dockerd's flags
# --------------------------------------------------------------------------------------------


def flag_to_json_key(name: str) -> str:
    """The daemon.json key for a long flag name: host -> hosts, log-opt -> log-opts."""
    flag = FLAGS_BY_NAME.get(name)
    return flag.json_key if flag else name


def json_key_to_flag(key: str) -> str | None:
    """The long flag that sets the same option as daemon.json ``key``, if there is one."""
    for flag in FLAGS_BY_NAME.values():
        if flag.json_key == key:
            return flag.name
    return key if key in FLAGS_BY_NAME else None


def _go_fmt(value: Any) -> str:
    """Go's %v for what json.Unmarshal puts in a map[string]interface{}."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(_go_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_fmt(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _flag_value_string(flag: DockerdFlag, value: Any) -> str:
    """pflag's Value.String() for the flag as dockerd holds it after parsing."""
    if flag.kind == "list" and isinstance(value, list):
        if flag.json_key in ("log-opts", "default-network-opts"):
            pairs = dict(v.partition("=")[::2] for v in value)
            return "map[" + " ".join(f"{k}:{pairs[k]}" for k in sorted(pairs)) + "]"
        return "[" + " ".join(value) + "]"
    return _go_fmt(value)


def _conflicts(flags: DockerdFlags, data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """moby's duplicatedConflicts, over flags.Visit's sorted order of the flags given."""
    config = dict(flattened_items(dict(data)))
    found: list[tuple[str, str, str]] = []
    for name in sorted(flags.options):
        flag = FLAGS_BY_NAME[name]
        value = flags.options[name]
        if flag.json_key != flag.name:  # a NamedOption: only its name is looked up
            candidates = [flag.json_key]
        else:
            candidates = [n for n in (flag.name, flag.short) if n]
        for key in candidates:
            if key in config and key not in SKIP_DUPLICATES:
                found.append((key, _flag_value_string(flag, value), _go_fmt(config[key])))
                break
    return found


def conflicting_directives(flags: DockerdFlags, data: Mapping[str, Any]) -> list[str]:
    """daemon.json keys also given as flags: dockerd refuses to start with any of them."""
    return [key for key, _, _ in _conflicts(flags, data)]


def conflict_message(flags: DockerdFlags, data: Mapping[str, Any]) -> str | None:
    """dockerd's own error for the conflict, or None when there is none."""
    found = _conflicts(flags, data)
    if not found:
        return None
    return (
        "the following directives are specified both as a flag and in the configuration file: "
        + ", ".join(f"{k}: (from flag: {fv}, from file: {dv})" for k, fv, dv in found)
    )


def effective_hosts(flags: DockerdFlags | None, data: Mapping[str, Any] | None) -> list[str]:
    """Where dockerd listens: -H flags, else daemon.json hosts, else the default unix socket.

    With -H given and a "hosts" key in daemon.json (even an empty list or null) dockerd does
    not start at all: the answer is [] (``conflict_message`` says why). A rootless daemon's
    default socket lives under $XDG_RUNTIME_DIR instead; that is not modelled here.
    """
    flag_hosts = list(flags.hosts) if flags else []
    config = dict(flattened_items(dict(data or {})))
    if flag_hosts and "hosts" in config:
        return []
    if flag_hosts:
        return flag_hosts
    file_hosts = config.get("hosts")
    if isinstance(file_hosts, list) and file_hosts:
        return [h for h in file_hosts if isinstance(h, str)]
    return [SOCKET_URL]
