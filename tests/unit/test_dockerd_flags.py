"""The one dockerd command-line parser: pflag's exact rules, and a round-trip property."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dockwiz.dockerd_flags import (
    DOCKERD_FLAGS,
    FLAGS_BY_NAME,
    FLAGS_BY_SHORT,
    parse_args,
    parse_dockerd_args,
    rebuild,
)


def opts(args: list[str]) -> list[tuple[str, object]]:
    parsed = parse_args(args)
    return [(a.name, a.bool_value if a.kind == "bool" else a.value) for a in parsed.flags]


def test_combined_short_flags_are_split_as_pflag_does() -> None:
    """Issue 12 §1: '-DH tcp://0.0.0.0:2375' is '-D -H tcp://0.0.0.0:2375', not '--debug=H'."""
    assert opts(["-DH", "tcp://0.0.0.0:2375"]) == [("debug", True), ("host", "tcp://0.0.0.0:2375")]
    assert opts(["-DHtcp://x:1"]) == [("debug", True), ("host", "tcp://x:1")]
    assert opts(["-DH=tcp://x:1"]) == [("debug", True), ("host", "tcp://x:1")]
    assert opts(["-Dl", "warn"]) == [("debug", True), ("log-level", "warn")]
    assert opts(["-DD"]) == [("debug", True), ("debug", True)]
    flags = parse_args(["-DH", "tcp://0.0.0.0:2375"])
    assert flags.hosts == ["tcp://0.0.0.0:2375"] and flags.options["debug"] is True


def test_value_forms() -> None:
    assert opts(["-H", "a", "-Hb", "-H=c", "--host", "d", "--host=e", "-H="]) == [
        ("host", v) for v in ["a", "b", "c", "d", "e", "="]]  # '-H=' is the value '=' in pflag
    # a value flag takes the next token whatever it looks like
    assert opts(["-H", "-D"]) == [("host", "-D")]
    assert opts(["--tlscacert", "--tlsverify"]) == [("tlscacert", "--tlsverify")]
    assert opts(["--host="]) == [("host", "")]


def test_bool_flags_take_a_value_only_after_equals() -> None:
    assert opts(["--tlsverify=false", "--tls=0", "-D=false", "--icc=F"]) == [
        ("tlsverify", False), ("tls", False), ("debug", False), ("icc", False)]
    flags = parse_args(["--tlsverify", "false"])
    assert flags.options == {"tlsverify": True} and flags.positional == ["false"]
    bad = parse_args(["--tls=yes"])
    assert bad.errors == ["invalid boolean 'yes' for --tls"] and "tls" not in bad.options


def test_repeated_flags_accumulate_and_last_value_wins() -> None:
    flags = parse_args(["-H", "fd://", "--log-level=info", "-H", "tcp://1.2.3.4:2376",
                        "--log-level", "debug"])
    assert flags.hosts == ["fd://", "tcp://1.2.3.4:2376"]
    assert flags.options["log-level"] == "debug"


def test_double_dash_ends_the_flags() -> None:
    flags = parse_args(["-D", "--", "-H", "tcp://0.0.0.0:2375"])
    assert flags.hosts == [] and flags.positional == ["-H", "tcp://0.0.0.0:2375"]
    assert parse_args(["-"]).positional == ["-"]


def test_unknown_and_malformed_flags_are_reported() -> None:
    flags = parse_args(["--nope", "-X", "-DX", "---x", "--=y", "-H"])
    assert flags.unknown == ["--nope", "-X", "-X", "---x", "--=y"]
    assert flags.errors == ["flag needs an argument: 'H' in -H"]
    assert flags.options == {"debug": True}


def test_values_reads_pidfile_in_every_spelling() -> None:
    argv = ["/usr/bin/dockerd", "-p", "/a.pid", "--pidfile=/b.pid", "-Dp/c.pid"]
    assert parse_dockerd_args(argv).values("pidfile") == ["/a.pid", "/b.pid", "/c.pid"]


def test_rebuild_keeps_tokens_and_respells_a_split_group() -> None:
    flags = parse_args(["-DH", "tcp://0.0.0.0:2375", "--containerd=/c.sock", "$X", "-H", "fd://"])
    keep = [a for a in flags.args if a.value != "tcp://0.0.0.0:2375"]
    assert rebuild(flags.args, keep) == ["--debug", "--containerd=/c.sock", "$X", "-H", "fd://"]
    assert rebuild(flags.args, flags.args, {0: [["-H", "unix:///x"]]}) == [
        "-DH", "tcp://0.0.0.0:2375", "-H", "unix:///x", "--containerd=/c.sock", "$X", "-H",
        "fd://"]


def test_table_shorthands() -> None:
    assert {f: FLAGS_BY_SHORT[f].name for f in "DHlGbpsgrv"} == {
        "D": "debug", "H": "host", "l": "log-level", "G": "group", "b": "bridge",
        "p": "pidfile", "s": "storage-driver", "g": "graph", "r": "restart", "v": "version"}


# -- property: any pflag spelling of any flag set parses back to the same options -------------
VALUES = st.text(alphabet="abcz019:/.=-_[]", min_size=0, max_size=10)
FLAGS = st.sampled_from(DOCKERD_FLAGS)


@st.composite
def spelled_options(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, object]]]:
    """Render random options in random pflag spellings, combining short flags at random."""
    tokens: list[str] = []
    expected: list[tuple[str, object]] = []
    pending_shorts = ""  # bool shorthands waiting to be combined with the next short flag
    for flag in draw(st.lists(FLAGS, max_size=8)):
        short = flag.short
        if flag.kind == "bool":
            value = draw(st.sampled_from([None, "true", "false", "1", "0", "T", "F"]))
            expected.append((flag.name, value is None or value in ("true", "1", "T")))
            if short and value is None and draw(st.booleans()):
                pending_shorts += short
                continue
            form = draw(st.sampled_from(["long", "short"] if short else ["long"]))
            if form == "short":
                tok = f"-{pending_shorts}{short}" + (f"={value}" if value is not None else "")
                pending_shorts = ""
                tokens.append(tok)
            else:
                tokens.append(f"--{flag.name}" + (f"={value}" if value is not None else ""))
            continue
        value = draw(VALUES)
        expected.append((flag.name, value))
        forms = ["--name=v", "--name v"] + (["-Xv", "-X=v", "-X v"] if short else [])
        form = draw(st.sampled_from(forms))
        if form == "--name=v":
            tokens.append(f"--{flag.name}={value}")
        elif form == "--name v":
            tokens += [f"--{flag.name}", value]
        elif form == "-Xv" and value and not value.startswith("="):
            tokens.append(f"-{pending_shorts}{short}{value}")
            pending_shorts = ""
        elif form == "-X=v" and value:
            tokens.append(f"-{pending_shorts}{short}={value}")
            pending_shorts = ""
        else:
            tokens += [f"-{pending_shorts}{short}", value]
            pending_shorts = ""
    if pending_shorts:
        tokens.append(f"-{pending_shorts}")
    return tokens, expected


@given(spelled_options())
def test_property_any_pflag_spelling_parses_back(case: tuple[list[str], list[tuple[str, object]]],
                                                 ) -> None:
    tokens, expected = case
    parsed = parse_args(tokens)
    assert parsed.errors == [] and parsed.unknown == [] and parsed.positional == [], tokens
    got = [(a.name, a.bool_value if a.kind == "bool" else a.value) for a in parsed.flags]
    assert sorted(got, key=repr) == sorted(expected, key=repr), tokens
    assert rebuild(parsed.args, parsed.args) == tokens
    respelled = rebuild(parsed.args, [a for a in parsed.args if a.name != "host"])
    again = parse_args(respelled)
    assert [(a.name, a.bool_value if a.kind == "bool" else a.value) for a in again.flags] == [
        g for g in got if g[0] != "host"]


def test_every_flag_name_is_unique() -> None:
    assert len(FLAGS_BY_NAME) == len(DOCKERD_FLAGS)
