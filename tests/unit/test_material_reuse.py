"""Found certificates reused (issue 14 §2, plan and apply side), on a tree laid out like seed 004.

The tutorial's CA and daemon pair sit in /etc/docker/certs with ``ca-key.pem`` beside them.
The plan keeps the CA (so clients it signed keep working), moves its key to dockwiz's CA
directory and says so in the preview; apply moves it inside the transaction, before issuing the
new server certificate with the OLD CA; a rollback puts the key back byte for byte.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from test_apply import StandInDaemon, _snapshot
from test_discover import CERTS, _put, recipe  # noqa: F401 - recipe is a fixture

from dockwiz import apply as ap
from dockwiz.diffs import render_plan
from dockwiz.host import Host
from dockwiz.lab.scenarios import SEED_004_DAEMON_JSON
from dockwiz.models.intent import Intent, Mode
from dockwiz.models.plan import Endpoint, Plan
from dockwiz.pki.issue import verify_issued_by
from plan_helpers import plan_for

SOCK = "/var/run/docker.sock"


@pytest.fixture
def seed004_root(recipe: Path) -> Iterator[Host]:  # noqa: F811
    root = Path(tempfile.mkdtemp(prefix="dwmr", dir="/tmp"))  # short: the stand-in's socket
    host = Host(root)
    _put(host, "/etc/docker/daemon.json", SEED_004_DAEMON_JSON.encode(), 0o644)
    for name, mode in (("ca-key.pem", 0o600), ("ca.pem", 0o644), ("cert.pem", 0o644),
                       ("key.pem", 0o600)):
        _put(host, f"{CERTS}/{name}", (recipe / name).read_bytes(), mode)
    try:
        yield host
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _intent(**extra: object) -> Intent:
    return Intent(mode=Mode.MTLS, listen_host="127.0.0.1", **extra)  # type: ignore[arg-type]


def test_plan_keeps_the_ca_and_lists_the_move(seed004_root: Host) -> None:
    plan = plan_for(seed004_root.root, _intent())
    assert plan.material_action == "reuse-ca"
    key_move = next(m for m in plan.material_moves if m.source == f"{CERTS}/ca-key.pem")
    assert key_move.destination == "/etc/dockwiz/ca/ca-key.pem" and not key_move.keep_source
    roles = {c.role: c.action for c in plan.certs}
    assert roles == {"ca": "reuse", "server": "create", "client": "create"}
    text = render_plan(plan)
    assert "keeping the existing CA (clients keep working)" in text
    assert (f"moving {CERTS}/ca-key.pem -> /etc/dockwiz/ca/ca-key.pem (0400, dir 0700)"
            in text)
    assert "SANs: localhost, 127.0.0.1, ::1" in text  # the new server certificate's names
    assert not plan.is_empty


def test_no_reuse_starts_fresh_and_says_why(seed004_root: Host) -> None:
    plan = plan_for(seed004_root.root, _intent(reuse_certs=False))
    assert plan.material_action == "fresh" and not plan.material_moves
    assert {c.role: c.action for c in plan.certs}["ca"] == "create"
    text = render_plan(plan)
    assert "starting fresh because new certificates were asked for (--no-reuse)" in text


def _socket_only(plan: Plan, monkeypatch: pytest.MonkeyPatch) -> Plan:
    """The stand-in daemon answers on the socket only: health is checked there, and the TCP
    listener the plan adds is not held against the socket-only endpoints (the real-dockerd proof
    of the whole path is tests/e2e/test_material_reuse_e2e.py)."""
    from dockwiz.apply import transaction

    monkeypatch.setattr(transaction, "forbidden_after_write", lambda host, plan: [])
    sock = [Endpoint(url=f"unix://{SOCK}", security="socket")]
    return plan.model_copy(update={"endpoints_before": sock, "endpoints_after": sock})


def _cert(host: Host, path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(host.path(path).read_bytes())


def test_apply_moves_the_key_signs_with_the_old_ca_and_rollback_restores(
    seed004_root: Host, recipe: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    host = seed004_root
    daemon = StandInDaemon(host)
    assert daemon.start().ok
    try:
        before = _snapshot(host)
        old_key = host.path(f"{CERTS}/ca-key.pem").read_bytes()
        plan = _socket_only(plan_for(host.root, _intent()), monkeypatch)
        result = ap.apply_plan(host, plan, manager=daemon)
        assert result.ok, "\n".join(f"{s.name} {s.status} {s.detail}" for s in result.steps)
        names = [s.name for s in result.steps]
        assert names.index("existing certificates") < names.index("certificates")
        # the key left the daemon's directory, with the right modes
        assert not host.path(f"{CERTS}/ca-key.pem").exists()
        moved = host.path("/etc/dockwiz/ca/ca-key.pem")
        assert moved.read_bytes() == old_key
        assert stat.S_IMODE(moved.stat().st_mode) == 0o400
        assert stat.S_IMODE(moved.parent.stat().st_mode) == 0o700
        # the new server and client certificates are signed by the OLD CA
        old_ca = x509.load_pem_x509_certificate((recipe / "ca.pem").read_bytes())
        for path in ("/etc/docker/tls/server-cert.pem",
                     "/etc/dockwiz/clients/dockwiz-client/cert.pem"):
            assert verify_issued_by(_cert(host, path), old_ca) is None, path
        assert host.path("/etc/docker/tls/ca.pem").read_bytes() == (recipe / "ca.pem").read_bytes()
        # the tutorial's client (signed by the old CA) is still trusted by the daemon's tlscacert
        client = x509.load_pem_x509_certificate((recipe / "client-cert.pem").read_bytes())
        assert verify_issued_by(client, _cert(host, "/etc/docker/tls/ca.pem")) is None
        # planning again: dockwiz's own CA now; nothing found is moved a second time
        again = plan_for(host.root, _intent())
        assert again.material_moves == [] and again.material_action is None
        assert {c.role: c.action for c in again.certs}["ca"] == "reuse"
        # rollback: the key back where it was, byte for byte; what was added is gone
        undone = ap.rollback_last(host, manager=daemon)
        assert undone.ok and undone.recovery_ok, undone
        assert host.path(f"{CERTS}/ca-key.pem").read_bytes() == old_key
        assert _snapshot(host) == before
    finally:
        daemon._stop()


def test_a_failure_after_the_moves_puts_the_key_back(
    seed004_root: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moves are inside the transaction: a certificate step that fails after them undoes
    them with everything else (the key back in /etc/docker/certs, dockwiz's CA dir gone)."""
    from dockwiz.apply import transaction

    host = seed004_root
    daemon = StandInDaemon(host)
    assert daemon.start().ok
    try:
        before = _snapshot(host)
        plan = _socket_only(plan_for(host.root, _intent()), monkeypatch)

        def broken(host: Host, plan: Plan) -> str | None:
            assert host.path("/etc/dockwiz/ca/ca-key.pem").exists()  # the move happened
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(transaction, "issue_certificates", broken)
        result = ap.apply_plan(host, plan, manager=daemon)
        assert not result.ok and result.recovery_ok, result
        assert _snapshot(host) == before
        assert not host.path("/etc/dockwiz/ca").exists()
    finally:
        daemon._stop()
