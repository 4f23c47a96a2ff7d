"""daemon.json edited in place (issue 14 §4b): the plan's diff shows only what the mode changes.

Every test asserts the edited text parses to exactly the intended data (strictly, as dockerd
reads it) and that the lines of members the edit does not touch are still there, byte for byte.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dockwiz.daemon_json import edit_in_place, parse_strict, render
from dockwiz.diffs import unified

ISSUE = '{\n  "labels": ["a", "b", "c"],\n  "log-driver": "json-file",\n  "debug": true\n}\n'
MTLS_KEYS = {
    "hosts": ["unix:///var/run/docker.sock", "tcp://10.77.0.5:2376"],
    "tlsverify": True,
    "tlscacert": "/etc/docker/tls/ca.pem",
    "tlscert": "/etc/docker/tls/server-cert.pem",
    "tlskey": "/etc/docker/tls/server-key.pem",
}


def _check(before: str, intended: dict[str, Any]) -> str:
    after = edit_in_place(before, intended)
    assert json.loads(after) == intended
    assert parse_strict(after, allow_empty=False) == intended
    return after


def test_issue_layout_only_new_lines_in_the_diff() -> None:
    intended = {**json.loads(ISSUE), **MTLS_KEYS}
    after = _check(ISSUE, intended)
    diff = unified("/etc/docker/daemon.json", ISSUE, after)
    changed = [ln for ln in diff.splitlines()[2:] if ln[:1] in "+-" and not ln.startswith("@@")]
    assert all(ln.startswith("+") for ln in changed), diff  # nothing removed or re-rendered
    assert '  "labels": ["a", "b", "c"],\n' in after
    assert after.endswith('  "debug": true\n}\n')


def test_changed_value_stays_on_its_line() -> None:
    before = (
        '{\n  "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"],\n'
        '  "debug": true\n}\n'
    )
    after = _check(before, {"hosts": ["unix:///var/run/docker.sock"], "debug": True})
    assert after == '{\n  "hosts": ["unix:///var/run/docker.sock"],\n  "debug": true\n}\n'


def test_removed_key_takes_only_its_lines() -> None:
    before = (
        '{\n  "tls": true,\n  "tlscert": "/x",\n  "log-opts": {\n    "max-size": "10m"\n  },\n'
        '  "debug": true\n}\n'
    )
    after = _check(before, {"tls": True, "debug": True})
    assert after == '{\n  "tls": true,\n  "debug": true\n}\n'


def test_removing_the_last_key_drops_the_comma_before_it() -> None:
    after = _check(ISSUE, {"labels": ["a", "b", "c"], "log-driver": "json-file"})
    assert after == '{\n  "labels": ["a", "b", "c"],\n  "log-driver": "json-file"\n}\n'


def test_crlf_and_tabs_are_kept() -> None:
    before = '{\r\n\t"debug": true,\r\n\t"labels": ["x"]\r\n}\r\n'
    after = _check(before, {"debug": True, "labels": ["x"], "hosts": ["unix:///a", "tcp://b:1"]})
    assert after.startswith('{\r\n\t"hosts": [\r\n\t\t"unix:///a",\r\n\t\t"tcp://b:1"\r\n\t],\r\n')
    assert after.endswith('\t"debug": true,\r\n\t"labels": ["x"]\r\n}\r\n')


def test_one_line_object_and_empty_object() -> None:
    inline = _check('{"debug": true}\n', {"debug": True, "tls": True})
    assert inline == '{"debug": true, "tls": true}\n'
    assert _check("{}\n", {"tls": True}) == render({"tls": True})
    assert _check('{"debug": true}\n', {}) == "{}\n"


def test_duplicate_keys_fall_back_to_render() -> None:
    before = '{\n  "debug": true,\n  "debug": false\n}\n'
    assert _check(before, {"debug": False, "tls": True}) == render({"debug": False, "tls": True})


# -- property: random layouts ---------------------------------------------------------------
KEYS = ["debug", "labels", "hosts", "log-driver", "log-opts", "tls", "tlsverify", "tlscert",
        "icc", "live-restore", "max-concurrent-downloads", "dns", "registry-mirrors", "tlskey"]
scalars = st.one_of(st.booleans(), st.integers(-5, 100), st.text("abc/:.-", max_size=6))
values = st.one_of(
    scalars,
    st.lists(st.text("abcxyz:/", max_size=5), max_size=3),
    st.dictionaries(st.text("abmz-", min_size=1, max_size=4), st.text("0123m", max_size=3),
                    max_size=3),
)


@st.composite
def layouts(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[list[str]]]:
    """A daemon.json the way people write them: per member one line or several, any indent."""
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=7, unique=True))
    data = {k: draw(values) for k in keys}
    unit = draw(st.sampled_from(["  ", "    ", "\t"]))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    blocks: list[list[str]] = []
    for i, (k, v) in enumerate(data.items()):
        comma = "," if i + 1 < len(data) else ""
        if isinstance(v, (list, dict)) and v and draw(st.booleans()):
            body = json.dumps(v, indent=2).replace("\n", "\n" + unit).replace("  ", unit)
            lines = f"{unit}{json.dumps(k)}: {body}{comma}".split("\n")
        else:
            lines = [f"{unit}{json.dumps(k)}: {json.dumps(v)}{comma}"]
        blocks.append(lines)
    text = "{" + nl + nl.join(line for b in blocks for line in b) + nl + "}" + nl
    return text, data, blocks


@settings(max_examples=150, deadline=None)
@given(layouts(), st.data())
def test_edit_keeps_untouched_lines(
    layout: tuple[str, dict[str, Any], list[list[str]]], pick: st.DataObject
) -> None:
    text, data, blocks = layout
    intended: dict[str, Any] = {}
    for k, v in data.items():
        fate = pick.draw(st.sampled_from(["keep", "keep", "change", "drop"]))
        if fate == "keep":
            intended[k] = v
        elif fate == "change":
            intended[k] = pick.draw(values)
    for k in pick.draw(st.lists(st.sampled_from(KEYS), max_size=3, unique=True)):
        intended.setdefault(k, pick.draw(values))
    after = _check(text, intended)
    if len(intended) < 1 or not any(k in intended for k in data):
        return  # nothing of the old object is left to keep
    nl = "\r\n" if "\r\n" in text else "\n"
    lines_after = after.split(nl)
    lost_comma = 0
    for (k, v), block in zip(data.items(), blocks, strict=True):
        if k not in intended or json.dumps(intended[k]) != json.dumps(v):
            continue
        for line in block:
            if line in lines_after:
                continue
            # the member before a removed last member loses its comma, nothing else
            assert line.endswith(",") and line[:-1] in lines_after, (line, after)
            lost_comma += 1
    assert lost_comma <= 1
