"""Client certificates a secured daemon must refuse, forged for the negative probes.

A rogue CA's certificate and an expired one from the real CA: well-formed in every other way,
so a daemon that lets either in is shown to trust too much, not to mis-parse. They live only in
verify's scratch directory (0700, keys 0400) and are removed with it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockwiz import pki
from dockwiz.docker_paths import CA_DIR
from dockwiz.dockerapi import ClientFiles
from dockwiz.errors import DockwizError

if TYPE_CHECKING:
    from dockwiz.host import Host


def _write_pair(directory: Path, issued: pki.Issued, ca_pem: bytes) -> ClientFiles:
    directory.mkdir(mode=0o700, exist_ok=True)
    (directory / "ca.pem").write_bytes(ca_pem)
    (directory / "cert.pem").write_bytes(issued.cert_pem())
    key = directory / "key.pem"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as fh:
        fh.write(issued.key_pem())
    return ClientFiles(ca=directory / "ca.pem", cert=directory / "cert.pem", key=key)


def rogue_client(scratch: Path) -> ClientFiles:
    """A well-formed client certificate from a CA nobody trusts."""
    rogue = pki.issue_ca("dockwiz verify rogue CA", days=2)
    client = pki.issue_client(rogue, "dockwiz-verify-rogue", days=1)
    return _write_pair(scratch / "rogue", client, rogue.cert_pem())


def expired_client(host: Host, scratch: Path) -> ClientFiles | str:
    """A client certificate signed by the REAL CA but expired; needs the CA key (CA_DIR)."""
    if not host.path(f"{CA_DIR}/ca-key.pem").exists():
        return (f"skipped: the CA key is not at {CA_DIR}/ca-key.pem, so no certificate "
                "from the real CA can be made")
    try:
        ca = pki.load_ca(host)
    except DockwizError as exc:
        return f"skipped: cannot load the CA ({exc.message})"
    now = dt.datetime.now(dt.UTC)
    key = pki.generate_key("ecdsa-p256")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockwiz-verify-expired")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=3))
        .not_valid_after(now - dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, None if isinstance(ca.key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    return _write_pair(scratch / "expired", pki.Issued(cert, key), ca.cert_pem())

