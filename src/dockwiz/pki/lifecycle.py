"""Day-two material: trust bundles for a CA roll-over, reissued and revoked client bundles.

Why a module of its own: day one writes a CA, a server certificate and bundles that never
existed; day two replaces them while clients are using them. Three things are new:

- **trust bundles**: during a CA roll-over the daemon's ``tlscacert`` and every bundle's
  ``ca.pem`` hold the new CA *and* the previous one (Go's cert pools take any number of PEM
  blocks), so old and new client certificates both get in until the admin finishes it;
- **README.txt** in every bundle: a copied bundle travels without dockwiz, so it says what it
  is, when it expires and what to run after it was replaced (``docker context update``);
- **revocation**: dockerd checks no revocation list, so a revoked bundle is moved out of
  ``CLIENTS_DIR`` into ``REVOKED_DIR`` (never reissued, never listed as a client, kept for
  verify's negative probe) in the same transaction that replaces the CA it was signed by.

Every write goes through :mod:`dockwiz.pki.storage` (``Host.writable``, atomic, final modes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from dockwiz.docker_paths import CLIENTS_DIR, PREVIOUS_CA_PATH, REVOKED_DIR
from dockwiz.errors import DockwizError
from dockwiz.pki.bundles import ClientBundle, _client_files, client_bundle_text
from dockwiz.pki.issue import Issued
from dockwiz.pki.storage import (
    CERT_MODE,
    PUBLIC_DIR_MODE,
    SECRET_DIR_MODE,
    _File,
    _join,
    _write_all,
    read_material,
)

if TYPE_CHECKING:
    from dockwiz.host import Host


def trust_pem(ca: Issued, previous: x509.Certificate | None) -> bytes:
    """The CA(s) to trust: the current one first, then the previous one during a roll-over."""
    from cryptography.hazmat.primitives.serialization import Encoding

    pem = ca.cert_pem()
    if previous is not None and previous.fingerprint(_sha256()) != ca.cert.fingerprint(_sha256()):
        pem += previous.public_bytes(Encoding.PEM)
    return pem


def _sha256() -> hashes.SHA256:
    return hashes.SHA256()


def pem_certs(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle (empty for anything else)."""
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return []


def load_previous_ca(host: Host) -> x509.Certificate | None:
    """The CA a roll-over still trusts, or None when no roll-over is under way."""
    try:
        data, _ = read_material(host, PREVIOUS_CA_PATH)
    except OSError:
        return None
    certs = pem_certs(data)
    return certs[0] if certs else None


def write_previous_ca(host: Host, previous: x509.Certificate) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    data = previous.public_bytes(Encoding.PEM)
    _write_all(host, [_File(PREVIOUS_CA_PATH, data, CERT_MODE, SECRET_DIR_MODE)], True)


def drop_previous_ca(host: Host) -> bool:
    """End a roll-over: the previous CA is no longer trusted by anything dockwiz writes."""
    local = host.writable(PREVIOUS_CA_PATH)
    if not local.exists():
        return False
    local.unlink()
    return True


def write_trust(host: Host, path: str, pem: bytes) -> None:
    """The daemon's tlscacert (0444, in its public TLS directory)."""
    _write_all(host, [_File(path, pem, CERT_MODE, PUBLIC_DIR_MODE)], True)


def bundle_readme(name: str, directory: str, endpoint: str, client: Issued) -> str:
    """README.txt: what the bundle is and what to do when it is replaced."""
    _env, context = client_bundle_text(name, directory, endpoint)
    return (
        f"dockwiz client bundle {name!r} for {endpoint}\n"
        f"certificate expires {client.not_after:%Y-%m-%d %H:%M} UTC\n\n"
        "Files: ca.pem (the CA(s) the daemon's certificate is checked against), cert.pem and\n"
        "key.pem (this client's identity; keep key.pem secret), env.sh (DOCKER_HOST,\n"
        "DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), context.txt (the docker context command).\n\n"
        f"Use it:   . {directory}/env.sh && docker version\n"
        f"Or:       {context}\n\n"
        "After the bundle was replaced (dockwiz renew --ca, clients revoke), copy the new files\n"
        "over the old ones; a docker context keeps its own copy, so update it too:\n"
        f"  {context_update_command(name, directory, endpoint)}\n"
    )


def context_update_command(name: str, directory: str, endpoint: str) -> str:
    """``docker context update``: the context store copied the old files, it must re-read them."""
    import shlex

    arg = f"host={endpoint},ca={directory}/ca.pem,cert={directory}/cert.pem,key={directory}/key.pem"
    return f"docker context update {shlex.quote(name)} --docker {shlex.quote(arg)}"


def write_bundle(
    host: Host, ca: Issued, client: Issued, name: str, endpoint: str, ca_pem: bytes,
    *, overwrite: bool,
) -> ClientBundle:
    """A client bundle whose ca.pem is ``ca_pem`` (the trust bundle), with README.txt."""
    files, bundle = _client_files(ca, client, name, endpoint)
    for f in files:
        if f.host_path.endswith("/ca.pem"):
            f.data = ca_pem
    readme = bundle_readme(name, bundle.dir, bundle.endpoint, client)
    files.append(_File(_join(bundle.dir, "README.txt"), readme.encode(), CERT_MODE,
                       SECRET_DIR_MODE))
    bundle.files.append(files[-1].host_path)
    _write_all(host, files, overwrite)
    return bundle


def revoked_dir(name: str) -> str:
    return _join(REVOKED_DIR, name)


def revoke_bundle(host: Host, name: str) -> str:
    """Move ``CLIENTS_DIR/name`` to ``REVOKED_DIR/name`` (an earlier revoked copy is replaced);
    returns the new host path. A rename: the bundle is in one place or the other, never both."""
    source = host.writable(_join(CLIENTS_DIR, name))
    if not source.is_dir() or source.is_symlink():
        raise DockwizError(f"no client bundle {name!r} in {CLIENTS_DIR}",
                           "see 'dockwiz clients list'")
    target_path = revoked_dir(name)
    target = host.writable(target_path)
    from dockwiz.fsutil import ensure_dir, fsync_dir

    ensure_dir(target.parent, mode=SECRET_DIR_MODE)
    if target.exists() and not target.is_symlink():
        shutil.rmtree(target)
    source.rename(target)
    fsync_dir(target.parent)
    fsync_dir(source.parent)
    return target_path


def revoked_names(host: Host) -> list[str]:
    local = host.resolve(REVOKED_DIR)
    with contextlib.suppress(OSError):
        return sorted(p.name for p in local.iterdir() if (p / "cert.pem").is_file())
    return []


def days_left(cert: x509.Certificate, now: dt.datetime | None = None) -> float:
    now = now or dt.datetime.now(dt.UTC)
    return (cert.not_valid_after_utc - now).total_seconds() / 86400
