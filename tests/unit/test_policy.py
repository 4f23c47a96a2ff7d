"""Policy: the loopback notion, the v27+ rule, listen parsing, hardening options."""

from __future__ import annotations

import ipaddress
import json
import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockwiz import addresses
from dockwiz.models.host_state import (
    DaemonJsonState,
    DockerVersion,
    HostState,
    Listener,
    parse_major,
)
from dockwiz.models.intent import HARDENING_OPTIONS, MODE_DESCRIPTIONS, Hardening, Intent, Mode
from dockwiz.policy import (
    allowed_modes,
    check_intent,
    is_loopback,
    parse_listen,
    resolve_listen_host,
    ssh_context_line,
    valid_host,
    valid_user_name,
)
from plan_helpers import apply_files, make_root, pin_version, plan_for


def state(version: str | None = "27.3.1", **extra: object) -> HostState:
    return HostState(
        root="/sandbox", is_root=True, docker_installed=True,
        version=DockerVersion(binary=version),
        daemon_json=DaemonJsonState(path="/etc/docker/daemon.json", exists=False),
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [("localhost", True), ("LOCALHOST", True), ("127.0.0.1", True), ("127.5.6.7", True),
     ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False),
     ("localhost.example.com", False), ("docker.local", False), ("", False), (None, False),
     # a name that merely starts like loopback is a name (a startswith("127.") bug would pass it)
     ("127.evil.example", False), ("localhost.localdomain", False), ("[::]", False),
     # Go's IsLoopback, which dockerd asks, counts IPv4-mapped loopback as loopback
     ("::ffff:127.0.0.1", True), ("[::ffff:127.9.9.9]", True), ("::ffff:10.0.0.1", False)],
)
def test_is_loopback(host: str | None, expected: bool) -> None:
    assert is_loopback(host) is expected


def go_is_loopback(packed: bytes) -> bool:
    """Go's net.IP.IsLoopback from the bytes, independent of Python's ipaddress: To4() then
    127/8, else ::1."""
    mapped_prefix = bytes(10) + b"\xff\xff"
    if len(packed) == 4:
        return packed[0] == 127
    if packed.startswith(mapped_prefix):
        return packed[12] == 127
    return packed == bytes(15) + b"\x01"


