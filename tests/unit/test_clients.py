"""Day two, clients: list, add, revoke as plans; revoke carried out on a sandbox root."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from test_renew import secured_host

from dockwiz import lifecycle, pki
from dockwiz.apply.certs import cert_trees
from dockwiz.apply.reissue import carry_out
from dockwiz.errors import DockwizError
from dockwiz.pki.checks import not_signed_by


def test_list_shows_fingerprint_expiry_and_ca(tmp_path: Path) -> None:
    host = secured_host(tmp_path)
    clients = lifecycle.list_clients(host)
    assert [c.name for c in clients] == ["a", "b"]
    for c in clients:
        assert c.signed_by_current_ca and c.trusted_by_daemon and not c.revoked
        assert c.fingerprint and len(c.fingerprint.split(":")) == 32
        assert c.endpoint == "tcp://10.0.0.5:2376"
        assert c.days_left is not None and 364 < c.days_left <= 365


def test_add_is_a_bundle_without_restart(tmp_path: Path) -> None:
    host = secured_host(tmp_path)
    plan = lifecycle.plan_add_client(host, "laptop", days=30, key_type="ed25519")
    assert plan.actions == []
    [client] = [c for c in plan.certs if c.role == "client"]
    assert (client.action, client.name, client.days, client.key_type) == (
        "create", "laptop", 30, "ed25519")
    assert lifecycle.keeps_access(plan) == ["laptop"]
    assert carry_out(host, plan) == "/etc/dockwiz/clients/laptop"
    bundle = tmp_path / "etc/dockwiz/clients/laptop"
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o700
    assert stat.S_IMODE((bundle / "key.pem").stat().st_mode) == 0o400
    assert sorted(p.name for p in bundle.iterdir()) == [
        "README.txt", "ca.pem", "cert.pem", "context.txt", "env.sh", "key.pem"]
    assert "docker context update laptop" in (bundle / "README.txt").read_text()
    assert not_signed_by(bundle / "cert.pem", tmp_path / "etc/docker/tls/ca.pem") is None
    with pytest.raises(DockwizError, match="exists already"):
        lifecycle.plan_add_client(host, "laptop")
    with pytest.raises(DockwizError, match="invalid client name"):
        lifecycle.plan_add_client(host, "../x")


def test_revoke_plan_says_who_keeps_access(tmp_path: Path) -> None:
    host = secured_host(tmp_path, clients=("a", "b", "c"))
    plan = lifecycle.plan_revoke(host, "b")
    assert lifecycle.keeps_access(plan) == ["a", "c"]
    assert lifecycle.revoked_by(plan) == ["b"]
    assert {(c.role, c.action) for c in plan.certs if c.role != "client"} == {
        ("ca", "renew"), ("server", "renew")}
    assert [a.kind for a in plan.actions] == ["restart"]
    assert any("keeps access (new bundles): a, c" in n for n in plan.notes)
    trees = cert_trees(plan)
    assert "/etc/dockwiz/revoked/b" in trees and "/etc/docker/tls" in trees


def test_revoke_carried_out(tmp_path: Path) -> None:
    host = secured_host(tmp_path)
    old_a = (tmp_path / "etc/dockwiz/clients/a/cert.pem").read_bytes()
    plan = lifecycle.plan_revoke(host, "a")
    carry_out(host, plan)
    trust = tmp_path / "etc/docker/tls/ca.pem"
    revoked = tmp_path / "etc/dockwiz/revoked/a"
    assert (revoked / "cert.pem").read_bytes() == old_a
    assert not (tmp_path / "etc/dockwiz/clients/a").exists()
    assert not_signed_by(revoked / "cert.pem", trust) is not None
    assert not_signed_by(tmp_path / "etc/dockwiz/clients/b/cert.pem", trust) is None
    assert not_signed_by(tmp_path / "etc/docker/tls/server-cert.pem", trust) is None
    listed = {c.name: c for c in lifecycle.list_clients(host)}
    assert listed["a"].revoked and not listed["a"].trusted_by_daemon
    assert listed["b"].signed_by_current_ca
    assert pki.list_clients(host) == ["b"]


def test_revoking_the_last_client_is_refused(tmp_path: Path) -> None:
    host = secured_host(tmp_path, clients=("only",))
    with pytest.raises(DockwizError, match="only client"):
        lifecycle.plan_revoke(host, "only")
    with pytest.raises(DockwizError, match="no client bundle"):
        lifecycle.plan_revoke(host, "ghost")


def test_handoff_names_the_context_commands(tmp_path: Path) -> None:
    host = secured_host(tmp_path)
    lines = lifecycle.context_commands(lifecycle.plan_revoke(host, "a"))
    assert lines[0].startswith("docker context update b --docker ")
    assert "ca=/etc/dockwiz/clients/b/ca.pem" in lines[0]


def test_a_foreign_ca_is_refused(tmp_path: Path) -> None:
    host = secured_host(tmp_path)
    other = pki.issue_ca(common_name="someone else")
    (tmp_path / "etc/docker/tls/ca.pem").chmod(0o644)
    (tmp_path / "etc/docker/tls/ca.pem").write_bytes(other.cert_pem())
    with pytest.raises(DockwizError, match="does not hold the CA"):
        lifecycle.plan_add_client(host, "x")


def test_an_encrypted_ca_key_is_refused_before_the_transaction(tmp_path: Path) -> None:
    host = secured_host(tmp_path)
    ca = pki.load_ca(host)
    key = tmp_path / "etc/dockwiz/ca/ca-key.pem"
    key.chmod(0o600)
    key.write_bytes(ca.key_pem(b"secret"))
    for make in (lambda: lifecycle.plan_add_client(host, "x"),
                 lambda: lifecycle.plan_revoke(host, "a"),
                 lambda: lifecycle.plan_renew(host, force=True)):
        with pytest.raises(DockwizError, match="passphrase-protected"):
            make()
