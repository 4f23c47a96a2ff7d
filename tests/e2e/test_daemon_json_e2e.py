"""Our verdict on daemon.json must be dockerd's verdict: ask the real daemon, through a lab.

One lab (its own network and mount namespaces) is started in the stock state; each case writes
a config the daemon must refuse into the lab's root and restarts the lab's dockerd, which exits
while loading its config with its own one-line reason. The stock config is put back between
cases so each starts from a daemon that runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwiz.daemon_json import (
    DaemonJsonError,
    parse_strict,
    type_problems,
    unknown_keys,
    unknown_keys_message,
)
from dockwiz.lab.lab import Lab, lab_down, lab_up
from dockwiz.systemd import conflict_message, parse_dockerd_args, read_docker_unit

pytestmark = pytest.mark.e2e

PREFIX = "unable to configure the Docker daemon with file /etc/docker/daemon.json: "
DROPIN = "/etc/systemd/system/docker.service.d/zz-test.conf"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("json-lab") / "lab"
    lab = lab_up(directory, "fd-socket")
    try:
        assert lab.info.state == "running", lab.info.error
        yield lab
    finally:
        lab_down(directory)


@pytest.fixture
def stock(lab: Lab) -> Iterator[Lab]:
    """The case's lab, put back to its stock config (and a running daemon) afterwards."""
    host = lab.host()
    config = host.path("/etc/docker/daemon.json")
    original = config.read_bytes()
    yield lab
    config.write_bytes(original)
    host.path(DROPIN).unlink(missing_ok=True)
    assert host.services is not None
    assert host.services.restart().ok


def refusal(lab: Lab, text: bytes, exec_start: str | None = None) -> str:
    """Write the config (and optionally a drop-in ExecStart), restart, return dockerd's reason."""
    host = lab.host()
    host.path("/etc/docker/daemon.json").write_bytes(text)
    if exec_start is not None:
        dropin = host.path(DROPIN)
        dropin.parent.mkdir(parents=True, exist_ok=True)
        dropin.write_text(f"[Service]\nExecStart=\nExecStart={exec_start}\n")
    assert host.services is not None
    result = host.services.restart()
    assert not result.ok, "dockerd accepted a config we expected it to refuse"
    lines = [ln for ln in result.stderr.splitlines() if PREFIX in ln]
    assert lines, result.stderr
    return lines[-1].split(PREFIX, 1)[1].strip().strip('"')


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
def test_syntax_errors_are_refused_by_both(stock: Lab, text: bytes) -> None:
    reason = refusal(stock, text)
    with pytest.raises(DaemonJsonError):
        parse_strict(text.decode())
    assert reason  # dockerd gave a reason too (its own wording differs from ours)


def test_unknown_keys_message_is_dockerds(stock: Lab) -> None:
    data = {"tlsverfy": True}
    reason = refusal(stock, json.dumps(data).encode())
    assert reason == unknown_keys_message(unknown_keys(data))


@pytest.mark.parametrize(
    "text", [b'{"live-restore": "true"}', b'{"log-opts": {"max-file": 3}}', b'{"hosts": "x"}']
)
def test_type_problems_are_refused_by_both(stock: Lab, text: bytes) -> None:
    # no -H on the command line: with the stock -H fd://, {"hosts": "x"} is refused as a
    # flag/file conflict first (dockerd checks conflicts before it decodes the types)
    reason = refusal(stock, text, exec_start="/usr/sbin/dockerd")
    assert reason.startswith("json: cannot unmarshal")
    assert type_problems(parse_strict(text.decode()))


def test_a_conflict_is_reported_before_a_wrong_type(stock: Lab) -> None:
    """On the stock unit (-H fd://) dockerd names the conflict, not the type of 'hosts'."""
    reason = refusal(stock, b'{"hosts": "x"}')
    assert reason.startswith("the following directives are specified both as a flag and in the "
                             "configuration file: hosts: (from flag: [fd://]"), reason


def test_conflict_message_is_word_for_word_dockerds(stock: Lab) -> None:
    text = b'{"hosts": ["tcp://127.0.0.1:2399"], "debug": true}'
    reason = refusal(stock, text, exec_start="/usr/sbin/dockerd -D -H fd://")
    argv = read_docker_unit(stock.host()).exec_start
    assert argv is not None
    ours = conflict_message(parse_dockerd_args(argv), parse_strict(text.decode()))
    assert reason == ours


def test_the_lab_daemon_runs_again_on_the_stock_config(lab: Lab) -> None:
    """The cases above leave nothing behind: the module's lab still serves its socket."""
    host = lab.host()
    assert host.services is not None and host.services.is_active()
    assert Path(lab.unix_socket_path()).exists()
