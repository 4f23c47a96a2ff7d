"""A lab's host root as the scenario describes it: Debian's units, the seeds' files, the
certificates (the tutorials' own, made the way they make them, or dockwiz's).

Everything is written under the lab directory; nothing here touches this machine's /etc.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
from pathlib import Path
from typing import TYPE_CHECKING

from dockwiz.fsutil import atomic_write, ensure_dir
from dockwiz.lab.scenarios import (
    DEBIAN_DEFAULT_DOCKER,
    DEBIAN_DOCKER_SERVICE,
    DEBIAN_DOCKER_SOCKET,
    CertKind,
    ScenarioSpec,
)

if TYPE_CHECKING:
    from dockwiz.lab.lab import Lab

LINK_DIR = Path("/run/dockwiz/labs")
"""Short paths to each lab's /run: a unix socket path must fit in 108 bytes."""



def docker_gid() -> int:
    """The machine's docker group id, so socket ownership reads the same inside and out."""
    try:
        return grp.getgrnam("docker").gr_gid
    except KeyError:
        return 998


def write(path: Path, text: str | bytes, mode: int) -> None:
    ensure_dir(path.parent, mode=0o755)
    atomic_write(path, text, mode=mode, uid=0, gid=0)


def lay_out_root(lab: Lab, spec: ScenarioSpec) -> None:
    root = lab.root
    for d, mode in (("etc/docker", 0o755), ("etc/systemd/system", 0o755), ("run", 0o755),
                    ("root", 0o700), ("var", 0o755)):
        ensure_dir(root / d, mode=mode)
    (root / "var" / "run").symlink_to("../run")
    ensure_dir(lab.dir / "data", mode=0o710)
    write(root / "lib/systemd/system/docker.service", DEBIAN_DOCKER_SERVICE, 0o644)
    write(root / "lib/systemd/system/docker.socket", DEBIAN_DOCKER_SOCKET, 0o644)
    write(root / "etc/default/docker", DEBIAN_DEFAULT_DOCKER, 0o644)
    write(root / "etc/group", f"root:x:0:\ndocker:x:{docker_gid()}:\n", 0o644)
    write(root / "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n", 0o644)
    if spec.daemon_json is not None:
        write(root / "etc/docker/daemon.json", spec.daemon_json, 0o644)
    for name, text in spec.dropins.items():
        write(root / "etc/systemd/system/docker.service.d" / name, text, 0o644)
    if spec.expect_tcp_ports:
        lab.info.tcp_endpoint = f"tcp://{lab.info.address}:{spec.expect_tcp_ports[0]}"
    write_certs(lab, spec.certs)
    lab.save()


def write_certs(lab: Lab, kind: CertKind) -> None:
    if kind == "none":
        return
    if kind == "selfsigned-no-san":
        key_pem, cert_pem = seed003_self_signed()
        write(lab.root / "etc/docker/certs/server.key", key_pem, 0o600)
        write(lab.root / "etc/docker/certs/server.crt", cert_pem, 0o644)
        return
    write_pki_certs(lab, kind)


def seed003_self_signed() -> tuple[bytes, bytes]:
    """Seed 003's openssl recipe: RSA 2048, ``x509 -req -signkey``: self-signed, CN only, no SAN."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "docker-host")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def write_pki_certs(lab: Lab, kind: CertKind) -> None:
    """Certs from dockwiz.pki, so clients and probes can trust the lab's server for real."""
    from dockwiz import pki

    host = lab.host()
    address = lab.info.address
    ca = pki.issue_ca(common_name=f"dockwiz lab CA {lab.info.netns}")
    server = pki.issue_server(ca, ["localhost"], [address, "127.0.0.1"])
    if kind == "server":
        # seed 004's layout, CA key included (a finding of its own on a daemon host)
        certs = lab.root / "etc/docker/certs"
        write(certs / "ca.pem", ca.cert_pem(), 0o644)
        write(certs / "ca-key.pem", ca.key_pem(), 0o600)
        write(certs / "cert.pem", server.cert_pem(), 0o644)
        write(certs / "key.pem", server.key_pem(), 0o600)
        return
    pki.write_server_material(host, ca, server)
    pki.write_ca(host, ca)
    client = pki.issue_client(ca, common_name="lab-admin")
    bundle = pki.write_client_bundle(host, ca, client, "lab-admin", f"tcp://{address}:2376")
    lab.info.client_cert_dir = str(host.path(bundle.dir))
    lab.info.tcp_endpoint = bundle.endpoint


def link_short_path(lab: Lab) -> None:
    """A short symlink to the sandbox's /run: clients cannot dial sockets in deep lab dirs."""
    ensure_dir(LINK_DIR, mode=0o755)
    link = LINK_DIR / lab.info.netns
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(lab.root / "run")
