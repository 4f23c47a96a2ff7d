"""The planner: goldens per starting state and mode, idempotence, the v27+ safety property."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dockwiz import daemon_json as dj
from dockwiz import diffs, systemd
from dockwiz.diffs import plan_diff
from dockwiz.docker_paths import DROPIN_PATH
from dockwiz.effective import allowed_tcp, derive, forbidden_tcp
from dockwiz.errors import DockwizError
from dockwiz.host import Host
from dockwiz.inspect import merge_tls
from dockwiz.models.host_state import Listener
from dockwiz.models.intent import Hardening, Intent, Mode
from dockwiz.models.plan import Plan
from dockwiz.plan import (
    build_plan,
    load_plan,
    rewrite_exec_start,
    save_plan,
    split_flags,
)
from dockwiz.policy import is_loopback
from plan_helpers import (
    DEBIAN_DOCKER_SOCKET,
    SEED_002_OVERRIDE,
    SEEDS,
    apply_certs,
    apply_files,
    make_root,
    observe,
    pin_version,
    plan_for,
    write,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DOCKWIZ_UPDATE_GOLDEN") == "1"
VERSION = "20.10.24+dfsg1"
LAB_ADDR = "10.77.0.5"
RUNNING = {"stock", "seed004-insecure-tcp", "seed002-override-flags"}


def intent_for(mode: Mode, **extra: Any) -> Intent:
    if mode == Mode.MTLS:
        extra.setdefault("listen_host", LAB_ADDR)
    return Intent(mode=mode, **extra)


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    pin_version(monkeypatch, VERSION)


# -- goldens ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("seed", list(SEEDS))
def test_golden_diff(seed: str, mode: Mode, tmp_path: Path, pinned: None) -> None:
    daemon_json, dropins = SEEDS[seed]
    root = make_root(tmp_path, daemon_json, dropins)
    intent = intent_for(mode)
    state = observe(root, intent)
    if seed in RUNNING:  # as on the real host: these configs start, seed 001/003's do not
        state = state.model_copy(update={"daemon_running": True, "running_containers": 2})
    plan = build_plan(state, intent, sources=derive(Host(root)))
    text = plan_diff(plan)
    golden = GOLDEN / f"{seed}-{mode.value}.diff"
    if UPDATE:  # only on request: a missing golden is a failure, never written silently
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"{golden} is missing: write it with DOCKWIZ_UPDATE_GOLDEN=1, read it"
    assert text == golden.read_text()
    assert "BEGIN" not in text and "PRIVATE KEY" not in text


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("seed", list(SEEDS))
def test_idempotent_from_every_seed(seed: str, mode: Mode, tmp_path: Path, pinned: None) -> None:
    """Apply the plan's files (and certs) to the root, inspect again: nothing left to do."""
    daemon_json, dropins = SEEDS[seed]
    root = make_root(tmp_path, daemon_json, dropins)
    intent = intent_for(mode, hardening=Hardening(live_restore=True, log_rotation=True))
    first = plan_for(root, intent)
    assert not first.is_empty
    apply_files(root, first)
    apply_certs(root, first)
    again = plan_for(root, intent)
    assert again.is_empty, plan_diff(again)
    assert "No changes" in plan_diff(again)


