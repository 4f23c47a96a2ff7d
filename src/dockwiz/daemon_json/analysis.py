"""A daemon.json judged whole (errors, warnings, repairable or not), and read from a host."""

from __future__ import annotations

import errno
import stat
from typing import Any

from pydantic import BaseModel, Field

from dockwiz.daemon_json.keys import type_problems, unknown_keys
from dockwiz.daemon_json.parser import DaemonJsonError, _blank_bom, _parse, line_col
from dockwiz.daemon_json.repair import _scan, repair
from dockwiz.docker_paths import DAEMON_JSON as DEFAULT_PATH
from dockwiz.host import Host
from dockwiz.models.host_state import DaemonJsonState, JsonProblem


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
