"""daemon.json edited in place (issue 14 §4b) is a file the real dockerd starts with.

One stock lab; each case writes a daemon.json in an admin's layout (labels on one line, tabs,
CRLF, a one-line object), edits it in place to new settings, writes the result into the lab and
restarts its dockerd: it must start, and ``docker info`` must show the edited values, read by
the daemon itself. The stock config is put back afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dockwiz.daemon_json import edit_in_place
from dockwiz.lab.lab import Lab, lab_down, lab_up

pytestmark = pytest.mark.e2e

CASES = [
    '{\n  "labels": ["a=1", "b=2", "c=3"],\n  "log-level": "warn",\n  "debug": true\n}\n',
    '{\r\n\t"debug": true,\r\n\t"log-opts": { "max-size": "10m" },\r\n\t"labels": ["x=y"]\r\n}\r\n',
    '{"debug": true, "labels": ["a=1"]}\n',
    '{\n    "log-opts": {\n        "max-size": "10m",\n        "max-file": "3"\n    },\n'
    '    "debug": false\n}\n',
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("json-edit-lab") / "lab"
    lab = lab_up(directory, "fd-socket")
    try:
        assert lab.info.state == "running", lab.info.error
        original = lab.host().path("/etc/docker/daemon.json").read_bytes()
        yield lab
        lab.host().path("/etc/docker/daemon.json").write_bytes(original)
    finally:
        lab_down(directory)


def _info(lab: Lab) -> dict[str, Any]:
    host = lab.host()
    out = host.run(["docker", "-H", f"unix://{lab.unix_socket_path()}", "info", "--format",
                    "{{json .}}"], timeout=30)
    assert out.ok, out.stderr
    data: dict[str, Any] = json.loads(out.stdout)
    return data


@pytest.mark.parametrize("before", CASES)
def test_dockerd_starts_with_the_edited_file(lab: Lab, before: str) -> None:
    intended = json.loads(before)
    intended.pop("debug", None)  # a removed key
    intended["labels"] = ["edited=yes", *intended.get("labels", [])]  # a changed (or new) value
    intended["live-restore"] = True  # a new key
    after = edit_in_place(before, intended)
    assert json.loads(after) == intended
    # untouched lines stay (the one before a removed last key may only lose its comma)
    untouched = [ln.rstrip(",") for ln in before.splitlines() if "log-" in ln and "{" not in ln]
    assert all(ln in [a.rstrip(",") for a in after.splitlines()] for ln in untouched), after
    host = lab.host()
    host.path("/etc/docker/daemon.json").write_text(after, newline="")
    assert host.services is not None
    result = host.services.restart()
    assert result.ok, result.stderr
    info = _info(lab)
    assert sorted(info["Labels"]) == sorted(intended["labels"])  # dockerd sorts them
    assert info["LiveRestoreEnabled"] is True
    assert info["Debug"] is False
