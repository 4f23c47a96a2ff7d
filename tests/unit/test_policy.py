"""Policy: the loopback notion, the v27+ rule, listen parsing, hardening options."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockwiz.models.host_state import DaemonJsonState, DockerVersion, HostState, Listener
from dockwiz.models.intent import HARDENING_OPTIONS, MODE_DESCRIPTIONS, Hardening, Intent, Mode
from dockwiz.policy import (
    allowed_modes,
    check_intent,
    is_loopback,
    parse_listen,
    resolve_listen_host,
)


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
     ("localhost.example.com", False), ("docker.local", False), ("", False), (None, False)],
)
def test_is_loopback(host: str | None, expected: bool) -> None:
    assert is_loopback(host) is expected


@given(st.ip_addresses())
def test_is_loopback_matches_ipaddress(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert is_loopback(str(ip)) is ip.is_loopback


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
    assert "WARNING" in v.message and "15 s" in v.message and "next upgrade" in v.message


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
                                  "[::1", "host name:1", "10.0.0.5:abc"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        parse_listen(text)


def test_hardening_options_are_complete() -> None:
    keys = {o.key for o in HARDENING_OPTIONS}
    assert keys == {"live-restore", "icc", "no-new-privileges", "userns-remap", "log-rotation"}
    cis = {o.key: o.cis for o in HARDENING_OPTIONS}
    assert cis["icc"] == "2.2" and cis["userns-remap"] == "2.9"
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
