"""verify against real dockerd labs: every probe talks to the daemon for real (no mocks).

mtls passes; tls-no-verify passes as tls but says clients are not authenticated; insecure-tcp
and tlsverify-no-ca fail with the right explanations; a server certificate without the lab's IP
SAN fails with the SAN explanation, from our TLS client and from the docker CLI alike.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dockwiz import pki
from dockwiz.models.results import VerifyReport
from dockwiz.verify import verify_host

pytestmark = pytest.mark.e2e


def _ids(report: VerifyReport) -> set[str]:
    return {p.failure_id for p in report.failed if p.failure_id}


def _probe(report: VerifyReport, pid: str, target_has: str = "") -> list:  # type: ignore[type-arg]
    return [p for p in report.probes if p.id == pid and target_has in p.target]


def test_mtls_lab_passes_through_the_cli(lab_factory) -> None:  # type: ignore[no-untyped-def]
    lab = lab_factory("mtls")
    out = subprocess.run(
        [sys.executable, "-m", "dockwiz", "verify", "--lab", str(lab.dir), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    report = VerifyReport.model_validate_json(out.stdout)
    assert report.passed and report.mode == "mtls"
    address = lab.info.address
    on_lab = {p.id: p for p in report.probes if address in p.target}
    assert on_lab["tls-ping"].outcome == "succeeded"
    assert on_lab["docker-cli"].outcome == "succeeded"
    assert on_lab["docker-cli-env"].outcome == "succeeded"
    assert "Docker Engine" in on_lab["docker-cli"].saw
    for attack in ("no-client-cert", "rogue-client-cert", "expired-client-cert", "plain-http"):
        assert on_lab[attack].outcome == "failed", attack
    assert "bad certificate" in on_lab["no-client-cert"].saw
    closed = [p for p in report.probes if p.id == "plain-closed"]
    assert {p.target for p in closed} >= {f"tcp://{address}:2375", "tcp://127.0.0.1:2375"}
    assert report.handoff is not None and address in report.handoff.endpoint


def test_tls_no_verify_passes_as_tls_but_says_anyone_gets_in(lab_factory) -> None:  # type: ignore[no-untyped-def]
    lab = lab_factory("tls-no-verify")
    report = verify_host(lab.host())
    assert report.passed, [p.model_dump() for p in report.failed]
    assert report.mode == "tls"
    anyone = _probe(report, "no-client-cert", lab.info.address)[0]
    assert anyone.outcome == "succeeded" and anyone.expect == "succeed"
    assert "NOT authenticated" in report.summary
    assert any("does not authenticate clients" in w for w in report.warnings)
    strict = verify_host(lab.host(), expected_mode="mtls", use_docker_cli=False)
    assert not strict.passed and "no-client-auth" in _ids(strict)


def test_insecure_tcp_fails_as_plain_tcp(lab_factory) -> None:  # type: ignore[no-untyped-def]
    lab = lab_factory("insecure-tcp")
    report = verify_host(lab.host())
    assert not report.passed and report.detected_mode == "tcp"
    plain = _probe(report, "plain-http", lab.info.address)[0]
    assert plain.outcome == "succeeded" and plain.failure_id == "plain-tcp"
    assert "anyone who can reach it is root" in (plain.cause or "")
    assert "--mode mtls" in (plain.fix or "")
    # judged against the mode the admin wants, the same daemon fails with the mtls reasons
    strict = verify_host(lab.host(), expected_mode="mtls", use_docker_cli=False)
    assert {"plain-tcp", "mode-mismatch"} <= _ids(strict)


def test_tlsverify_without_ca_is_explained(lab_factory) -> None:  # type: ignore[no-untyped-def]
    lab = lab_factory("tlsverify-no-ca")
    report = verify_host(lab.host())
    assert not report.passed
    ids = _ids(report)
    assert "tlsverify-no-ca" in ids
    config = _probe(report, "tls-config")[0]
    assert "tlscacert" in (config.cause or "") and "tlscacert" in (config.fix or "")
    # seed 003's self-signed certificate names the host only in its CN
    assert "legacy-cn" in ids
    # and the daemon still refuses a certificate-less client (it does demand a cert)
    assert _probe(report, "no-client-cert", lab.info.address)[0].outcome == "failed"


def test_server_cert_without_ip_san_fails_with_the_san_explanation(lab_factory) -> None:  # type: ignore[no-untyped-def]
    lab = lab_factory("mtls")
    host = lab.host()
    ca = pki.load_ca(host)
    pki.write_server_material(host, ca, pki.issue_server(ca, ["localhost"], []), overwrite=True)
    restarted = host.services.restart()
    assert restarted.ok, restarted.stderr
    report = verify_host(host)
    assert not report.passed
    address = lab.info.address
    for pid in ("tls-ping", "server-cert", "docker-cli", "docker-cli-env"):
        probe = _probe(report, pid, address)[0]
        assert probe.failure_id == "missing-ip-san", (pid, probe.saw)
        assert address in (probe.cause or "")
    cli = _probe(report, "docker-cli", address)[0]
    assert "doesn't contain any IP SANs" in cli.saw
    assert f"--san {address}" in (_probe(report, "server-cert", address)[0].fix or "")
    # the attacks are judged by the daemon, not by the names: still refused
    assert _probe(report, "rogue-client-cert", address)[0].outcome == "failed"


def test_fd_socket_passes_as_unix_and_fails_as_mtls(lab_factory) -> None:  # type: ignore[no-untyped-def]
    lab = lab_factory("fd-socket")
    report = verify_host(lab.host())
    assert report.passed and report.mode == "unix"
    assert _probe(report, "tcp-listeners")[0].saw == "no TCP listener"
    assert _probe(report, "socket-perms")[0].passed
    closed = {p.target for p in report.probes if p.id == "port-closed" and p.passed}
    address = lab.info.address
    assert {f"tcp://{address}:2375", f"tcp://{address}:2376"} <= closed
    out = subprocess.run(
        [sys.executable, "-m", "dockwiz", "verify", "--lab", str(lab.dir), "--mode", "mtls",
         "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert out.returncode == 1
    assert not json.loads(out.stdout)["passed"]


def test_unix_mode_fix_names_the_source_and_doing_it_secures(lab_factory) -> None:  # type: ignore[no-untyped-def]
    """Issue 12 §1: verify never points at a command that does not fix what it found. On a real
    daemon serving plain TCP from daemon.json, every probe that finds the listener names that
    file and entry; doing exactly what the fix says, then restarting, leaves no TCP listener."""
    lab = lab_factory("insecure-tcp")
    host = lab.host()
    report = verify_host(host, expected_mode="unix", use_docker_cli=False)
    found = [p for p in report.failed if p.failure_id in ("tcp-listener-left", "mode-mismatch")]
    assert {p.id for p in found} >= {"mode", "tcp-listeners", "port-closed"}, found
    for probe in found:
        assert '"hosts" in /etc/docker/daemon.json (tcp://0.0.0.0:2375)' in (probe.cause or "")
        assert 'remove "tcp://0.0.0.0:2375" from "hosts" in /etc/docker/daemon.json' in (
            probe.fix or "")
    daemon_json = host.path("/etc/docker/daemon.json")
    data = json.loads(daemon_json.read_text())
    data["hosts"].remove("tcp://0.0.0.0:2375")
    daemon_json.write_text(json.dumps(data))
    restarted = host.services.restart()
    assert restarted.ok, restarted.stderr
    after = verify_host(host, expected_mode="unix", use_docker_cli=False)
    assert after.passed, [p.model_dump() for p in after.failed]
    assert _probe(after, "tcp-listeners")[0].saw == "no TCP listener"
