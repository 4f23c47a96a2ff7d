"""Existing certificates, as the tutorials leave them (issue 14 §2).

The main fixture is a --root tree laid out like seed 004's lab: the material made with Docker's
own openssl recipe (the real openssl binary, as the tutorial ran it), pre-provided in
/etc/docker/certs with ``ca-key.pem`` beside the daemon's pair, server SANs ``IP:127.0.0.1,
IP:0.0.0.0, DNS:localhost``, daemon.json not pointing at any of it, and root's client bundle in
/root/.docker. Discovery must name every file, the findings must fire, and the plan's choice must
keep the CA (moving its key out of /etc/docker) and issue a new server certificate.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from dockwiz import pki
from dockwiz.host import Host
from dockwiz.lab.scenarios import SEED_004_DAEMON_JSON
from dockwiz.models.host_state import FoundMaterial, HostState
from dockwiz.pki.discover import (
    MAX_FILES_PER_DIR,
    describe,
    discover_material,
    findings_for_material,
    material_choice,
)

OPENSSL = shutil.which("openssl")
CERTS = "/etc/docker/certs"


def _openssl(cwd: Path, *args: str) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Docker's protect-access recipe, as seed 004's lab ran it (RSA 2048 to keep it quick)."""
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("recipe")
    _openssl(d, "genrsa", "-out", "ca-key.pem", "2048")
    _openssl(d, "req", "-new", "-x509", "-days", "365", "-key", "ca-key.pem", "-sha256",
             "-out", "ca.pem", "-subj", "/CN=docker-CA")
    _openssl(d, "genrsa", "-out", "key.pem", "2048")
    _openssl(d, "req", "-subj", "/CN=localhost", "-sha256", "-new", "-key", "key.pem",
             "-out", "server.csr")
    (d / "extfile.cnf").write_text(
        "subjectAltName = IP:127.0.0.1,IP:0.0.0.0,DNS:localhost\nextendedKeyUsage = serverAuth\n"
    )
    _openssl(d, "x509", "-req", "-days", "365", "-sha256", "-in", "server.csr", "-CA", "ca.pem",
             "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", "cert.pem",
             "-extfile", "extfile.cnf")
    _openssl(d, "genrsa", "-out", "client-key.pem", "2048")
    _openssl(d, "req", "-subj", "/CN=docker-client", "-new", "-key", "client-key.pem",
             "-out", "client.csr")
    (d / "client-ext.cnf").write_text("extendedKeyUsage = clientAuth\n")
    _openssl(d, "x509", "-req", "-days", "365", "-sha256", "-in", "client.csr", "-CA", "ca.pem",
             "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", "client-cert.pem",
             "-extfile", "client-ext.cnf")
    return d


def _put(host: Host, host_path: str, data: bytes, mode: int) -> None:
    local = host.path(host_path)
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(data)
    os.chmod(local, mode)


@pytest.fixture
def seed004(tmp_path: Path, recipe: Path) -> Host:
    host = Host(tmp_path / "root")
    _put(host, "/etc/docker/daemon.json", SEED_004_DAEMON_JSON.encode(), 0o644)
    for name, mode in (("ca-key.pem", 0o600), ("ca.pem", 0o644), ("cert.pem", 0o644),
                       ("key.pem", 0o600)):
        _put(host, f"{CERTS}/{name}", (recipe / name).read_bytes(), mode)
    # the tutorial's client, in root's DOCKER_CERT_PATH under the names the docker CLI wants
    for src, dst in (("ca.pem", "ca.pem"), ("client-cert.pem", "cert.pem"),
                     ("client-key.pem", "key.pem")):
        _put(host, f"/root/.docker/{dst}", (recipe / src).read_bytes(), 0o600)
    return host


def _by_path(found: list[FoundMaterial]) -> dict[str, FoundMaterial]:
    return {f.path: f for f in found}


