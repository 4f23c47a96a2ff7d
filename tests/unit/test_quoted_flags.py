"""Quoted flag values: what reaches dockerd through systemd, and what inspect says about it.

Measured (issue 13): dockerd 20.10.24 strips one pair of quotes around --tlscacert/--tlscert/
--tlskey; 26.1.5 and 28.5.2 open ``"/path"`` literally and do not start. systemd removes quotes
inside ExecStart words and when it splits ``$VAR``, but ``${VAR}`` is substituted verbatim
(tests/e2e/test_quoted_flags_e2e.py asks a real systemd).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwiz import systemd
from dockwiz.findings import evaluate, quoted_flag_values
from dockwiz.models.host_state import (
    DaemonJsonState,
    DaemonProcess,
    DockerVersion,
    HostState,
    UnitState,
)
from dockwiz.models.intent import Intent, Mode
from plan_helpers import make_root, observe, pin_version, plan_for

DOCKERD = "/usr/bin/dockerd"


def state_with(argv: list[str], version: str | None, *, running: bool = True) -> HostState:
    return HostState(
        root="/sandbox", is_root=True, docker_installed=True, daemon_running=running,
        version=DockerVersion(binary=version),
        daemon_json=DaemonJsonState(path="/etc/docker/daemon.json", exists=False),
        process=DaemonProcess(pid=4242, argv=argv) if running else None,
        unit=UnitState(path="/lib/systemd/system/docker.service", exists=True,
                       exec_start=argv, exec_start_source="/etc/systemd/system/x.conf"),
    )


def quoted(state: HostState) -> list[tuple[str, str]]:
    return [(f.severity, f.title) for f in evaluate(state) if f.id == "DW-FLAG-QUOTED"]


@pytest.mark.parametrize(("value", "words"), [
    ('--tlsverify --tlscacert="/etc/docker/ca.pem"',
     ["--tlsverify", "--tlscacert=/etc/docker/ca.pem"]),
    ("'--label=c d' --label=e\\ f", ["--label=c d", "--label=e f"]),
    ("  -H   fd://  ", ["-H", "fd://"]),
    ('--x="unbalanced', ["--x=unbalanced"]),
    ("", []),
])
def test_var_values_split_as_systemd_does(value: str, words: list[str]) -> None:
    assert systemd.split_var_value(value) == words


def test_quoted_values_are_found_by_the_one_parser() -> None:
    argv = [DOCKERD, '--tlscert="/etc/docker/cert.pem"', "--tlskey", "'/k.pem'",
            "-H", "fd://", "--tlsverify", '--data-root="/srv/docker"', '--label="a\'',
            '-DH"tcp://x"']
    found = {(a.name, a.value) for a in quoted_flag_values(argv)}
    assert found == {("tlscert", '"/etc/docker/cert.pem"'), ("tlskey", "'/k.pem'"),
                     ("data-root", '"/srv/docker"'), ("host", '"tcp://x"')}


def test_quoted_tls_path_on_20_10_is_low_and_says_the_upgrade_breaks_it() -> None:
    state = state_with([DOCKERD, '--tlscacert="/etc/docker/ca.pem"'], "20.10.24+dfsg1")
    (finding,) = [f for f in evaluate(state) if f.id == "DW-FLAG-QUOTED"]
    assert finding.severity == "low"
    assert "--tlscacert" in finding.title and "26.1.5 and 28.5.2" in finding.why
    assert finding.fix.startswith("Write it without quotes: --tlscacert=/etc/docker/ca.pem")
    assert finding.evidence == ('the running dockerd\'s command line: '
                                '--tlscacert="/etc/docker/ca.pem"')  # once, not per source


@pytest.mark.parametrize("version", ["28.5.2+dfsg4", "26.1.5+dfsg1", None])
def test_quoted_tls_path_on_26_and_later_is_high(version: str | None) -> None:
    state = state_with([DOCKERD, "--tlscert='/etc/docker/cert.pem'"], version, running=False)
    (finding,) = [f for f in evaluate(state) if f.id == "DW-FLAG-QUOTED"]
    assert finding.severity == "high" and "does not start" in finding.why
    assert finding.evidence is not None and "/etc/systemd/system/x.conf" in finding.evidence


def test_other_quoted_values_are_literal_everywhere_and_unquoted_ones_are_fine() -> None:
    state = state_with([DOCKERD, '--data-root="/srv/docker"'], "20.10.24+dfsg1")
    assert quoted(state) == [("low", '--data-root has a quoted value: "/srv/docker"')]
    clean = state_with([DOCKERD, "--tlscert=/etc/docker/cert.pem", "--tlsverify"], "28.5.2")
    assert quoted(clean) == []


OVERRIDE = """[Service]
Environment="EXTRA=--tlskey='/etc/docker/key.pem'"
ExecStart=
ExecStart=/usr/bin/dockerd -H fd:// --tlscert="/etc/docker/cert.pem" ${EXTRA}
"""


def test_inspect_flags_only_the_quotes_that_reach_dockerd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A quoted ExecStart word reaches dockerd unquoted; ${EXTRA} keeps its quotes."""
    pin_version(monkeypatch, "28.5.2+dfsg4")
    root = make_root(tmp_path, "{}\n", {"override.conf": OVERRIDE})
    state = observe(root, Intent(mode=Mode.UNIX))
    assert state.unit.exec_start is not None
    assert "--tlscert=/etc/docker/cert.pem" in state.unit.exec_start
    titles = [f.title for f in state.findings if f.id == "DW-FLAG-QUOTED"]
    assert titles == ["--tlskey has a quoted value: '/etc/docker/key.pem'"]


def test_flags_dockwiz_writes_are_unquoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mTLS plan moves TLS into daemon.json with bare paths; the unit it writes carries no
    quoted value, and inspecting the result finds none."""
    pin_version(monkeypatch, "28.5.2+dfsg4")
    root = make_root(tmp_path, "{}\n", {"override.conf": OVERRIDE})
    plan = plan_for(root, Intent(mode=Mode.MTLS, listen_host="10.77.0.5"))
    assert plan.exec_start_after is not None
    assert quoted_flag_values(plan.exec_start_after) == []
    data = plan.daemon_json_after or {}
    assert all(str(data.get(k, "x"))[0] not in "\"'" for k in ("tlscacert", "tlscert", "tlskey"))
    for change in plan.files:
        if change.after and "ExecStart=/" in change.after:
            line = next(x for x in change.after.splitlines() if x.startswith("ExecStart=/"))
            assert quoted_flag_values(systemd.split_exec(line[len("ExecStart="):])) == []