def v4_mapped(ip: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(bytes(10) + b"\xff\xff" + ip.packed)


@given(st.one_of(st.ip_addresses(), st.ip_addresses(v=4).map(v4_mapped)))
def test_is_loopback_is_gos_rule(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert is_loopback(str(ip)) is go_is_loopback(ip.packed)
    assert is_loopback(f"[{ip}]") is go_is_loopback(ip.packed)


@pytest.mark.parametrize("host", [
    "10.0.0.5", "::1", "[::1]", "fd00::5", "localhost", "docker.example.com", "example.com.",
    "a-b.c", "x", "0x.example",
])
def test_valid_hosts(host: str) -> None:
    assert valid_host(host) and addresses.host_problem(host) is None


@pytest.mark.parametrize(("host", "why"), [
    ("10.77.240.999", "not an IPv4 address"), ("999.1.1.1", "not an IPv4 address"),
    ("1.2.3", "not an IPv4 address"), ("127.1", "not an IPv4 address"),
    ("0", "not an IPv4 address"), ("010.0.0.1", "not an IPv4 address"),
    ("10.0.0.5.", "not an IPv4 address"), ("host.0x1f", "not an IPv4 address"),
    ("１.2.3.4", "not an IPv4 address"), ("１.example", "not a host name label"),
    ("docker..example.com", "empty label"),
    (".example.com", "empty label"), ("a..", "empty label"), ("-a.example", "not a host name"),
    ("a-.example", "not a host name"), ("a_b.example", "not a host name"),
    ("host\n", "not a host name"), ("bücher.example", "not a host name"),
    ("a" * 64 + ".example", "not a host name"), ("::1::2", "not an IPv6 address"),
    ("", "empty"), ("a." * 127 + "aa", "at most 253"),
])
def test_invalid_hosts_say_why(host: str, why: str) -> None:
    problem = addresses.host_problem(host)
    assert problem is not None and why in problem
    assert not valid_host(host)


@given(st.text(max_size=80))
def test_host_problem_never_raises_and_agrees_with_valid_host(text: str) -> None:
    assert (addresses.host_problem(text) is None) is valid_host(text)


@pytest.mark.parametrize("version", ["27.0.3", "28.5.2", None])
def test_v27_blocks_tls_on_non_loopback(version: str | None) -> None:
    found = check_intent(state(version), Intent(mode=Mode.TLS, listen_host="0.0.0.0"))
    rule = [v for v in found if v.rule == "v27-mtls-required"]
    assert rule and rule[0].blocking
    ways = " ".join(rule[0].way_out)
    assert "mtls" in ways and "127.0.0.1" in ways and "ssh" in ways


def test_before_27_tls_remote_is_loud_not_blocking() -> None:
    found = check_intent(state("20.10.24"), Intent(mode=Mode.TLS, listen_host="10.0.0.5"))
    (v,) = [v for v in found if v.rule == "v27-mtls-required"]
    assert not v.blocking
    # what 20.10 really does with TLS-only (explicit TLS: 1 s, no 15 s sleep), then the
    # announcement, with no doubled "WARNING" (the renderers mark warnings themselves)
    assert "starts" in v.message and "1 s" in v.message and "15 s" not in v.message
    assert "announced" in v.message and "27 or later" in v.message
    assert not v.message.startswith("WARNING")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_tls_on_loopback_is_fine_on_27(host: str) -> None:
    assert not [v for v in check_intent(state(), Intent(mode=Mode.TLS, listen_host=host))
                if v.blocking]


def test_mtls_anywhere_is_fine() -> None:
    assert not [v for v in check_intent(state(), Intent(mode=Mode.MTLS, listen_host="0.0.0.0"))
                if v.blocking]


def test_unknown_version_counts_as_27_and_says_so() -> None:
    found = check_intent(state(None), Intent(mode=Mode.MTLS, listen_host="10.0.0.5"))
    assert any(v.rule == "version-unknown" and not v.blocking for v in found)


def test_version_override_wins() -> None:
    intent = Intent(mode=Mode.TLS, listen_host="10.0.0.5", docker_version="20.10.24")
    assert not [v for v in check_intent(state("28.0.0"), intent) if v.blocking]
    bad = Intent(mode=Mode.UNIX, docker_version="banana")
    assert any(v.rule == "version-invalid" and v.blocking for v in check_intent(state(), bad))


def test_invalid_listen_address_is_blocking() -> None:
    found = check_intent(state(), Intent(mode=Mode.MTLS, listen_host="bad host!"))
    assert any(v.rule == "listen-invalid" and v.blocking for v in found)


def test_rootless_is_blocking() -> None:
    found = check_intent(state(rootless=True), Intent(mode=Mode.UNIX))
    assert found[0].rule == "rootless" and found[0].blocking


def test_userns_remap_warns() -> None:
    intent = Intent(mode=Mode.UNIX, hardening=Hardening(userns_remap=True))
    (v,) = check_intent(state(), intent)
    assert not v.blocking and "invisible" in v.message


def test_allowed_modes_for_the_tui() -> None:
    modes = allowed_modes(state("27.1.0"), "10.0.0.5")
    assert modes[Mode.TLS] is not None and modes[Mode.TLS].blocking
    assert modes[Mode.MTLS] is None and modes[Mode.UNIX] is None and modes[Mode.SSH] is None
    old = allowed_modes(state("20.10.24"), "10.0.0.5")
    assert old[Mode.TLS] is not None and not old[Mode.TLS].blocking
    assert allowed_modes(state("27.1.0"), "127.0.0.1")[Mode.TLS] is None


def test_default_listen_host() -> None:
    plain = state()
    assert resolve_listen_host(plain, Intent(mode=Mode.MTLS)) == "127.0.0.1"
    configured = state(configured_hosts=[
        Listener(kind="tcp", address="tcp://0.0.0.0:2375", host="0.0.0.0", port=2375,
                 loopback=False),
        Listener(kind="tcp", address="tcp://10.0.0.7:2376", host="10.0.0.7", port=2376,
                 loopback=False)])
    assert resolve_listen_host(configured, Intent(mode=Mode.MTLS)) == "10.0.0.7"
    assert resolve_listen_host(configured, Intent(mode=Mode.TLS)) == "127.0.0.1"
    assert resolve_listen_host(configured, Intent(mode=Mode.MTLS, listen_host="[::1]")) == "::1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10.0.0.5:2376", ("10.0.0.5", 2376)), ("10.0.0.5", ("10.0.0.5", 2376)),
     ("tcp://127.0.0.1:3000", ("127.0.0.1", 3000)), ("[::1]:2376", ("::1", 2376)),
     ("docker.example.com:2376", ("docker.example.com", 2376))],
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["", ":2376", "10.0.0.5:0", "10.0.0.5:99999", "::1:2376",
                                  "[::1", "host name:1", "10.0.0.5:abc", "10.77.240.999:2376",
                                  "999.1.1.1", "1.2.3", "a..b:2376", "h:70000", "h:²",
                                  "h:+80", "h:-1", "h:", "[::1]x", "h:" + "9" * 5000,
                                  "１０.0.0.1:2376"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid") as caught:
        parse_listen(text)
    message = str(caught.value)
    assert "e.g." in message and len(message) < 300


@given(st.text(max_size=40))
def test_parse_listen_is_strict_on_any_text(text: str) -> None:
    """Only ValueError, and what it returns is always something dockerd can bind."""
    try:
        host, port = parse_listen(text)
    except ValueError:
        return
    assert valid_host(host) and 1 <= port <= 65535


@pytest.mark.parametrize(("version", "major"), [
    ("27", 27), ("v27", 27), ("27.3.1", 27), ("20.10.24+dfsg1", 20), ("28.5.2+dfsg4-5", 28),
    (" 26.1.5 ", 26), ("²⁷", None), ("٢٧", None), ("27abc", None), ("banana", None), ("", None),
    (None, None), ("9" * 5000, None), ("-27", None),
])
def test_parse_major(version: str | None, major: int | None) -> None:
    assert parse_major(version) == major


@given(st.text(max_size=30))
def test_parse_major_never_raises(text: str) -> None:
    result = parse_major(text)
    assert result is None or (result >= 0 and text.strip().lstrip("v")[:1].isascii())


def test_junk_version_is_the_first_reason_given() -> None:
    """Not "unauthenticated TCP on ... unknown version": the bad value is what to fix."""
    found = check_intent(state(), Intent(mode=Mode.TLS, listen_host="10.0.0.5",
                                         docker_version="²⁷"))
    assert found[0].rule == "version-invalid" and found[0].blocking
    assert "'²⁷'" in found[0].message and "27.3.1" in " ".join(found[0].way_out)
    assert not any(v.rule == "version-unknown" for v in found)


def test_configured_address_that_is_not_an_address_blocks() -> None:
    configured = state(configured_hosts=[Listener(
        kind="tcp", address="tcp://10.77.240.999:2376", host="10.77.240.999", port=2376,
        loopback=False)])
    found = check_intent(configured, Intent(mode=Mode.MTLS))
    (v,) = [v for v in found if v.rule == "listen-invalid"]
    assert v.blocking and "10.77.240.999" in v.message and "10.0.0.5:2376" in v.way_out[0]


@pytest.mark.parametrize(("user", "ok"), [
    ("admin", True), ("deploy.bot", True), ("_svc", True), ("a-b_c.d", True), ("a" * 32, True),
    ("-rf", False), ("a b", False), ('a"; touch /tmp/x; echo "', False), ("$(id)", False),
    ("a" * 33, False), ("", False), ("bjørn", False), ("root\n", False), ("a@b", False),
])
def test_ssh_user_names(user: str, ok: bool) -> None:
    assert valid_user_name(user) is ok
    found = check_intent(state(), Intent(mode=Mode.SSH, ssh_user=user))
    assert any(v.rule == "ssh-user-invalid" and v.blocking for v in found) is not ok


@given(user=st.text(max_size=20), host=st.sampled_from(
    ["HOST", "10.0.0.5", "fd00::5", "docker.example.com", "a b;c"]))
def test_ssh_context_line_is_always_one_command(user: str, host: str) -> None:
    """Whatever reaches it, the printed line splits into exactly the intended argv."""
    if "\x00" in user:
        return
    argv = shlex.split(ssh_context_line(user or None, host))
    assert argv[:3] == ["docker", "context", "create"] and argv[4] == "--docker"
    assert len(argv) == 6
    assert argv[5] == f"host=ssh://{user or 'USER'}@{addresses.url_host(host)}"


def test_hardening_options_are_complete() -> None:
    keys = {o.key for o in HARDENING_OPTIONS}
    assert keys == {"live-restore", "icc", "no-new-privileges", "userns-remap",
                    "userland-proxy", "log-rotation"}
    cis = {o.key: o.cis for o in HARDENING_OPTIONS}
    assert cis["icc"] == "2.2" and cis["userns-remap"] == "2.9" and cis["userland-proxy"] == "2.16"
    assert cis["no-new-privileges"] == "2.14" and cis["live-restore"] == "2.15"
    assert all(o.why and o.cost for o in HARDENING_OPTIONS)
    assert all(hasattr(Hardening(), o.field) for o in HARDENING_OPTIONS)
    assert set(MODE_DESCRIPTIONS) == set(Mode)


def test_hardening_from_keys() -> None:
    h = Hardening.from_keys(["live-restore", " icc", ""])
    assert h.live_restore and h.icc_off and not h.userns_remap
    assert h.enabled_keys() == ["live-restore", "icc"]
    with pytest.raises(ValueError, match="unknown hardening option"):
        Hardening.from_keys(["selinux"])


def test_key_type_and_client_name_checked_up_front() -> None:
    bad_key = Intent(mode=Mode.MTLS, listen_host="10.0.0.5", key_type="dsa-1024")
    assert any(v.rule == "key-type-invalid" and v.blocking for v in check_intent(state(), bad_key))
    bad_name = Intent(mode=Mode.MTLS, listen_host="10.0.0.5", client_name="../etc")
    assert any(v.rule == "client-name-invalid" for v in check_intent(state(), bad_name))
    assert not check_intent(state(), Intent(mode=Mode.UNIX, key_type="dsa-1024"))


def test_log_size_is_validated() -> None:
    with pytest.raises(ValueError):
        Hardening(log_rotation=True, log_max_size="10 MB")


def test_userland_proxy_option_says_what_it_costs() -> None:
    opt = next(o for o in HARDENING_OPTIONS if o.key == "userland-proxy")
    assert opt.daemon_key == "userland-proxy" and not opt.reloadable
    assert "docker-proxy" in opt.why and "iptables" in opt.cost and "Hairpin" in opt.cost
    assert Hardening.from_keys(["userland-proxy"]).userland_proxy_off


@pytest.mark.parametrize("start", ["{}\n", '{\n  "userland-proxy": true\n}\n'])
def test_userland_proxy_is_planned_into_daemon_json_once(
        start: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan writes "userland-proxy": false; planning again from the result is empty."""
    pin_version(monkeypatch, "20.10.24+dfsg1")
    root = make_root(tmp_path, start, {})
    intent = Intent(mode=Mode.UNIX, hardening=Hardening(userland_proxy_off=True))
    first = plan_for(root, intent)
    (change,) = [f for f in first.files if f.path == "/etc/docker/daemon.json"]
    assert json.loads(change.after or "")["userland-proxy"] is False
    assert '"userland-proxy": false' in (change.after or "")
    apply_files(root, first)
    assert plan_for(root, intent).is_empty


def test_userland_proxy_already_off_by_flag_needs_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pin_version(monkeypatch, "20.10.24+dfsg1")
    unit = ("[Service]\nExecStart=\nExecStart=/usr/bin/dockerd --userland-proxy=false "
            "-H unix:///var/run/docker.sock\n")
    root = make_root(tmp_path, "{}\n", {"override.conf": unit})
    intent = Intent(mode=Mode.UNIX, hardening=Hardening(userland_proxy_off=True))
    plan = plan_for(root, intent)
    assert not any("userland-proxy" in (f.after or "") for f in plan.files
                   if f.path == "/etc/docker/daemon.json")