# -- discovery -------------------------------------------------------------------------------------
def test_seed004_every_file_is_found_and_said_what_it_is(seed004: Host) -> None:
    found = _by_path(discover_material(seed004))
    assert set(found) == {
        f"{CERTS}/ca-key.pem", f"{CERTS}/ca.pem", f"{CERTS}/cert.pem", f"{CERTS}/key.pem",
        "/root/.docker/ca.pem", "/root/.docker/cert.pem", "/root/.docker/key.pem",
    }
    ca, ca_key = found[f"{CERTS}/ca.pem"], found[f"{CERTS}/ca-key.pem"]
    assert ca.kind == "ca" and ca.signed_by == ca.path  # self-signed root
    assert ca.key_path == ca_key.path and ca.cert is not None and ca.cert.key_matches
    assert ca_key.kind == "key" and ca_key.key_of == ca.path and ca_key.key_of_role == "ca"
    assert (ca_key.mode, ca_key.uid) == (0o600, os.getuid())

    server = found[f"{CERTS}/cert.pem"]
    assert server.kind == "server" and server.signed_by == ca.path
    assert server.key_path == f"{CERTS}/key.pem" and server.key_type == "rsa-2048"
    assert server.cert is not None
    assert server.cert.dns_names == ["localhost"]
    assert server.cert.ip_addresses == ["127.0.0.1", "0.0.0.0"]
    assert server.cert.not_after is not None
    assert server.cert.not_after - dt.datetime.now(dt.UTC) > dt.timedelta(days=360)
    assert (server.mode, found[f"{CERTS}/key.pem"].key_of_role) == (0o644, "server")

    client = found["/root/.docker/cert.pem"]
    assert client.kind == "client" and client.key_path == "/root/.docker/key.pem"
    # the client's ca.pem is a copy of the CA; the one holding its key signs
    assert client.signed_by == ca.path
    assert found["/root/.docker/ca.pem"].kind == "ca"


def test_seed004_is_described_line_by_line(seed004: Host) -> None:
    lines = {f.path: describe(f) for f in discover_material(seed004)}
    assert "key of the CA certificate /etc/docker/certs/ca.pem" in lines[f"{CERTS}/ca-key.pem"]
    assert lines[f"{CERTS}/ca.pem"].startswith(f"{CERTS}/ca.pem: CA certificate until ")
    server = lines[f"{CERTS}/cert.pem"]
    assert "server certificate [localhost, 127.0.0.1, 0.0.0.0]" in server
    assert f"signed by {CERTS}/ca.pem" in server and f"key {CERTS}/key.pem" in server


def test_found_material_travels_in_host_state(seed004: Host) -> None:
    found = discover_material(seed004)
    state = HostState.model_validate(
        {"root": str(seed004.root), "is_root": True, "docker_installed": False,
         "daemon_json": {"path": "/etc/docker/daemon.json", "exists": True},
         "found_material": [f.model_dump(mode="json") for f in found]}
    )
    assert state.found_material == found
    assert HostState.model_validate_json(state.model_dump_json()).found_material == found


# -- findings --------------------------------------------------------------------------------------
def test_seed004_findings_fire(seed004: Host) -> None:
    found = discover_material(seed004)
    findings = findings_for_material(found, ["0.0.0.0"])
    ids = [f.id for f in findings]
    assert ids.count("DW-CA-KEY-ON-SERVER") == 1  # /root/.docker holds no CA key
    ca_key = next(f for f in findings if f.id == "DW-CA-KEY-ON-SERVER")
    assert ca_key.severity == "high" and f"{CERTS}/ca-key.pem" in (ca_key.evidence or "")
    assert "/etc/dockwiz/ca" in ca_key.fix
    undialable = next(f for f in findings if f.id == "DW-CERT-UNDIALABLE-SAN")
    assert "0.0.0.0" in undialable.why and f"{CERTS}/cert.pem" in undialable.title
    not_listen = next(f for f in findings if f.id == "DW-CERT-NOT-LISTEN")
    assert not_listen.severity == "high" and "remote clients" in not_listen.why
    summary = next(f for f in findings if f.id == "DW-MATERIAL-FOUND")
    assert summary.severity == "info" and "7 certificate/key file(s)" in summary.title
    for finding in findings:
        assert finding.why and finding.fix


