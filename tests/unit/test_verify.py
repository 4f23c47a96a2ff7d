"""verify_host on a sandbox root whose "daemon" is a real Python TLS server on 127.0.0.1.

dockerd itself is exercised in tests/e2e/test_verify_e2e.py; here the daemon's TLS behaviour is
reproduced by an ``ssl`` server with the certificates each case needs, so every verdict and
explanation is checked quickly and deterministically: mutual TLS passes, TLS-only passes as tls
with the warning (and fails when mtls is expected), a server cert without the IP SAN or with only
a CN is explained as such, plain TCP and a former plain listener fail, and env.sh mistakes are
named (DOMAIN §7).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from verify_helpers import (
    Pki,
    api_handler,
    good_server_cert,
    make_pki,
    raw_leaf,
    serving,
    tls_server,
)

from dockwiz import pki
from dockwiz.cli import main
from dockwiz.dockerapi import ClientFiles, ping_endpoint
from dockwiz.host import Host
from dockwiz.models.results import VerifyReport
from dockwiz.pki import cert_facts
from dockwiz.verify import (
    FAILURE_OF_KIND,
    FAILURES,
    explain_name_mismatch,
    failure_for,
    verify_host,
)


@pytest.fixture(scope="module")
def p(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@dataclass
class Sandbox:
    host: Host
    port: int

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"


def _layout(root: Path, p: Pki, daemon_json: dict[str, object]) -> Host:
    host = Host(root)
    (root / "etc/docker").mkdir(parents=True, exist_ok=True)
    (root / "etc/docker/daemon.json").write_text(json.dumps(daemon_json))
    (root / "var/run").mkdir(parents=True, exist_ok=True)
    pki.write_ca(host, p.ca)
    return host


@contextlib.contextmanager
def sandbox(
    tmp_path: Path,
    p: Pki,
    server: pki.Issued | None,
    *,
    verify_clients: bool = True,
    tls_json: dict[str, object] | None = None,
    bundle: bool = True,
) -> Iterator[Sandbox]:
    """A root with daemon.json, the daemon's TLS files, the CA, a client bundle and a unix
    socket, and the "daemon": a TLS server (``server`` cert) or a plain API (``server=None``)."""
    root = tmp_path / "root"
    server_ctx = (tls_server(p, server, verify_clients=verify_clients) if server is not None
                  else serving(api_handler))
    with server_ctx as srv, serving(api_handler, unix_path=root_sock(root)) as _:
        os.chmod(root_sock(root), 0o660)
        if tls_json is None:
            tls_json = ({"tlsverify": True, "tlscacert": "/etc/docker/tls/ca.pem",
                         "tlscert": "/etc/docker/tls/server-cert.pem",
                         "tlskey": "/etc/docker/tls/server-key.pem"}
                        if server is not None else {})
        host = _layout(root, p, {
            "hosts": ["unix:///var/run/docker.sock", f"tcp://127.0.0.1:{srv.port}"], **tls_json,
        })
        if server is not None:
            pki.write_server_material(host, p.ca, server)
        if bundle:
            client = pki.issue_client(p.ca, "tester")
            pki.write_client_bundle(host, p.ca, client, "dockwiz-client",
                                    f"tcp://127.0.0.1:{srv.port}")
        yield Sandbox(host, srv.port)


def root_sock(root: Path) -> Path:
    (root / "var/run").mkdir(parents=True, exist_ok=True)
    return root / "var/run/docker.sock"


def _by_id(report: VerifyReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for probe in report.probes:
        out.setdefault(probe.id, []).append(probe.outcome)
    return out


def _failure_ids(report: VerifyReport) -> set[str]:
    return {p.failure_id for p in report.failed if p.failure_id}


# -- verdicts ----------------------------------------------------------------------------------
def test_mtls_passes_and_every_attack_is_refused(tmp_path: Path, p: Pki) -> None:
    with sandbox(tmp_path, p, good_server_cert(p)) as sb:
        report = verify_host(sb.host, use_docker_cli=False)
    assert report.passed, [p.model_dump() for p in report.failed]
    assert report.mode == report.detected_mode == "mtls"
    outcomes = _by_id(report)
    assert outcomes["unix-ping"] == ["succeeded"] and outcomes["unix-version"] == ["succeeded"]
    assert outcomes["tls-ping"] == ["succeeded"] and outcomes["server-cert"] == ["succeeded"]
    for attack in ("no-client-cert", "rogue-client-cert", "expired-client-cert", "plain-http"):
        assert outcomes[attack] == ["failed"], attack
    assert outcomes["plain-closed"] == ["failed"]  # 127.0.0.1:2375
    assert report.handoff is not None
    assert "DOCKER_TLS_VERIFY=1" in report.handoff.env_sh
    assert report.handoff.context_create.startswith("docker context create dockwiz-client")
    assert report.summary.startswith("SECURED (mtls)")


def test_expired_probe_is_skipped_without_the_ca_key(tmp_path: Path, p: Pki) -> None:
    with sandbox(tmp_path, p, good_server_cert(p)) as sb:
        (sb.host.path(f"{pki.CA_DIR}/ca-key.pem")).unlink()
        report = verify_host(sb.host, use_docker_cli=False)
    expired = next(x for x in report.probes if x.id == "expired-client-cert")
    assert expired.outcome == "skipped" and "CA key" in expired.saw
    assert report.passed


def test_tls_only_passes_as_tls_and_says_clients_are_not_authenticated(
    tmp_path: Path, p: Pki
) -> None:
    tls_json = {"tls": True, "tlsverify": False, "tlscert": "/etc/docker/tls/server-cert.pem",
                "tlskey": "/etc/docker/tls/server-key.pem"}
    with sandbox(tmp_path, p, good_server_cert(p), verify_clients=False,
                 tls_json=tls_json) as sb:
        report = verify_host(sb.host, use_docker_cli=False)
        strict = verify_host(sb.host, use_docker_cli=False, expected_mode="mtls")
    assert report.passed and report.mode == "tls"
    anyone = next(x for x in report.probes if x.id == "no-client-cert")
    assert anyone.expect == "succeed" and anyone.outcome == "succeeded"
    assert anyone.warning and "anyone" in anyone.warning
    assert any("not authenticate" in w for w in report.warnings)
    assert "NOT authenticated" in report.summary
    # the same daemon judged against mtls: the missing client auth is the failure
    assert not strict.passed
    assert {"no-client-auth", "mode-mismatch"} <= _failure_ids(strict)


def test_server_cert_without_ip_san_is_explained(tmp_path: Path, p: Pki) -> None:
    no_ip = pki.issue_server(p.ca, ["localhost"], [])
    with sandbox(tmp_path, p, no_ip) as sb:
        report = verify_host(sb.host, use_docker_cli=False)
    assert not report.passed
    failed = {x.id: x for x in report.failed}
    assert failed["tls-ping"].failure_id == "missing-ip-san"
    assert failed["server-cert"].failure_id == "missing-ip-san"
    assert "127.0.0.1" in (failed["server-cert"].cause or "")
    assert "--san 127.0.0.1" in (failed["server-cert"].fix or "")
    # the attacks still ran: they do not depend on the server cert's names
    assert next(x for x in report.probes if x.id == "no-client-cert").outcome == "failed"


def test_cn_only_server_cert_is_legacy_cn(tmp_path: Path, p: Pki) -> None:
    cn_only = raw_leaf(p.ca, "127.0.0.1", server=True)
    with sandbox(tmp_path, p, cn_only) as sb:
        report = verify_host(sb.host, use_docker_cli=False)
    assert "legacy-cn" in _failure_ids(report)


def test_wrong_ca_in_bundle(tmp_path: Path, p: Pki) -> None:
    with sandbox(tmp_path, p, good_server_cert(p)) as sb:
        other = tmp_path / "other-bundle"
        other.mkdir()
        (other / "ca.pem").write_bytes(p.rogue_ca.cert_pem())
        client = pki.issue_client(p.rogue_ca, "x")
        (other / "cert.pem").write_bytes(client.cert_pem())
        (other / "key.pem").write_bytes(client.key_pem())
        report = verify_host(sb.host, use_docker_cli=False, bundle_dir=other)
    assert "wrong-ca" in _failure_ids(report)


def test_missing_bundle_is_one_clear_failure(tmp_path: Path, p: Pki) -> None:
    with sandbox(tmp_path, p, good_server_cert(p), bundle=False) as sb:
        report = verify_host(sb.host, use_docker_cli=False)
    failed = [x.id for x in report.failed]
    assert "client-bundle" in failed and "tls-ping" not in failed
    assert next(x for x in report.failed if x.id == "client-bundle").failure_id == (
        "bundle-missing")


def test_plain_tcp_fails_with_plain_tcp(tmp_path: Path, p: Pki) -> None:
    with sandbox(tmp_path, p, None, bundle=False) as sb:
        report = verify_host(sb.host, use_docker_cli=False)
    assert report.detected_mode == "tcp" and not report.passed
    plain = next(x for x in report.probes if x.id == "plain-http")
    assert plain.outcome == "succeeded" and plain.failure_id == "plain-tcp"
    assert "root on this host" in (plain.cause or "")


def test_former_plain_listener_must_be_shut(tmp_path: Path, p: Pki) -> None:
    with sandbox(tmp_path, p, good_server_cert(p)) as sb, serving(api_handler) as old:
        url = f"tcp://127.0.0.1:{old.port}"
        report = verify_host(sb.host, use_docker_cli=False, former_endpoints=[url])
    former = [x for x in report.probes if x.target == url]
    assert former and former[0].outcome == "succeeded" and not former[0].passed
    assert former[0].failure_id == "plain-tcp"
    assert not report.passed


def test_unix_mode_with_a_tcp_listener_fails(tmp_path: Path, p: Pki) -> None:
    with sandbox(tmp_path, p, None, bundle=False) as sb:
        report = verify_host(sb.host, use_docker_cli=False, expected_mode="unix")
    assert "tcp-listener-left" in _failure_ids(report)


def test_unix_mode_refuses_even_a_tls_listener(tmp_path: Path, p: Pki) -> None:
    """unix-only means no TCP at all: a TLS port that turns plain HTTP away still fails."""
    with sandbox(tmp_path, p, good_server_cert(p)) as sb:
        report = verify_host(sb.host, use_docker_cli=False, expected_mode="unix")
    left = [x for x in report.failed if x.id == "port-closed"]
    assert [x.target for x in left] == [sb.endpoint]
    assert left[0].failure_id == "tcp-listener-left"
    closed = [x for x in report.probes if x.id == "port-closed" and x.passed]
    assert {x.target for x in closed} == {"tcp://127.0.0.1:2375", "tcp://127.0.0.1:2376"}


@pytest.mark.parametrize(
    ("line", "failure_id"),
    [("export DOCKER_TLS_VERIFY=0", "tls-verify-env-misuse"), ("", "plain-http-to-tls")],
)
def test_env_sh_mistakes(tmp_path: Path, p: Pki, line: str, failure_id: str) -> None:
    with sandbox(tmp_path, p, good_server_cert(p)) as sb:
        env = sb.host.path(f"{pki.CLIENTS_DIR}/dockwiz-client/env.sh")
        env.chmod(0o644)
        env.write_text(f"export DOCKER_HOST={sb.endpoint}\n{line}\n")
        report = verify_host(sb.host, use_docker_cli=False)
    env_probe = next(x for x in report.probes if x.id == "env-sh")
    assert not env_probe.passed and env_probe.failure_id == failure_id


def test_socket_mode_too_open_fails_cis(tmp_path: Path, p: Pki) -> None:
    with sandbox(tmp_path, p, good_server_cert(p)) as sb:
        os.chmod(root_sock(sb.host.root), 0o666)
        report = verify_host(sb.host, use_docker_cli=False)
    perms = next(x for x in report.probes if x.id == "socket-perms")
    assert not perms.passed and perms.cis == "3.15/3.16" and "0666" in perms.saw


def test_every_failure_id_is_documented(tmp_path: Path, p: Pki) -> None:
    with sandbox(tmp_path, p, pki.issue_server(p.ca, ["localhost"], []),
                 verify_clients=False) as sb:
        report = verify_host(sb.host, use_docker_cli=False, expected_mode="mtls")
    assert _failure_ids(report) and _failure_ids(report) <= set(FAILURES)


# -- explanations ------------------------------------------------------------------------------
def test_ping_outcomes_map_to_domain_failures(tmp_path: Path, p: Pki) -> None:
    """What the apply health wait sees, named after DOMAIN §7 (real servers, no mocks)."""
    host = Host(tmp_path)
    bundle = ClientFiles.from_dir(p.bundle("map-bundle"))
    with tls_server(p, good_server_cert(p), verify_clients=True) as mtls:
        url = f"tcp://127.0.0.1:{mtls.port}"
        assert failure_for(ping_endpoint(host, url, bundle)) is None
        assert failure_for(ping_endpoint(host, url, None)) == "plain-http-to-tls"
        assert failure_for(ping_endpoint(host, url, ClientFiles(ca=bundle.ca))) == (
            "bad-certificate")
        rogue = ClientFiles(ca=p.rogue_ca_file)
        assert failure_for(ping_endpoint(host, url, rogue)) == "wrong-ca"
    with tls_server(p, pki.issue_server(p.ca, ["localhost"], []), verify_clients=False) as tls:
        assert failure_for(ping_endpoint(host, f"tcp://127.0.0.1:{tls.port}", bundle)) == (
            "missing-ip-san")
    with serving(api_handler) as plain:
        assert failure_for(ping_endpoint(host, f"tcp://127.0.0.1:{plain.port}", bundle)) == (
            "plain-tcp")
    assert set(FAILURE_OF_KIND.values()) <= set(FAILURES)


def test_explain_name_mismatch_distinguishes_san_and_cn(p: Pki) -> None:
    no_ip = pki.issue_server(p.ca, ["localhost"], [])
    cn_only = raw_leaf(p.ca, "docker-host", server=True)
    der = __import__("cryptography.hazmat.primitives.serialization",
                     fromlist=["Encoding"]).Encoding.DER
    assert explain_name_mismatch("10.0.0.5", cert_facts(no_ip.cert.public_bytes(der))
                                 ).failure_id == "missing-ip-san"
    assert explain_name_mismatch("10.0.0.5", cert_facts(cn_only.cert.public_bytes(der))
                                 ).failure_id == "legacy-cn"
    assert explain_name_mismatch("other.example", cert_facts(no_ip.cert.public_bytes(der))
                                 ).failure_id == "name-not-in-san"


# -- the command -------------------------------------------------------------------------------
def test_cli_exit_status_and_json(tmp_path: Path, p: Pki, capsys: pytest.CaptureFixture[str]
                                  ) -> None:
    with sandbox(tmp_path, p, good_server_cert(p)) as sb:
        ok = main(["verify", "--root", str(sb.host.root), "--no-docker-cli", "--json"])
        data = json.loads(capsys.readouterr().out)
        bad = main(["verify", "--root", str(sb.host.root), "--no-docker-cli", "--no-color",
                    "--endpoint", "unix:///var/run/docker.sock", "--mode", "tls"])
        text = capsys.readouterr().out
    assert ok == 0 and data["passed"] is True and data["mode"] == "mtls"
    assert bad == 1
    assert "mode-mismatch" in text and "NOT SECURED" in text


def test_cli_rejects_a_bad_endpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["verify", "--root", str(tmp_path), "--endpoint", "ssh://x"])
    assert status == 2
    assert "unix:///PATH or tcp://HOST:PORT" in capsys.readouterr().err
