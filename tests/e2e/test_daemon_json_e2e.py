"""Our verdict on daemon.json must be dockerd's verdict: ask the real binary.

Only configurations that dockerd rejects while loading its config are used, so no daemon is
ever started: dockerd exits before it opens a socket, mounts or touches iptables. Should one
unexpectedly pass, the run is killed at the timeout (by PID, via subprocess) and the test fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dockwiz.daemon_json import (
    DaemonJsonError,
    parse_strict,
    type_problems,
    unknown_keys,
    unknown_keys_message,
)
from dockwiz.systemd import conflict_message, parse_dockerd_args

pytestmark = pytest.mark.e2e

DOCKERD = shutil.which("dockerd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
needs_dockerd = pytest.mark.skipif(
    DOCKERD is None or os.geteuid() != 0, reason="needs dockerd and root"
)
PREFIX = "unable to configure the Docker daemon with file "


def _dockerd_refusal(tmp_path: Path, text: bytes, extra: list[str]) -> str:
    """Run dockerd on the config; return its one-line reason (it must refuse)."""
    assert DOCKERD is not None
    config = tmp_path / "daemon.json"
    config.write_bytes(text)
    argv = [
        DOCKERD, "--config-file", str(config), "--data-root", str(tmp_path / "root"),
        "--exec-root", str(tmp_path / "exec"), "--pidfile", str(tmp_path / "pid"),
        "--iptables=false", "--bridge=none", *extra,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
    assert proc.returncode != 0, "dockerd accepted a config we expected it to refuse"
    line = [ln for ln in proc.stderr.splitlines() if PREFIX in ln][-1]
    return line.split(f"{PREFIX}{config}: ", 1)[1]


@needs_dockerd
@pytest.mark.parametrize(
    "text",
    [
        b'{\n  "debug": true, // a comment\n}\n',
        b'{\n  "debug": true,\n}\n',
        b'{"debug": true "tls": true}',
        b"[]",
        b'{"a": NaN}',
    ],
)
def test_syntax_errors_are_refused_by_both(tmp_path: Path, text: bytes) -> None:
    sock = f"unix://{tmp_path}/d.sock"
    reason = _dockerd_refusal(tmp_path, text, ["-H", sock])
    with pytest.raises(DaemonJsonError):
        parse_strict(text.decode())
    assert reason  # dockerd gave a reason too (its own wording differs from ours)


@needs_dockerd
def test_unknown_keys_message_is_dockerds(tmp_path: Path) -> None:
    data = {"tlsverfy": True}
    reason = _dockerd_refusal(tmp_path, b'{"tlsverfy": true}', ["-H", f"unix://{tmp_path}/s"])
    assert reason == unknown_keys_message(unknown_keys(data))


@needs_dockerd
@pytest.mark.parametrize(
    "text", [b'{"live-restore": "true"}', b'{"log-opts": {"max-file": 3}}', b'{"hosts": "x"}']
)
def test_type_problems_are_refused_by_both(tmp_path: Path, text: bytes) -> None:
    reason = _dockerd_refusal(tmp_path, text, [])
    assert reason.startswith("json: cannot unmarshal")
    assert type_problems(parse_strict(text.decode()))


@needs_dockerd
def test_conflict_message_is_word_for_word_dockerds(tmp_path: Path) -> None:
    text = b'{"hosts": ["tcp://127.0.0.1:2399"], "debug": true}'
    argv = ["/usr/sbin/dockerd", "-D", "-H", f"unix://{tmp_path}/d.sock"]
    reason = _dockerd_refusal(tmp_path, text, argv[1:])
    ours = conflict_message(parse_dockerd_args(argv), parse_strict(text.decode()))
    assert reason == ours