def test_configured_certs_are_left_to_check_certs(seed004: Host) -> None:
    """Once daemon.json names cert.pem (seed 004 step 2), check_certs judges its SANs."""
    found = discover_material(seed004)
    ids = [f.id for f in findings_for_material(found, ["0.0.0.0"], [f"{CERTS}/cert.pem"])]
    assert "DW-CERT-NOT-LISTEN" not in ids and "DW-CERT-UNDIALABLE-SAN" not in ids
    assert "DW-CA-KEY-ON-SERVER" in ids


def test_listen_coverage_is_per_address(seed004: Host) -> None:
    found = discover_material(seed004)
    ids = [f.id for f in findings_for_material(found, ["127.0.0.1"])]
    assert "DW-CERT-NOT-LISTEN" not in ids  # 127.0.0.1 is a SAN
    specific = findings_for_material(found, ["10.0.0.5", "10.0.0.5"])
    misses = [f for f in specific if f.id == "DW-CERT-NOT-LISTEN"]
    assert len(misses) == 1 and "no IP SAN for 10.0.0.5" in misses[0].why


def test_a_ca_key_kept_by_dockwiz_is_no_finding(tmp_path: Path, recipe: Path) -> None:
    host = Host(tmp_path / "root")
    _put(host, "/root/docker-certs/ca-key.pem", (recipe / "ca-key.pem").read_bytes(), 0o400)
    _put(host, "/root/docker-certs/ca.pem", (recipe / "ca.pem").read_bytes(), 0o444)
    found = discover_material(host)
    assert {f.kind for f in found} == {"ca", "key"}
    assert "DW-CA-KEY-ON-SERVER" not in [f.id for f in findings_for_material(found, [])]


def test_an_orphan_ca_key_in_etc_docker_is_flagged_by_its_name(
    tmp_path: Path, recipe: Path
) -> None:
    host = Host(tmp_path / "root")
    _put(host, "/etc/docker/ca-key.pem", (recipe / "ca-key.pem").read_bytes(), 0o600)
    (found,) = discover_material(host)
    assert found.kind == "key" and found.key_of is None and found.note
    assert [f.id for f in findings_for_material([found])] == [
        "DW-MATERIAL-FOUND", "DW-CA-KEY-ON-SERVER"
    ]


# -- the plan's choice -----------------------------------------------------------------------------
def test_seed004_choice_keeps_the_ca_and_issues_a_new_server_cert(seed004: Host) -> None:
    choice = material_choice(discover_material(seed004), "0.0.0.0")
    assert choice.action == "reuse-ca" and choice.keeps_ca
    assert (choice.ca_cert, choice.ca_key) == (f"{CERTS}/ca.pem", f"{CERTS}/ca-key.pem")
    assert "keep the CA" in choice.reason and "existing clients keep working" in choice.reason
    assert "0.0.0.0" in choice.reason  # why the server certificate is not kept
    key_move = next(m for m in choice.moves if m.source == f"{CERTS}/ca-key.pem")
    assert key_move.destination == "/etc/dockwiz/ca/ca-key.pem"
    assert (key_move.mode, key_move.dir_mode, key_move.keep_source) == (0o400, 0o700, False)
    dests = {m.destination: m for m in choice.moves}
    assert dests["/etc/dockwiz/ca/ca.pem"].mode == 0o444
    assert dests["/etc/docker/tls/ca.pem"].keep_source  # the daemon's tlscacert: a copy
    assert "/etc/docker/tls/server-cert.pem" not in dests  # a new one will be issued


def _chain(sans_ip: list[str]) -> tuple[pki.Issued, pki.Issued]:
    ca = pki.issue_ca("tutorial CA")
    return ca, pki.issue_server(ca, ["docker.example.com"], sans_ip)


def _lay(host: Host, directory: str, ca: pki.Issued, server: pki.Issued | None) -> None:
    _put(host, f"{directory}/ca.pem", ca.cert_pem(), 0o444)
    _put(host, f"{directory}/ca-key.pem", ca.key_pem(), 0o400)
    if server is not None:
        _put(host, f"{directory}/server-cert.pem", server.cert_pem(), 0o444)
        _put(host, f"{directory}/server-key.pem", server.key_pem(), 0o400)