# -- what the plans contain -------------------------------------------------------------------
def test_stock_unix_needs_nothing(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    plan = plan_for(root, Intent(mode=Mode.UNIX))
    assert plan.is_empty
    assert plan.files == [] and plan.actions == []


def test_mtls_on_stock_unit_keeps_socket_activation(tmp_path: Path, pinned: None) -> None:
    """Issue 12 §1b: -H fd:// stays, the TCP host joins it on the drop-in's ExecStart, TLS
    goes to daemon.json and daemon.json carries no hosts (no conflict)."""
    root = make_root(tmp_path, "{}\n", {})
    plan = plan_for(root, intent_for(Mode.MTLS))
    data = json.loads(next(f.after for f in plan.files if f.role == "daemon.json") or "")
    assert "hosts" not in data
    assert data["tlsverify"] is True and "tls" not in data  # tlsverify alone turns TLS on
    assert data["tlscacert"] == "/etc/docker/tls/ca.pem"
    dropin = next(f for f in plan.files if f.role == "dropin")
    assert dropin.path == DROPIN_PATH and dropin.before is None
    line = (f"ExecStart=/usr/sbin/dockerd -H fd:// -H tcp://{LAB_ADDR}:2376 "
            "--containerd=/run/containerd/containerd.sock\n")
    assert f"ExecStart=\n{line}" in (dropin.after or "")
    assert [e.url for e in plan.endpoints_after] == [
        "unix:///var/run/docker.sock", f"tcp://{LAB_ADDR}:2376"]
    assert [a.kind for a in plan.actions] == ["daemon-reload", "restart"]
    assert {c.role: c.action for c in plan.certs} == {"ca": "create", "server": "create",
                                                       "client": "create"}
    server = next(c for c in plan.certs if c.role == "server")
    assert LAB_ADDR in server.ip_addresses and server.key_mode == 0o400
    assert plan.client_bundle == "/etc/dockwiz/clients/dockwiz-client"
    assert any("socket activation" in n for n in plan.notes)


def test_tls_mode_is_tls_without_verification(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    plan = plan_for(root, Intent(mode=Mode.TLS))
    data = plan.daemon_json_after or {}
    assert data["tls"] is True and data["tlsverify"] is False  # exactly (DOMAIN §2)
    assert "tlscacert" not in data
    assert "hosts" not in data
    assert "-H tcp://127.0.0.1:2376" in " ".join(plan.exec_start_after or [])


def test_seed002_override_is_rewritten_in_place(tmp_path: Path, pinned: None) -> None:
    daemon_json, dropins = SEEDS["seed002-override-flags"]
    root = make_root(tmp_path, daemon_json, dropins)
    plan = plan_for(root, Intent(mode=Mode.UNIX))
    (change,) = [f for f in plan.files if f.role == "dropin"]
    assert change.path.endswith("/override.conf")
    assert change.after is not None
    assert "ExecStart=/usr/bin/dockerd -D -H unix:///var/run/docker.sock\n" in change.after
    assert "tcp://" not in change.after and "tls" not in change.after
    assert not any(f.role == "daemon.json" for f in plan.files)


def test_seed001_comments_are_repaired_and_shown(tmp_path: Path, pinned: None) -> None:
    daemon_json, dropins = SEEDS["seed001-commented-json"]
    root = make_root(tmp_path, daemon_json, dropins)
    plan = plan_for(root, Intent(mode=Mode.UNIX))
    (change,) = plan.files
    assert change.after is not None and "//" not in change.after
    data = json.loads(change.after)
    assert list(data)[:2] == ["icc", "userns-remap"]  # order kept
    assert "tlsverify" not in data and data["log-driver"] == "local"
    assert "-  \"icc\": false, // prevent" in plan_diff(plan)
    assert [a.kind for a in plan.actions] == ["restart"]


def test_unrepairable_json_is_an_error_with_line_and_col(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, '{\n  "debug": true\n  "icc": false\n}\n', {})
    with pytest.raises(DockwizError) as exc:
        plan_for(root, Intent(mode=Mode.UNIX))
    assert ":3:" in exc.value.message


@pytest.mark.parametrize(
    ("text", "needle"),
    [("[1, 2]\n", "JSON object"), ('{"tlsverfy": true}\n', "tlsverfy"),
     ('{"debug": "yes"}\n', "debug")],
)
def test_bad_daemon_json_is_a_clear_error(text: str, needle: str, tmp_path: Path,
                                          pinned: None) -> None:
    root = make_root(tmp_path, text, {})
    with pytest.raises(DockwizError) as exc:
        plan_for(root, intent_for(Mode.MTLS))
    assert needle in exc.value.message and exc.value.hint


def test_unit_without_exec_start_is_an_error(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {"broken.conf": "[Service]\nExecStart=\n"})
    with pytest.raises(DockwizError) as exc:
        plan_for(root, Intent(mode=Mode.UNIX))
    assert "ExecStart" in exc.value.message


def test_san_list_must_cover_listen_address(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    with pytest.raises(DockwizError) as exc:
        plan_for(root, Intent(mode=Mode.MTLS, listen_host="10.0.0.5", sans_ip=["10.0.0.6"]))
    assert "--san 10.0.0.5" in (exc.value.hint or "")
    with pytest.raises(DockwizError):
        plan_for(root, Intent(mode=Mode.MTLS, listen_host="0.0.0.0"))
    ok = plan_for(root, Intent(mode=Mode.MTLS, listen_host="0.0.0.0", sans_ip=["10.0.0.5"]))
    assert "tcp://0.0.0.0:2376" in (ok.exec_start_after or [])


def test_port_in_use_by_another_process(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    state = observe(root, Intent(mode=Mode.TLS))
    other = Listener(kind="tcp", address="tcp://0.0.0.0:2376", host="0.0.0.0", port=2376,
                     loopback=False)
    with pytest.raises(DockwizError) as exc:
        build_plan(state, Intent(mode=Mode.TLS), other_listeners=[other])
    assert "2376" in exc.value.message and "--listen" in (exc.value.hint or "")


def test_v27_refuses_tls_on_remote_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pin_version(monkeypatch, "27.3.1")
    root = make_root(tmp_path, "{}\n", {})
    with pytest.raises(DockwizError) as exc:
        plan_for(root, Intent(mode=Mode.TLS, listen_host="10.0.0.5"))
    assert "mtls" in (exc.value.hint or "") and "127.0.0.1" in (exc.value.hint or "")


def test_before_27_tls_on_remote_is_a_loud_warning(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    plan = plan_for(root, Intent(mode=Mode.TLS, listen_host="10.0.0.5"))
    assert any("dockerd 20 still starts" in w and "27 or later" in w for w in plan.warnings)
    assert any(not v.blocking for v in plan.violations)
    assert "== Warnings\n  ! TLS without client verification" in plan_diff(plan)


def test_docker_version_override(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    with pytest.raises(DockwizError):
        plan_for(root, Intent(mode=Mode.TLS, listen_host="10.0.0.5", docker_version="28.0.1"))


def test_live_restore_reload_before_restart(tmp_path: Path, pinned: None) -> None:
    daemon_json, dropins = SEEDS["seed004-insecure-tcp"]
    root = make_root(tmp_path, daemon_json, dropins)
    state = observe(root, intent_for(Mode.MTLS))
    state = state.model_copy(update={"daemon_running": True, "running_containers": 3})
    intent = intent_for(Mode.MTLS, hardening=Hardening(live_restore=True))
    plan = build_plan(state, intent)
    kinds = [a.kind for a in plan.actions]
    assert kinds == ["reload", "restart"]
    stage = plan.actions[0].stage
    assert stage is not None and json.loads(stage.after or "") == {
        **json.loads(daemon_json or ""), "live-restore": True}
    # without running containers the extra reload is pointless
    quiet = build_plan(state.model_copy(update={"running_containers": 0}), intent)
    assert [a.kind for a in quiet.actions] == ["restart"]


def test_reloadable_only_change_is_a_reload(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    state = observe(root, Intent(mode=Mode.UNIX)).model_copy(update={"daemon_running": True})
    plan = build_plan(state, Intent(mode=Mode.UNIX, hardening=Hardening(live_restore=True)))
    assert [a.kind for a in plan.actions] == ["reload"]
    icc = build_plan(state, Intent(mode=Mode.UNIX, hardening=Hardening(icc_off=True)))
    assert [a.kind for a in icc.actions] == ["restart"]


def test_loose_daemon_json_mode_is_tightened(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    os.chmod(root / "etc/docker/daemon.json", 0o666)
    plan = plan_for(root, Intent(mode=Mode.UNIX))
    (change,) = plan.files
    assert change.before == change.after and change.mode == 0o644
    assert "was 0666" in plan_diff(plan)
    assert plan.actions == []


def test_hosts_conflict_on_stock_unit_resolved_without_dropin_for_unix(
    tmp_path: Path, pinned: None
) -> None:
    root = make_root(tmp_path, '{"hosts": ["unix:///var/run/docker.sock"]}\n', {})
    plan = plan_for(root, Intent(mode=Mode.UNIX))
    assert [f.role for f in plan.files] == ["daemon.json"]
    assert plan.daemon_json_after == {}


def test_other_conflicting_flags_are_dropped(tmp_path: Path, pinned: None) -> None:
    unit_text = "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --icc=true -D\n"
    root = make_root(tmp_path, '{"debug": true}\n', {"override.conf": unit_text})
    plan = plan_for(root, Intent(mode=Mode.UNIX, hardening=Hardening(icc_off=True)))
    assert plan.exec_start_after == ["/usr/sbin/dockerd", "-H", "fd://"]
    assert plan.daemon_json_after == {"debug": True, "icc": False}


def test_diff_colour_only_when_asked(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    plan = plan_for(root, intent_for(Mode.MTLS))
    assert "\x1b[" not in plan_diff(plan)
    coloured = plan_diff(plan, color=True)
    assert "\x1b[32m+" in coloured and diffs.strip_color(coloured) == plan_diff(plan)


def test_save_and_load(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path / "root", "{}\n", {})
    plan = plan_for(root, intent_for(Mode.MTLS))
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_plan(path) == plan
    path.write_text("{}")
    with pytest.raises(DockwizError):
        load_plan(path)


def test_rewrite_exec_start_keeps_other_lines() -> None:
    text = "[Service]\nEnvironment=A=1\nExecStart=\nExecStart=/usr/bin/dockerd \\\n  -H tcp://x\n"
    out = rewrite_exec_start(text, ["/usr/bin/dockerd", "-D"])
    assert out == "[Service]\nEnvironment=A=1\nExecStart=\nExecStart=/usr/bin/dockerd -D\n"


def test_split_flags_is_token_exact() -> None:
    flags, loose = split_flags(["-H", "fd://", "--containerd=/x", "-D", "--log-opt", "a=b", "$X"])
    assert [(f.key, f.tokens) for f in flags] == [
        ("hosts", ["-H", "fd://"]), ("containerd", ["--containerd=/x"]),
        ("debug", ["-D"]), ("log-opts", ["--log-opt", "a=b"])]
    assert [f.tokens for f in loose] == [["$X"]]


# -- properties -------------------------------------------------------------------------------
HOSTS = ["unix:///var/run/docker.sock", "fd://", "tcp://0.0.0.0:2375", "tcp://127.0.0.1:2376",
         "tcp://10.1.2.3:2376", "unix:///run/alt.sock", "tcp://[::]:2376"]
EXTRA_FLAGS = ["-D", "--tlsverify", "--tls=false", "-H tcp://0.0.0.0:2375", "--live-restore",
               "--icc=false", "--log-level=info", "--tlscert=/x/cert.pem", "-H unix:///run/a.sock",
               "--userns-remap=default"]

json_values = st.fixed_dictionaries(
    {},
    optional={
        "hosts": st.lists(st.sampled_from(HOSTS), max_size=3, unique=True),
        "tls": st.booleans(),
        "tlsverify": st.booleans(),
        "tlscacert": st.just("/etc/docker/certs/ca.pem"),
        "tlscert": st.just("/etc/docker/certs/cert.pem"),
        "tlskey": st.just("/etc/docker/certs/key.pem"),
        "debug": st.booleans(),
        "icc": st.booleans(),
        "live-restore": st.booleans(),
        "log-driver": st.sampled_from(["json-file", "local", "syslog"]),
        "log-opts": st.just({"max-size": "5m"}),
        "storage-driver": st.just("overlay2"),
        "registry-mirrors": st.just(["https://mirror.example"]),
    },
)


@st.composite
def daemon_json_texts(draw: st.DrawFn) -> str | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    data = draw(json_values)
    text = json.dumps(data, indent=draw(st.sampled_from([2, 4, None])))
    if data and draw(st.booleans()):  # seed 001's habit: a comment and a trailing comma
        text = text.replace("{", "{ // managed by hand\n", 1)
        text = text[: text.rindex("}")].rstrip() + ",\n}"
    return text + "\n"


@st.composite
def units(draw: st.DrawFn) -> dict[str, str]:
    base = draw(st.sampled_from(["stock", "no-H"]))
    extras = draw(st.lists(st.sampled_from(EXTRA_FLAGS), max_size=3, unique=True))
    if base == "stock" and not extras:
        return {}
    head = "/usr/sbin/dockerd -H fd://" if base == "stock" else "/usr/sbin/dockerd"
    line = " ".join([head, *extras, "--containerd=/run/containerd/containerd.sock"])
    name = draw(st.sampled_from(["override.conf", "10-local.conf"]))
    return {name: f"[Service]\nExecStart=\nExecStart={line}\n"}


@st.composite
def intents(draw: st.DrawFn) -> Intent:
    mode = draw(st.sampled_from(list(Mode)))
    listen = draw(st.sampled_from(LISTEN_CASES))
    sans = ["10.0.0.5"] if listen in ("0.0.0.0", "[::]") else []
    hard = Hardening(
        live_restore=draw(st.booleans()), icc_off=draw(st.booleans()),
        no_new_privileges=draw(st.booleans()), log_rotation=draw(st.booleans()),
    )
    return Intent(mode=mode, listen_host=listen, sans_ip=sans, hardening=hard)


def _effective(plan: Plan) -> tuple[list[str], dict[str, Any]]:
    """The daemon's view after the plan, computed with the parsers, not the planner."""
    data = plan.daemon_json_after or {}
    flags = systemd.parse_dockerd_args(plan.exec_start_after or ["/usr/sbin/dockerd"])
    assert systemd.conflicting_directives(flags, data) == []
    hosts = systemd.effective_hosts(flags, data)
    tls = merge_tls(flags.options, data)
    return hosts, {"tls": tls}


def oracle_loopback(host: str) -> bool:
    """DOMAIN §1, written here independently of production: the literal name ``localhost``, or
    an address that IS a loopback IP (127.0.0.0/8, ::1, or 127/8 mapped into IPv6, which Go
    reads as IPv4). Names are never resolved; wildcards are not loopback."""
    h = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if h.lower() == "localhost":
        return True
    try:
        return socket.inet_pton(socket.AF_INET, h)[0] == 127
    except OSError:
        pass
    try:
        raw = socket.inet_pton(socket.AF_INET6, h)
    except OSError:
        return False
    return raw == bytes(15) + b"\x01" or (raw[:12] == bytes(10) + b"\xff\xff" and raw[12] == 127)


LISTEN_CASES = [None, "127.0.0.1", "localhost", "10.0.0.5", "0.0.0.0", "::1", "127.evil.example",
                "localhost.localdomain", "::ffff:127.0.0.1", "[::]"]


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
    ("[::1]", True), ("::ffff:127.0.0.1", True), ("[::ffff:127.0.0.1]", True),
    ("127.evil.example", False), ("localhost.localdomain", False), ("[::]", False),
    ("0.0.0.0", False), ("::", False), ("127.1", False), ("10.0.0.5", False),
    ("::ffff:10.0.0.5", False), ("docker", False),
])
def test_loopback_cases_oracle_and_production_agree(host: str, loopback: bool) -> None:
    assert oracle_loopback(host) is loopback
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("listen", ["127.evil.example", "localhost.localdomain", "[::]"])
def test_tls_only_on_a_name_that_only_looks_local_is_refused_on_27(
        listen: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pin_version(monkeypatch, "27.0.3")
    root = make_root(tmp_path, "{}\n", {})
    sans = {"sans_ip": ["10.0.0.5"]} if listen == "[::]" else {}
    with pytest.raises(DockwizError):
        plan_for(root, Intent(mode=Mode.TLS, listen_host=listen, **sans))


def _tcp_host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest[1 : rest.index("]")] if rest.startswith("[") else rest.rsplit(":", 1)[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=daemon_json_texts(), dropins=units(), intent=intents(),
       version=st.sampled_from(["20.10.24", "26.1.0", "27.0.3", "28.5.2", None]))
def test_property_no_unauthenticated_remote_tcp_and_idempotent(
    text: str | None, dropins: dict[str, str], intent: Intent, version: str | None
) -> None:
    with pytest.MonkeyPatch.context() as mp, tempfile.TemporaryDirectory() as tmp:
        pin_version(mp, version)
        root = make_root(Path(tmp), text, dropins)
        try:
            plan = plan_for(root, intent)
        except DockwizError as exc:
            # the only refusals these inputs can earn: the v27 rule or daemon.json keys that
            # cannot be combined; never a crash
            assert exc.message and exc.hint
            event(f"refused: {exc.message[:40]}")
            return
        event(f"planned {intent.mode.value}")
        hosts, eff = _effective(plan)
        tls = eff["tls"]
        major = int(version.split(".")[0]) if version else None
        for url in hosts:
            if not url.startswith("tcp://"):
                continue
            assert tls.enabled, f"plain TCP on {url}"
            if not oracle_loopback(_tcp_host(url)) and (major is None or major >= 27):
                assert tls.verifies_clients and tls.tlscacert, f"{url} without mTLS on {version}"
        if intent.mode in (Mode.UNIX, Mode.SSH):
            assert not any(h.startswith("tcp://") for h in hosts)
        assert hosts, "the plan leaves the daemon without any socket"
        apply_files(root, plan)
        apply_certs(root, plan)
        written = derive(Host(root))  # the listeners as the written files say, not the plan
        assert forbidden_tcp(written, allowed_tcp(plan)) == [], written.tcp
        again = plan_for(root, intent)
        assert again.is_empty, plan_diff(again)


def test_property_strategy_covers_the_seed002_line() -> None:
    """The drop-in parser reads seed 002's line as dockerd would (guards the generator)."""
    argv = systemd.split_exec(SEED_002_OVERRIDE.split("ExecStart=")[-1].strip(), {})
    assert argv[0] == "/usr/bin/dockerd" and "-H" in argv


def test_write_helper_modes(tmp_path: Path) -> None:
    write(tmp_path, "/etc/x", "y", 0o600)
    assert os.stat(tmp_path / "etc/x").st_mode & 0o777 == 0o600
    assert dj.render({}) == "{}\n"


# -- the command ------------------------------------------------------------------------------
def test_cli_plan_diff_json_and_save(tmp_path: Path, pinned: None,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from dockwiz.cli import main

    root = make_root(tmp_path / "root", "{}\n", {})
    args = ["plan", "--mode", "mtls", "--root", str(root), "--listen", "10.0.0.5:2376",
            "--san", "docker.example.com", "--san", "10.0.0.5", "--hardening", "live-restore"]
    assert main([*args, "--no-color"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dockwiz plan: mode mtls") and "\x1b[" not in out
    assert '+  "live-restore": true' in out and "docker.example.com" in out

    saved = tmp_path / "plan.json"
    assert main([*args, "--json", "--save", str(saved)]) == 0
    printed = Plan.model_validate_json(capsys.readouterr().out)
    assert load_plan(saved) == printed
    assert printed.intent.sans_dns == ["docker.example.com"]
    assert not (root / "etc/docker/tls").exists()  # planning writes nothing to the host
    assert (root / "etc/docker/daemon.json").read_text() == "{}\n"


def test_cli_no_color_env(tmp_path: Path, pinned: None, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    from dockwiz.cli import main
    from dockwiz.commands import _common

    root = make_root(tmp_path, "{}\n", {})
    monkeypatch.setattr(_common.sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["plan", "--mode", "tls", "--root", str(root)]) == 0
    assert "\x1b[" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "needle"),
    [(["--listen", "nope:99999"], "invalid port"), (["--hardening", "selinux"], "unknown"),
     (["--listen", "10.0.0.5", "--docker-version", "27.1.0", "--mode", "tls"], "mutual TLS")],
)
def test_cli_bad_input_exits_2(extra: list[str], needle: str, tmp_path: Path, pinned: None,
                               capsys: pytest.CaptureFixture[str]) -> None:
    from dockwiz.cli import main

    root = make_root(tmp_path, "{}\n", {})
    assert main(["plan", "--mode", "mtls", "--root", str(root), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and "fix:" in err


def test_no_unit_and_flags_dockwiz_cannot_change(tmp_path: Path, pinned: None) -> None:
    from dockwiz.models.host_state import DaemonProcess, UnitState

    root = make_root(tmp_path, "{}\n", {})
    base = observe(root, Intent(mode=Mode.UNIX))
    running = base.model_copy(update={
        "unit": UnitState(),
        "process": DaemonProcess(pid=4242, argv=["/usr/bin/dockerd", "-H", "tcp://0.0.0.0:2375"]),
    })
    with pytest.raises(DockwizError) as exc:
        build_plan(running, Intent(mode=Mode.UNIX))
    assert "DOCKER_OPTS" in (exc.value.hint or "")
    plain = running.model_copy(update={"process": DaemonProcess(pid=4242,
                                                                argv=["/usr/bin/dockerd"])})
    plan = build_plan(plain, Intent(mode=Mode.MTLS, listen_host="10.0.0.5"))
    assert [f.role for f in plan.files] == ["daemon.json"]


def test_invalid_san_is_a_clear_error(tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    with pytest.raises(DockwizError):
        plan_for(root, Intent(mode=Mode.MTLS, listen_host="10.0.0.5",
                              sans_ip=["10.0.0.5", "999.1.1.1"]))


def test_secured_host_missing_client_gets_only_a_client(tmp_path: Path, pinned: None) -> None:
    """An mTLS host whose CA and server cert are fine: issue a client, touch nothing else."""
    import shutil

    root = make_root(tmp_path, "{}\n", {})
    intent = intent_for(Mode.MTLS)
    first = plan_for(root, intent)
    apply_files(root, first)
    apply_certs(root, first)
    shutil.rmtree(root / "etc/dockwiz/clients")
    plan = plan_for(root, intent)
    assert plan.files == [] and plan.actions == []
    assert {c.role: c.action for c in plan.certs} == {"ca": "reuse", "server": "reuse",
                                                       "client": "create"}
    assert not plan.is_empty


def test_expiring_server_cert_is_renewed_with_the_same_ca(tmp_path: Path, pinned: None) -> None:
    from dockwiz import pki
    from dockwiz.host import Host

    root = make_root(tmp_path, "{}\n", {})
    intent = intent_for(Mode.MTLS)
    first = plan_for(root, intent)
    apply_files(root, first)
    apply_certs(root, first)
    host = Host(root)
    ca = pki.load_ca(host)
    short = pki.issue_server(ca, ["localhost"], ["127.0.0.1"])  # no SAN for the lab address
    pki.write_server_material(host, ca, short, intent.tls_dir, overwrite=True)
    plan = plan_for(root, intent)
    server = next(c for c in plan.certs if c.role == "server")
    assert server.action == "renew" and LAB_ADDR in server.reason
    assert next(c for c in plan.certs if c.role == "ca").action == "reuse"
    assert plan.files == [] and [a.kind for a in plan.actions] == ["restart"]


# -- issue 12 §1: every TCP source the mode forbids is removed or overridden ------------------
ETC_D = "/etc/systemd/system/docker.service.d"
LIB_D = "/lib/systemd/system/docker.service.d"
ALL_MODES = [(Mode.UNIX, None), (Mode.SSH, None), (Mode.TLS, "127.0.0.1"), (Mode.MTLS, LAB_ADDR)]


def _exec(line: str) -> str:
    return f"[Service]\nExecStart=\nExecStart={line}\n"


def _secured_after(root: Path, mode: Mode, listen: str | None) -> Plan:
    """Plan, write the plan's files, derive the listeners again from the files alone: no TCP
    source but the planned endpoint, and planning again finds nothing left to do."""
    intent = Intent(mode=mode, listen_host=listen)
    plan = plan_for(root, intent)
    assert not plan.is_empty
    apply_files(root, plan)
    apply_certs(root, plan)
    eff = derive(Host(root))
    allowed = [u for u in [f"tcp://{listen}:2376"] if mode in (Mode.TLS, Mode.MTLS)]
    assert forbidden_tcp(eff, allowed) == [], [s.where for s in eff.tcp]
    assert [s.bind_key for s in eff.tcp] == [f"{listen}:2376" for _ in allowed]
    assert not eff.problems, eff.problems
    again = plan_for(root, intent)
    assert again.is_empty, plan_diff(again)
    return plan


@pytest.mark.parametrize(("mode", "listen"), ALL_MODES)
def test_combined_short_flag_tcp_in_an_etc_dropin(mode: Mode, listen: str | None,
                                                  tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {"10-tcp.conf": _exec(
        "/usr/sbin/dockerd -DH tcp://0.0.0.0:2375 -H fd:// --containerd=/run/c.sock")})
    plan = _secured_after(root, mode, listen)
    dropin = next(f for f in plan.files if f.role == "dropin")
    assert dropin.path == f"{ETC_D}/10-tcp.conf"  # rewritten in place, -D kept, fd:// kept
    assert "--debug -H fd:// " in (dropin.after or "")


@pytest.mark.parametrize(("mode", "listen"), ALL_MODES)
def test_competing_lib_dropin_is_masked_by_its_etc_twin(mode: Mode, listen: str | None,
                                                        tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    write(root, f"{LIB_D}/zzz-tcp.conf",
          "[Service]\nEnvironment=KEEP=1\n" + _exec("/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2375")
          .removeprefix("[Service]\n"))
    plan = _secured_after(root, mode, listen)
    dropin = next(f for f in plan.files if f.role == "dropin")
    assert dropin.path == f"{ETC_D}/zzz-tcp.conf" and dropin.before is None
    assert "Environment=KEEP=1" in (dropin.after or "")  # the competitor's other lines kept
    assert (root / LIB_D.lstrip("/") / "zzz-tcp.conf").read_text().count("2375")  # not edited


@pytest.mark.parametrize(("mode", "listen"), ALL_MODES)
def test_second_listen_stream_in_docker_socket(mode: Mode, listen: str | None, tmp_path: Path,
                                               pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    write(root, "/lib/systemd/system/docker.socket", DEBIAN_DOCKER_SOCKET.replace(
        "ListenStream=/run/docker.sock", "ListenStream=/run/docker.sock\nListenStream=2375"))
    write(root, "/etc/systemd/system/docker.socket.d/zzz-vendor.conf", "[Unit]\nX=1\n")
    plan = _secured_after(root, mode, listen)
    socket = next(f for f in plan.files if "docker.socket.d" in f.path)
    assert socket.path.endswith("/zz-dockwiz.conf")
    assert socket.after and socket.after.endswith(
        "[Socket]\nListenStream=\nListenStream=/run/docker.sock\n")
    assert any("restart docker.socket" in n for n in plan.notes)


def test_socket_dropin_sorts_after_a_later_vendor_listen_stream(tmp_path: Path,
                                                                pinned: None) -> None:
    root = make_root(tmp_path, "{}\n", {})
    write(root, "/lib/systemd/system/docker.socket.d/zzz-tcp.conf",
          "[Socket]\nListenStream=0.0.0.0:2375\n")
    plan = _secured_after(root, Mode.UNIX, None)
    assert any(f.path.endswith("docker.socket.d/zzz-tcp~dockwiz.conf") for f in plan.files)


@pytest.mark.parametrize(("mode", "listen"), ALL_MODES)
def test_daemon_json_hosts_and_etc_default_docker(mode: Mode, listen: str | None,
                                                  tmp_path: Path, pinned: None) -> None:
    root = make_root(tmp_path, '{"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"]}\n',
                     {"override.conf": _exec("/usr/sbin/dockerd $DOCKER_OPTS")})
    write(root, "/etc/default/docker", 'DOCKER_OPTS="-D -H tcp://0.0.0.0:2377"\n')
    write(root, "/lib/systemd/system/docker.service", (root / "lib/systemd/system/docker.service")
          .read_text().replace("-H fd:// ", ""))
    eff = derive(Host(root))
    assert sorted(s.where for s in eff.tcp) == [
        "/etc/default/docker (DOCKER_OPTS)", "/etc/docker/daemon.json (hosts[1])"]
    _secured_after(root, mode, listen)


def test_a_source_dockwiz_cannot_rewrite_is_refused(tmp_path: Path, pinned: None) -> None:
    """No false 'secured': a SysV DOCKER_OPTS with TCP (no unit to override it) is an error."""
    (tmp_path / "lib/systemd/system").mkdir(parents=True)
    write(tmp_path, "/etc/init.d/docker", ". /etc/default/docker\n$DOCKER_OPTS\n")
    write(tmp_path, "/etc/default/docker", 'DOCKER_OPTS="-H tcp://0.0.0.0:2375"\n')
    with pytest.raises(DockwizError, match="cannot remove every TCP listener"):
        plan_for(tmp_path, Intent(mode=Mode.UNIX))


def test_wildcard_listen_without_san_plans_the_dialable_names(tmp_path: Path) -> None:
    """Issue 14 §4: the CLI no longer refuses a wildcard listen without --san; like the wizard
    it plans the names and addresses clients can dial (never a container bridge), and the
    preview lists them."""
    from dockwiz.host import Host
    from dockwiz.plan import plan_for_host

    root = make_root(tmp_path, "{}\n", {})
    write(root, "/etc/hostname", "web1\n")
    write(root, "/etc/hosts", "127.0.0.1 localhost\n10.0.0.5 web1.example.com web1\n")
    _, plan = plan_for_host(Host(root), Intent(mode=Mode.MTLS, listen_host="0.0.0.0",
                                               docker_version="28.5.2"))
    server = next(c for c in plan.certs if c.role == "server")
    assert "web1.example.com" in server.dns_names
    assert not any(ip.startswith("172.17.") for ip in server.ip_addresses)
    assert "web1.example.com" in plan_diff(plan)


def test_an_encrypted_ca_key_is_refused_at_plan_time(tmp_path: Path) -> None:
    """Issue 12 §6: a passphrase-protected CA key used to pass the plan as 'reuse' and fail at
    apply; the plan now says it cannot sign with it and how out."""
    from cryptography.hazmat.primitives import serialization

    from dockwiz import pki
    from dockwiz.host import Host
    from dockwiz.plan import plan_for_host

    root = make_root(tmp_path, "{}\n", {})
    ca = pki.issue_ca("test CA")
    write(root, "/etc/dockwiz/ca/ca.pem", ca.cert.public_bytes(serialization.Encoding.PEM).decode())
    encrypted = ca.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"))
    write(root, "/etc/dockwiz/ca/ca-key.pem", encrypted.decode(), 0o400)
    with pytest.raises(DockwizError) as err:
        plan_for_host(Host(root), Intent(mode=Mode.MTLS, listen_host="10.0.0.5",
                                         sans_ip=["10.0.0.5"], docker_version="28.5.2"))
    assert "is encrypted" in err.value.message and "--no-reuse" in (err.value.hint or "")
