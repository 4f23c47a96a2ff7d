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

The package: ``keys`` (what dockerd knows), ``parser`` (strict, line:col), ``repair``
(comments, trailing commas; rendering), ``analysis`` (judged whole; read from a host), ``edit``
(in place). This face is what the rest of dockwiz imports.
"""

from __future__ import annotations

from dockwiz.daemon_json.analysis import (
    DaemonJsonAnalysis,
    analyze,
    read_daemon_json,
)
from dockwiz.daemon_json.edit import (
    edit_in_place,
)
from dockwiz.daemon_json.keys import (
    FLAT_OPTIONS,
    KNOWN_KEYS,
    SKIP_DUPLICATES,
    SKIP_VALIDATE,
    flattened_items,
    known_keys,
    type_problems,
    unknown_keys,
    unknown_keys_message,
)
from dockwiz.daemon_json.parser import (
    MAX_DEPTH,
    DaemonJsonError,
    line_col,
    parse_strict,
)
from dockwiz.daemon_json.repair import (
    render,
    repair,
)
from dockwiz.docker_paths import DAEMON_JSON as DEFAULT_PATH
from dockwiz.dockerd_flags import (  # re-exported: callers name the option table here
    DOCKERD_FLAGS,
    FLAGS_BY_JSON_KEY,
    FLAGS_BY_NAME,
    FLAGS_BY_SHORT,
    DockerdFlag,
    FlagKind,
)

__all__ = [
    "DEFAULT_PATH",
    "DOCKERD_FLAGS",
    "FLAGS_BY_JSON_KEY",
    "FLAGS_BY_NAME",
    "FLAGS_BY_SHORT",
    "FLAT_OPTIONS",
    "KNOWN_KEYS",
    "MAX_DEPTH",
    "SKIP_DUPLICATES",
    "SKIP_VALIDATE",
    "DaemonJsonAnalysis",
    "DaemonJsonError",
    "DockerdFlag",
    "FlagKind",
    "analyze",
    "edit_in_place",
    "flattened_items",
    "known_keys",
    "line_col",
    "parse_strict",
    "read_daemon_json",
    "render",
    "repair",
    "type_problems",
    "unknown_keys",
    "unknown_keys_message",
]