def test_sound_material_is_reused_with_its_files_moved(tmp_path: Path) -> None:
    host = Host(tmp_path / "root")
    ca, server = _chain(["10.0.0.5"])
    _lay(host, "/etc/docker/pki", ca, server)  # seed 001's place
    found = discover_material(host)
    choice = material_choice(found, "10.0.0.5")
    assert choice.action == "reuse", choice.reason
    assert choice.server_cert == "/etc/docker/pki/server-cert.pem"
    moves = {(m.source, m.destination): m for m in choice.moves}
    assert moves[("/etc/docker/pki/ca-key.pem", "/etc/dockwiz/ca/ca-key.pem")].keep_source is False
    key = moves[("/etc/docker/pki/server-key.pem", "/etc/docker/tls/server-key.pem")]
    assert key.mode == 0o400
    assert "covers 10.0.0.5" in choice.reason
    assert material_choice(found, "10.0.0.6").action == "reuse-ca"
    assert material_choice(found, "docker.example.com").action == "reuse"


def test_material_already_in_place_moves_nothing_onto_itself(tmp_path: Path) -> None:
    host = Host(tmp_path / "root")
    ca, server = _chain(["10.0.0.5"])
    _lay(host, "/etc/docker/tls", ca, server)
    choice = material_choice(discover_material(host), "10.0.0.5")
    assert choice.action == "reuse"
    assert all(m.source != m.destination for m in choice.moves)
    assert "/etc/docker/tls/server-key.pem" not in [m.destination for m in choice.moves]


def test_a_ca_without_its_key_means_starting_fresh(tmp_path: Path, recipe: Path) -> None:
    """Seed 002: the daemon's pair and ca.pem in /home/user/.docker, the CA key elsewhere."""
    host = Host(tmp_path / "root")
    home = "/home/user/.docker"
    _put(host, f"{home}/ca.pem", (recipe / "ca.pem").read_bytes(), 0o644)
    _put(host, f"{home}/server-cert.pem", (recipe / "cert.pem").read_bytes(), 0o644)
    _put(host, f"{home}/server-key.pem", (recipe / "key.pem").read_bytes(), 0o600)
    found = _by_path(discover_material(host))
    assert found[f"{home}/server-cert.pem"].kind == "server"
    choice = material_choice(list(found.values()), "0.0.0.0")
    assert choice.action == "fresh" and not choice.keeps_ca and not choice.moves
    assert "private key is not here" in choice.reason


def test_an_encrypted_ca_key_is_named_and_not_reused(tmp_path: Path, recipe: Path) -> None:
    host = Host(tmp_path / "root")
    ca = pki.issue_ca("locked CA")
    _put(host, f"{CERTS}/ca.pem", ca.cert_pem(), 0o444)
    _put(host, f"{CERTS}/ca-key.pem", ca.key_pem(b"secret"), 0o400)
    found = _by_path(discover_material(host))
    assert found[f"{CERTS}/ca-key.pem"].key_encrypted
    choice = material_choice(list(found.values()))
    assert choice.action == "fresh" and "encrypted" in choice.reason
    ids = [f.id for f in findings_for_material(list(found.values()))]
    assert "DW-CA-KEY-ON-SERVER" in ids  # named like a CA key, in the daemon's directory


def test_seed003_self_signed_server_cert(tmp_path: Path) -> None:
    """openssl x509 -req -signkey: a self-signed v1 certificate without SANs or EKU."""
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    host = Host(tmp_path / "root")
    d = host.path(CERTS)
    d.mkdir(parents=True)
    _openssl(d, "genrsa", "-out", "server.key", "2048")
    _openssl(d, "req", "-new", "-key", "server.key", "-out", "server.csr", "-subj", "/CN=web1")
    _openssl(d, "x509", "-req", "-in", "server.csr", "-signkey", "server.key",
             "-out", "server.crt")
    found = _by_path(discover_material(host))
    assert set(found) == {f"{CERTS}/server.crt", f"{CERTS}/server.key"}  # server.csr not listed
    crt = found[f"{CERTS}/server.crt"]
    assert crt.kind == "server" and crt.signed_by == crt.path and crt.key_path
    choice = material_choice(list(found.values()), "0.0.0.0")
    assert choice.action == "fresh" and "without its CA" in choice.reason
    assert "DW-CERT-NOT-LISTEN" in [f.id for f in findings_for_material(list(found.values()),
                                                                         ["0.0.0.0"])]


