"""Issue 14 §2 end to end: the tutorial's CA is kept, so its clients keep working after mTLS.

seed 004 step 2 as the `tls-no-verify` lab lays it out: the CA, its key and the daemon's pair in
/etc/docker/certs. A client certificate is issued from the FOUND CA key before the apply (the
lab pre-provides none), as the tutorial's admin did. The mTLS plan keeps the CA and moves its
key to /etc/dockwiz/ca; after the apply the real dockerd demands client certificates, and the
docker CLI (Go) with that old client certificate connects. A rollback puts the key back.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from dockwiz import apply as ap
from dockwiz import pki
from dockwiz.diffs import render_plan
from dockwiz.host import Host
from dockwiz.models.intent import Intent, Mode
from dockwiz.plan import plan_for_host

pytestmark = pytest.mark.e2e

CERTS = "/etc/docker/certs"


def _docker_version(host: Host, address: str, tls: list[str]) -> Any:
    return host.run(["docker", *tls, "-H", f"tcp://{address}:2376", "version", "--format",
                     "{{.Server.Version}}"], in_netns=True, timeout=30)


def test_mtls_keeps_the_found_ca_and_its_clients_keep_working(
    lab_factory: Any, tmp_path: Path
) -> None:
    lab = lab_factory("tls-no-verify")
    host = lab.host()
    address = lab.info.address
    old_key = host.path(f"{CERTS}/ca-key.pem").read_bytes()
    # the tutorial's client, signed by the CA found on the host, made before the apply
    found_ca = pki.load_ca(host, ca_dir=CERTS)
    client = pki.issue_client(found_ca, "tutorial-client")
    (tmp_path / "ca.pem").write_bytes(host.path(f"{CERTS}/ca.pem").read_bytes())
    (tmp_path / "cert.pem").write_bytes(client.cert_pem())
    (tmp_path / "key.pem").write_bytes(client.key_pem())
    (tmp_path / "key.pem").chmod(0o600)
    old_client = ["--tlsverify", f"--tlscacert={tmp_path / 'ca.pem'}",
                  f"--tlscert={tmp_path / 'cert.pem'}", f"--tlskey={tmp_path / 'key.pem'}"]

    _, plan = plan_for_host(host, Intent(mode=Mode.MTLS, listen_host=address))
    assert plan.material_action in ("reuse", "reuse-ca"), plan.material_reason
    preview = render_plan(plan)
    assert "keeping the existing CA" in preview
    assert f"moving {CERTS}/ca-key.pem -> /etc/dockwiz/ca/ca-key.pem (0400, dir 0700)" in preview

    result = ap.apply_plan(host, plan)
    assert result.ok, result.model_dump_json(indent=2)
    assert not host.path(f"{CERTS}/ca-key.pem").exists()
    moved = host.path("/etc/dockwiz/ca/ca-key.pem")
    assert moved.read_bytes() == old_key and stat.S_IMODE(moved.stat().st_mode) == 0o400
    # the daemon now demands a client certificate: none is refused, the OLD client connects
    anonymous = _docker_version(host, address,
                                ["--tlsverify", f"--tlscacert={tmp_path / 'ca.pem'}"])
    assert not anonymous.ok
    old = _docker_version(host, address, old_client)
    assert old.ok and old.stdout.strip(), old.stderr
    # and the new bundle, signed by the same CA, connects too
    assert result.client_bundle is not None
    bundle = host.path(result.client_bundle)
    new = _docker_version(host, address, ["--tlsverify", f"--tlscacert={bundle / 'ca.pem'}",
                                          f"--tlscert={bundle / 'cert.pem'}",
                                          f"--tlskey={bundle / 'key.pem'}"])
    assert new.ok, new.stderr

    rb = ap.rollback_last(host)
    assert rb.ok and rb.recovery_ok, rb.model_dump_json(indent=2)
    assert host.path(f"{CERTS}/ca-key.pem").read_bytes() == old_key
    assert not host.path("/etc/dockwiz/ca").exists()
