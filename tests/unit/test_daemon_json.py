"""daemon.json: strict parsing with line:col, repair of comments/trailing commas, key knowledge."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockwiz.daemon_json import (
    KNOWN_KEYS,
    DaemonJsonError,
    analyze,
    known_keys,
    line_col,
    parse_strict,
    read_daemon_json,
    render,
    repair,
    type_problems,
    unknown_keys,
    unknown_keys_message,
)
from dockwiz.errors import DockwizError
from dockwiz.host import Host
from dockwiz.lab.scenarios import SEED_001_DAEMON_JSON

# Seed 001: the "hardened" daemon.json of the tutorial, with its // comments (as the lab
# scenario commented-json lays it out).
SEED_001 = SEED_001_DAEMON_JSON
SEED_001_DATA = {
    "icc": False,
    "userns-remap": "default",
    "tlsverify": True,
    "tlscacert": "/etc/docker/pki/ca.pem",
    "tlscert": "/etc/docker/pki/server-cert.pem",
    "tlskey": "/etc/docker/pki/server-key.pem",
    "log-driver": "local",
    "log-opts": {"max-size": "10m", "max-file": "3"},
    "live-restore": True,
    "no-new-privileges": True,
}

# Seed 004: mTLS step, trailing comma after the last key (and trailing blanks, as published).
SEED_004 = (
    "{\n"
    '  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"],\n'
    '  "tls": true,                             \n'
    '  "tlscert": "/etc/docker/certs/cert.pem", \n'
    '  "tlskey": "/etc/docker/certs/key.pem",   \n'
    '  "tlsverify": true,                      \n'
    '  "tlscacert": "/etc/docker/certs/ca.pem", \n'
    "}\n"
)


def _error(text: str, **kwargs: Any) -> DaemonJsonError:
    with pytest.raises(DaemonJsonError) as info:
        parse_strict(text, **kwargs)
    return info.value


# --------------------------------------------------------------------------------------------
# the seeds
# --------------------------------------------------------------------------------------------


def test_seed_001_comments_are_an_error_at_the_first_comment() -> None:
    err = _error(SEED_001)
    assert (err.line, err.col) == (2, 17)
    assert "comments are not allowed" in err.reason
    assert str(err).startswith("daemon.json:2:17: comments are not allowed")
    assert isinstance(err, DockwizError) and err.hint


def test_seed_001_repairs_to_the_intended_data_keeping_layout() -> None:
    repaired = repair(SEED_001)
    assert parse_strict(repaired) == SEED_001_DATA
    assert list(parse_strict(repaired)) == list(SEED_001_DATA)  # key order kept
    assert "//" not in repaired and "prevent" not in repaired
    assert repaired.splitlines()[1] == '  "icc": false,'
    assert repaired.endswith("}\n")
    analysis = analyze(SEED_001)
    assert analysis.data is None
    assert analysis.error is not None and (analysis.error.line, analysis.error.col) == (2, 17)
    assert analysis.has_comments and not analysis.has_trailing_commas
    assert analysis.repairable and analysis.repaired_data == SEED_001_DATA
    assert analysis.repaired_text == repaired


def test_seed_004_trailing_comma_points_at_the_comma() -> None:
    err = _error(SEED_004)
    line = SEED_004.splitlines()[6]
    assert (err.line, err.col) == (7, line.index(",") + 1)
    assert "trailing comma" in err.reason
    data = parse_strict(repair(SEED_004))
    assert data["tlscacert"] == "/etc/docker/certs/ca.pem"
    assert data["hosts"] == ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"]
    analysis = analyze(SEED_004)
    assert analysis.has_trailing_commas and not analysis.has_comments and analysis.repairable


# --------------------------------------------------------------------------------------------
# strictness and positions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "col", "reason"),
    [
        ('{"a": 1 "b": 2}', 1, 9, "expected ',' or '}'"),
        ('{\n  "a": 1\n  "b": 2\n}', 3, 3, "expected ',' or '}'"),
        ("{'a': 1}", 1, 2, "double quotes"),
        ("{a: 1}", 1, 2, "member name in double quotes"),
        ('{"a" 1}', 1, 6, "':'"),
        ('{"a": NaN}', 1, 7, "NaN"),
        ('{"a": Infinity}', 1, 7, "Infinity"),
        ('{"a": -Infinity}', 1, 7, "invalid number"),
        ('{"a": True}', 1, 7, "lower-case"),
        ('{"a": 01}', 1, 7, "invalid number"),
        ('{"a": 1.}', 1, 7, "invalid number"),
        ('{"a": 1e999}', 1, 7, "too large"),
        ('{"a": "x\ny"}', 1, 9, "line break inside a string"),
        ('{"a": "\\q"}', 1, 8, "invalid escape"),
        ('{"a": "\\u12"}', 1, 8, "\\u escape"),
        ('{"a": "open', 1, 7, "never closed"),
        ('{"a": [1, 2,]}', 1, 12, "trailing comma before ']'"),
        ('{"a": 1,}', 1, 8, "trailing comma before '}'"),
        ("{} {}", 1, 4, "exactly one object"),
        ("[]", 1, 1, "must hold one JSON object"),
        ('  "x"', 1, 3, "found a string"),
        ("{", 1, 2, "end of the file"),
        ('{"a": 1} // done', 1, 10, "exactly one object"),
        ('{\n\t"a": /* c */ 1}', 2, 7, "comments are not allowed"),
        ('{"a": 1, # c\n}', 1, 10, "comments are not allowed"),
    ],
)
def test_errors_have_exact_line_and_column(text: str, line: int, col: int, reason: str) -> None:
    err = _error(text)
    assert (err.line, err.col) == (line, col), err.reason
    assert reason in err.reason
    assert str(err).startswith(f"daemon.json:{line}:{col}: ")


def test_empty_and_null_are_empty_configs_like_dockerd_23() -> None:
    assert parse_strict("") == {}
    assert parse_strict(" \n\t\r\n") == {}
    assert parse_strict("null") == {}
    err = _error("\n", allow_empty=False)
    assert (err.line, err.col) == (1, 1) and "empty" in err.reason
    analysis = analyze("")
    assert analysis.data == {} and analysis.empty
    assert any("20.10" in w for w in analysis.warnings)


def test_bom_is_ignored_with_a_warning_and_positions_stay_true() -> None:
    assert parse_strict('\ufeff{"a": 1}') == {"a": 1}
    assert analyze('\ufeff{"a": 1}').bom
    err = _error('\ufeff{"a" 1}')
    assert (err.line, err.col) == (1, 7)


def test_duplicate_keys_last_wins_and_are_reported() -> None:
    text = '{"debug": false, "log-opts": {"max-size": "1m", "max-size": "2m"}, "debug": true}'
    assert parse_strict(text) == {"debug": True, "log-opts": {"max-size": "2m"}}
    analysis = analyze(text)
    assert sorted(analysis.duplicate_keys) == ["debug", "log-opts.max-size"]
    assert any('"debug"' in w for w in analysis.warnings)


def test_escapes_and_surrogates_decode_like_go() -> None:
    assert parse_strict('{"a": "\\u00e9\\n\\/\\ud83d\\ude00"}') == {"a": "é\n/😀"}
    assert parse_strict('{"a": "\\ud800x"}') == {"a": "\ufffdx"}  # lone surrogate -> U+FFFD


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    err = _error('{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    assert "nested deeper" in err.reason


def test_line_col_counts_characters() -> None:
    assert line_col("ab\ncd", 0) == (1, 1)
    assert line_col("ab\ncd", 3) == (2, 1)
    assert line_col("é\nxy", 4) == (2, 3)


# --------------------------------------------------------------------------------------------
# repair
# --------------------------------------------------------------------------------------------


def test_repair_keeps_comment_lookalikes_inside_strings() -> None:
    text = """{
  // listen on both
  "hosts": ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2376"], /* local only */
  "labels": ["a=#1", "b=/*x*/", "c=//y"],  # labels
  "data-root": "/srv/docker",
}
"""
    data = parse_strict(repair(text))
    assert data == {
        "hosts": ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2376"],
        "labels": ["a=#1", "b=/*x*/", "c=//y"],
        "data-root": "/srv/docker",
    }
    analysis = analyze(text)
    assert analysis.has_comments and analysis.has_trailing_commas


def test_repair_refuses_to_guess_and_points_into_the_original() -> None:
    text = '{\n  // a comment\n  "a": 1\n  "b": 2\n}'
    with pytest.raises(DaemonJsonError) as info:
        repair(text)
    assert (info.value.line, info.value.col) == (4, 3)
    analysis = analyze(text)
    assert not analysis.repairable and analysis.repaired_text is None
    assert analysis.repair_error is not None and analysis.repair_error.line == 4


def test_repair_unclosed_block_comment_is_an_error_at_its_start() -> None:
    with pytest.raises(DaemonJsonError) as info:
        repair('{"a": 1 /* never closed\n}')
    assert (info.value.line, info.value.col) == (1, 9)


def test_repair_of_valid_text_changes_nothing() -> None:
    text = '{\n  "a": [1, 2],\n  "b": "x"\n}\n'
    assert repair(text) == text


def test_repair_keeps_untouched_lines_and_crlf_and_drops_comment_only_lines() -> None:
    text = '{\r\n  /* a\r\n     b */\r\n  "x": 1, // c\r\n\r\n  "y": 2,\r\n}\r\n'
    assert repair(text) == '{\r\n  "x": 1,\r\n\r\n  "y": 2\r\n}\r\n'


def test_repair_drops_the_bom_and_never_leaves_an_empty_file() -> None:
    assert repair('\ufeff{"a": 1, // x\n}') == '{"a": 1\n}\n'
    assert repair("// nothing but a comment\n") == "{}\n"
    assert repair("") == ""


def test_repair_does_not_invent_values_for_double_commas() -> None:
    with pytest.raises(DaemonJsonError):
        repair('{"a": [1,,]}')


# --------------------------------------------------------------------------------------------
# render
# --------------------------------------------------------------------------------------------


def test_render_is_stable_two_space_json_with_order_and_unicode() -> None:
    data = {"z": 1, "a": {"é": "ü"}, "hosts": ["fd://"], "e": [], "o": {}}
    text = render(data)
    assert text == (
        '{\n  "z": 1,\n  "a": {\n    "é": "ü"\n  },\n  "hosts": [\n    "fd://"\n  ],\n'
        '  "e": [],\n  "o": {}\n}\n'
    )
    assert parse_strict(text) == data
    assert render(parse_strict(text)) == text


# --------------------------------------------------------------------------------------------
# keys and types
# --------------------------------------------------------------------------------------------

SECURITY_KEYS = [
    "hosts", "tls", "tlsverify", "tlscacert", "tlscert", "tlskey", "live-restore", "icc",
    "no-new-privileges", "userns-remap", "log-driver", "log-opts", "data-root", "exec-root",
    "pidfile", "debug", "storage-driver", "storage-opts", "labels", "registry-mirrors",
    "insecure-registries", "default-ulimits", "runtimes", "default-runtime", "features",
    "builder", "exec-opts", "dns", "dns-search", "dns-opts", "default-address-pools", "mtu",
    "max-concurrent-downloads", "shutdown-timeout", "log-level", "selinux-enabled",
    "userland-proxy", "iptables", "ip6tables", "ipv6", "bip", "fixed-cidr", "group",
    "containerd", "seccomp-profile", "authorization-plugins", "metrics-addr", "experimental",
    "default-shm-size", "cgroup-parent", "init", "ip-forward", "ip-masq",
]


@pytest.mark.parametrize("key", SECURITY_KEYS)
def test_known_keys_cover_what_dockerd_accepts(key: str) -> None:
    assert key in KNOWN_KEYS


def test_unknown_keys_follow_dockerd_flattening_and_versions() -> None:
    data = {
        "hosts": ["fd://"],
        "host": ["x"],  # a flag name: dockerd's Lookup accepts it
        "tlsverfy": True,
        "proxies": {"http-proxy": "http://p:3128", "bogus": 1},
        "log-opts": {"anything": "goes"},
    }
    assert unknown_keys(data) == ["tlsverfy", "bogus"]
    assert unknown_keys({"proxies": {"http-proxy": "x"}}, version="20.10.24") == ["http-proxy"]
    assert unknown_keys({"proxies": {"http-proxy": "x"}}, version="27.3.1") == []
    assert unknown_keys({"graph": "/x"}, version="20.10") == []
    assert unknown_keys({"graph": "/x"}, version="28.0.1") == ["graph"]
    assert "cluster-store" not in known_keys("24.0")
    assert known_keys("19.03.15") == known_keys("20.10.27")  # older: judged as 20.10
    analysis = analyze('{"tlsverfy": true, "tls": "yes", // x\n}')
    assert analysis.unknown_keys == ["tlsverfy"]
    assert analysis.type_problems == ["tls: must be true or false, found a string"]
    assert unknown_keys_message(["a", "b"]) == (
        "the following directives don't match any configuration option: a, b"
    )


def test_type_problems_catch_the_classic_mistakes() -> None:
    problems = type_problems(
        {
            "hosts": "tcp://0.0.0.0:2376",
            "tlsverify": "true",
            "tls": None,
            "tlscacert": 5,
            "log-opts": {"max-size": "10m", "max-file": 3},
            "live-restore": True,
            "mtu": 1.5,
            "labels": ["a", 1],
        }
    )
    assert len(problems) == 6
    assert problems[0].startswith("hosts: must be a list of strings")
    assert "without quotes" in problems[1]
    assert problems[3].startswith('log-opts: "max-file" must be a string')
    assert type_problems(SEED_001_DATA) == []


# --------------------------------------------------------------------------------------------
# reading from a host
# --------------------------------------------------------------------------------------------


def _host_with(tmp_path: Path, content: bytes | None, mode: int = 0o644) -> Host:
    (tmp_path / "etc/docker").mkdir(parents=True)
    if content is not None:
        f = tmp_path / "etc/docker/daemon.json"
        f.write_bytes(content)
        f.chmod(mode)
    return Host(tmp_path)


def test_read_missing_file_is_a_valid_state(tmp_path: Path) -> None:
    state = read_daemon_json(_host_with(tmp_path, None))
    assert not state.exists and state.readable and state.data is None and state.error is None


def test_read_valid_file_records_mode_and_owner(tmp_path: Path) -> None:
    state = read_daemon_json(_host_with(tmp_path, b'{"live-restore": true}\n', 0o600))
    assert state.exists and state.readable
    assert state.data == {"live-restore": True}
    assert state.mode == 0o600
    st_ = (tmp_path / "etc/docker/daemon.json").stat()
    assert (state.uid, state.gid) == (st_.st_uid, st_.st_gid)
    assert state.path == "/etc/docker/daemon.json"


def test_read_commented_file_reports_error_and_repairability(tmp_path: Path) -> None:
    state = read_daemon_json(_host_with(tmp_path, SEED_001.encode()))
    assert state.data is None and state.error is not None
    assert (state.error.line, state.error.col) == (2, 17)
    assert state.has_comments and state.repairable and state.text == SEED_001


def test_read_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = _host_with(tmp_path, b"{}", 0o000)

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    if os.geteuid() == 0:  # root reads mode 000 files: simulate the EACCES a user gets
        monkeypatch.setattr(Path, "read_bytes", denied)
    state = read_daemon_json(host)
    assert state.exists and not state.readable and state.data is None
    assert state.mode == 0


def test_read_directory_and_bad_encodings(tmp_path: Path) -> None:
    (tmp_path / "etc/docker/daemon.json").mkdir(parents=True)
    state = read_daemon_json(Host(tmp_path))
    assert state.exists and not state.readable

    other = tmp_path / "b"
    host = _host_with(other, b'{\n  "a": "\xff"\n}')
    state = read_daemon_json(host)
    assert state.error is not None and (state.error.line, state.error.col) == (2, 9)
    assert "UTF-8" in state.error.message and not state.repairable

    utf16 = tmp_path / "c"
    state = read_daemon_json(_host_with(utf16, '{"debug": true}'.encode("utf-16")))
    assert state.data == {"debug": True}


def test_read_follows_symlinks_inside_the_root_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/docker").mkdir(parents=True)
    (root / "srv").mkdir()
    (root / "srv/real.json").write_text('{"debug": true}')
    (root / "etc/docker/daemon.json").symlink_to("/srv/real.json")  # absolute, as admins do
    assert read_daemon_json(Host(root)).data == {"debug": True}

    # /etc/hostname exists on this machine but not under the root: it must not be read
    (root / "etc/docker/daemon.json").unlink()
    (root / "etc/docker/daemon.json").symlink_to("/etc/hostname")
    state = read_daemon_json(Host(root))
    assert not state.exists and state.text is None

    (root / "etc/docker/daemon.json").unlink()
    (root / "etc/docker/daemon.json").symlink_to("/etc/docker/daemon.json")
    state = read_daemon_json(Host(root))
    assert state.exists and not state.readable


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


def _normal(value: Any) -> Any:
    """Lone surrogates become U+FFFD in Go (and in our parser)."""
    if isinstance(value, str):
        return "".join("\ufffd" if 0xD800 <= ord(c) < 0xE000 else c for c in value)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {_normal(k): _normal(v) for k, v in value.items()}
    return value


@given(json_objects)
def test_render_then_parse_round_trips(data: dict[str, Any]) -> None:
    data = _normal(data)
    text = render(data)
    assert parse_strict(text) == data
    assert render(parse_strict(text)) == text


@given(json_objects)
def test_agrees_with_pythons_json_on_compact_and_ascii_text(data: dict[str, Any]) -> None:
    for text in (json.dumps(data), json.dumps(data, separators=(",", ":"), ensure_ascii=True)):
        assert parse_strict(text) == _normal(json.loads(text))


JSONISH = st.text(alphabet='{}[]",:/*#\n\t \\tfnrue0123456789.-+eEaN\'xу', max_size=60)


def _strict_python(text: str) -> Any:
    def no_constant(name: str) -> Any:
        raise ValueError(name)

    def finite(s: str) -> float:
        v = float(s)
        if math.isinf(v):
            raise ValueError(s)
        return v

    return json.loads(text, parse_constant=no_constant, parse_float=finite)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSONISH, st.text(max_size=80)))
def test_random_text_only_raises_our_error_and_matches_python(text: str) -> None:
    try:
        ours: Any = parse_strict(text)
    except DaemonJsonError as exc:
        assert exc.line >= 1 and exc.col >= 1
        ours = exc
    try:
        theirs = _strict_python(text)
    except (ValueError, RecursionError):
        theirs = None
    if isinstance(ours, dict) and text.lstrip("\ufeff").strip(" \t\n\r") not in ("", "null"):
        assert ours == _normal(theirs)
    if isinstance(theirs, dict) and not text.startswith("\ufeff"):
        assert ours == _normal(theirs)
    analysis = analyze(text)  # never raises
    assert (analysis.data is None) == (analysis.error is not None)
    try:
        repaired = repair(text)
    except DaemonJsonError:
        assert not analysis.repairable or analysis.data is not None
    else:
        assert isinstance(parse_strict(repaired), dict)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=60) | st.text(max_size=60).map(str.encode))
def test_reading_random_bytes_never_raises(tmp_path: Path, raw: bytes) -> None:
    f = tmp_path / "etc/docker/daemon.json"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(raw)
    state = read_daemon_json(Host(tmp_path))
    assert state.exists and state.readable and state.text is not None
    assert (state.data is None) == (state.error is not None)


@st.composite
def noisy_json(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool, bool]:
    """Valid data written with comments and trailing commas sprinkled in, as tutorials do."""
    data = _normal(draw(json_objects))
    flags = {"comment": False, "comma": False}
    comment_text = st.text(
        alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)),
        max_size=10,
    )

    def noise() -> str:
        kind = draw(st.sampled_from(["", "", " ", "line", "block", "hash"]))
        if kind in ("", " "):
            return kind
        flags["comment"] = True
        body = draw(comment_text)
        if kind == "line":
            return f" //{body}\n"
        if kind == "hash":
            return f" #{body}\n"
        return " /*" + body.replace("*/", "") + "*/ "

    def write(value: Any) -> str:
        if isinstance(value, dict) and value:
            items = [f"{noise()}{json.dumps(k)}{noise()}:{noise()}{write(v)}{noise()}"
                     for k, v in value.items()]
            return "{" + _join(items) + "}"
        if isinstance(value, list) and value:
            return "[" + _join([f"{noise()}{write(v)}{noise()}" for v in value]) + "]"
        return json.dumps(value, ensure_ascii=draw(st.booleans()))

    def _join(items: list[str]) -> str:
        trailing = draw(st.booleans())
        flags["comma"] = flags["comma"] or trailing
        return ",".join(items) + ("," + noise() if trailing else "")

    text = noise() + write(data) + noise()
    return text, data, flags["comment"], flags["comma"]


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(noisy_json())
def test_repair_recovers_the_data_from_comments_and_trailing_commas(
    case: tuple[str, dict[str, Any], bool, bool],
) -> None:
    text, data, had_comment, had_comma = case
    assert parse_strict(repair(text)) == data
    analysis = analyze(text)
    assert analysis.has_comments == had_comment
    assert analysis.has_trailing_commas == had_comma
    if had_comment or had_comma:
        assert analysis.error is not None and analysis.repairable
        assert analysis.repaired_data == data
    else:
        assert analysis.data == data



# --------------------------------------------------------------------------------------------
# numbers dockerd cannot hold (checked with dockerd 28.5.2 --validate)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ('{"mtu": 1' + "0" * 4999 + "}", 1, 9),  # beyond Python's int() digit limit too
        ('{\n  "x-unknown": -1' + "0" * 400 + "\n}", 2, 16),  # any key: Go decodes to float64
        ('{"a": [1, 2, 3' + "9" * 309 + "]}", 1, 14),
        ('{"a": 1' + "0" * 400 + ".5}", 1, 7),
    ],
)
def test_a_number_beyond_float64_is_an_error_with_position(text: str, line: int, col: int) -> None:
    """dockerd: "cannot unmarshal number 1000... into Go struct field .mtu of type float64"."""
    with pytest.raises(DaemonJsonError) as caught:
        parse_strict(text)
    err = caught.value
    assert (err.line, err.col) == (line, col)
    assert "too large" in err.reason and len(err.reason) < 200  # not 5000 digits echoed
    analysis = analyze(text)  # never raises
    assert analysis.error is not None and (analysis.error.line, analysis.error.col) == (line, col)


def test_the_largest_float64_integer_still_parses() -> None:
    biggest = int(1.7976931348623157e308)
    assert parse_strict(f'{{"x": {biggest}}}') == {"x": biggest}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (2**63 - 1, False),
        (-(2**63), False),
        (2**63, True),  # dockerd: "cannot unmarshal number 9223372036854775808 into ... int"
        (10**20, True),
        (-(2**63) - 1, True),
    ],
)
def test_int_options_must_fit_go_int(value: int, problem: bool) -> None:
    found = type_problems({"mtu": value})
    assert bool(found) is problem
    if problem:
        assert found[0].startswith("mtu: ") and "64-bit" in found[0]
    analysis = analyze(f'{{"mtu": {value}}}')
    assert bool(analysis.type_problems) is problem


def test_reading_a_5000_digit_file_reports_it(tmp_path: Path) -> None:
    f = tmp_path / "etc/docker/daemon.json"
    f.parent.mkdir(parents=True)
    f.write_text('{\n  "mtu": 1' + "0" * 4999 + "\n}\n")
    state = read_daemon_json(Host(tmp_path))
    assert state.error is not None and (state.error.line, state.error.col) == (2, 10)
    assert "too large" in state.error.message