def test_nothing_found_means_nothing_to_say(tmp_path: Path) -> None:
    host = Host(tmp_path / "root")
    host.path("/etc/docker").mkdir(parents=True)
    assert discover_material(host) == []
    assert findings_for_material([], ["0.0.0.0"]) == []
    assert material_choice([], "0.0.0.0").action == "none"


# -- reading safely --------------------------------------------------------------------------------
def test_unsafe_files_are_skipped_with_a_note(tmp_path: Path, recipe: Path) -> None:
    host = Host(tmp_path / "root")
    d = host.path(CERTS)
    d.mkdir(parents=True)
    os.mkfifo(d / "ca.pem")  # a plain read would block forever
    (d / "huge.pem").write_bytes(b"-" * (pki.MAX_MATERIAL_BYTES + 1))
    # an absolute target is a host path: /dev/zero of the ROOT (absent), never this machine's
    (d / "zero.pem").symlink_to("/dev/zero")
    outside = tmp_path / "outside.pem"
    outside.write_bytes((recipe / "ca.pem").read_bytes())
    (d / "escape.pem").symlink_to(os.path.relpath(outside, d))  # climbs out: not followed
    (d / "inside.pem").symlink_to("/root/.docker/real.pem")  # resolved inside the root
    _put(host, "/root/.docker/real.pem", (recipe / "ca.pem").read_bytes(), 0o444)
    (d / "dir.pem").mkdir()
    started = time.monotonic()
    found = _by_path(discover_material(host))
    assert time.monotonic() - started < 5
    assert found[f"{CERTS}/ca.pem"].kind == "skipped"
    assert "FIFO" in (found[f"{CERTS}/ca.pem"].note or "")
    assert "more than any certificate" in (found[f"{CERTS}/huge.pem"].note or "")
    zero = found[f"{CERTS}/zero.pem"]
    assert zero.kind == "skipped" and zero.note == "a link to /dev/zero: not read: " + (
        "No such file or directory"
    )
    escape = found[f"{CERTS}/escape.pem"]
    assert escape.kind == "skipped" and "outside the host root" in (escape.note or "")
    assert found[f"{CERTS}/inside.pem"].kind == "ca"
    assert f"{CERTS}/dir.pem" not in found
    skipped = [f for f in findings_for_material(list(found.values())) if f.id ==
               "DW-MATERIAL-SKIPPED"]
    assert len(skipped) == 4 and all(f.severity == "info" for f in skipped)


def test_a_crowded_directory_is_capped(tmp_path: Path) -> None:
    host = Host(tmp_path / "root")
    d = host.path("/etc/docker/ssl")
    d.mkdir(parents=True)
    for i in range(MAX_FILES_PER_DIR + 10):
        (d / f"c{i:03}.crt").write_text("not a cert\n")
    found = discover_material(host)
    assert len(found) == MAX_FILES_PER_DIR
    assert all(f.kind == "other" and f.note for f in found)


def test_extra_paths_such_as_daemon_json_names_are_read_too(tmp_path: Path) -> None:
    host = Host(tmp_path / "root")
    ca, server = _chain(["10.0.0.5"])
    _put(host, "/srv/tls/ca.pem", ca.cert_pem(), 0o444)
    _put(host, "/srv/tls/daemon.crt", server.cert_pem(), 0o444)
    found = _by_path(discover_material(host, ["/srv/tls/daemon.crt", "/srv/tls/ca.pem", ""]))
    assert found["/srv/tls/daemon.crt"].signed_by == "/srv/tls/ca.pem"
    assert found["/srv/tls/daemon.crt"].kind == "server"


# -- the judge -------------------------------------------------------------------------------------
def test_checks_judge_placement_sans_and_listen_coverage() -> None:
    from dockwiz.models.host_state import CertInfo

    assert pki.ca_key_exposed("/etc/docker/certs/ca-key.pem")
    assert pki.ca_key_exposed("/etc/dockwiz/ca/ca-key.pem") is None
    assert pki.ca_key_exposed("/etc/dockerfoo/ca-key.pem") is None
    assert pki.undialable_sans(["127.0.0.1", "0.0.0.0", "::", "[::]", "224.0.0.1", "x"]) == [
        "0.0.0.0", "::", "::", "224.0.0.1"
    ]
    local = CertInfo(path="/c", dns_names=["localhost"], ip_addresses=["127.0.0.1", "0.0.0.0"])
    assert pki.listen_not_covered(local, "0.0.0.0")
    assert pki.listen_not_covered(local, "127.0.0.1") is None
    assert pki.listen_not_covered(local, "localhost") is None
    remote = CertInfo(path="/c", dns_names=["web1.example.com"], ip_addresses=[])
    assert pki.listen_not_covered(remote, "[::]") is None
    assert pki.listen_not_covered(remote, "10.0.0.5")
    wildcard = CertInfo(path="/c", dns_names=["*.example.com"])
    assert pki.listen_not_covered(wildcard, "web1.example.com") is None


def test_certificates_from_cryptography_without_basic_constraints_are_classified(
    tmp_path: Path,
) -> None:
    """A leaf with neither basicConstraints nor EKU (hand-made): named by its file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "x")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=5))
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    host = Host(tmp_path / "root")
    _put(host, "/root/.docker/client-cert.pem", cert.public_bytes(Encoding.PEM), 0o444)
    _put(host, "/root/.docker/cert.pem", cert.public_bytes(Encoding.PEM), 0o444)
    found = _by_path(discover_material(host))
    assert found["/root/.docker/client-cert.pem"].kind == "client"
    assert found["/root/.docker/cert.pem"].kind == "client"  # DOCKER_CERT_PATH's cert.pem


def test_certs_show_found_tells_the_admin(
    seed004: Host, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from dockwiz.cli import main

    assert main(["certs", "show", "--found", "--root", str(seed004.root), "--listen",
                 "0.0.0.0:2376"]) == 1  # a high finding: the CA key on the server
    out = capsys.readouterr().out
    assert "found 7 certificate/key file(s):" in out
    assert "HIGH     DW-CA-KEY-ON-SERVER" in out
    assert "plan: reuse-ca: keep the CA /etc/docker/certs/ca.pem" in out
    assert "  move /etc/docker/certs/ca-key.pem -> /etc/dockwiz/ca/ca-key.pem (0400)" in out
    main(["certs", "show", "--found", "--root", str(seed004.root), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert len(data["found"]) == 7 and data["choice"]["action"] == "reuse-ca"


def test_a_directory_closed_to_the_caller_is_not_searched(tmp_path: Path) -> None:
    """inspect as a normal user: /etc/docker 0700 must not make discovery raise."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("needs root to switch to 'nobody'")
    root = tmp_path / "root"
    (root / "etc" / "docker" / "certs").mkdir(parents=True)
    (root / "etc" / "docker" / "certs" / "ca.pem").write_text("x")
    for d in (tmp_path, root, root / "etc"):
        d.chmod(0o755)
    (root / "etc" / "docker").chmod(0o700)
    code = ("import sys; from dockwiz.host import Host; from dockwiz.pki.discover import "
            "discover_material; print(len(discover_material(Host(sys.argv[1]))))")
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          "/usr/bin/python3", "-c", code, str(root)],
                         capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": os.pathsep.join(
                             [str(Path(__file__).parents[2] / "src"), *_site_paths()])})
    assert out.returncode == 0 and out.stdout.strip() == "0", out.stderr


def _site_paths() -> list[str]:
    import site

    return [p for p in site.getsitepackages() if "site-packages" in p]
