"""Whole-material decisions and operations: what ``certs init`` keeps, issues and writes.

The rules that decide whether existing material is kept (it must pass the one judge in
:mod:`dockwiz.pki.checks` and come from this CA), which endpoint a new client bundle points at,
and the one all-or-nothing write of CA + server + bundles. They live in the core, not in the
CLI, so the TUI and the CLI make the same decisions.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from dockwiz.addresses import is_ip
from dockwiz.docker_paths import CA_DIR, CLIENTS_DIR, DAEMON_TLS_DIR
from dockwiz.errors import DockwizError
from dockwiz.pki.bundles import (
    ClientBundle,
    _client_files,
    client_dir,
    client_exists,
    list_clients,
    normalize_endpoint,
    validate_client_name,
)
from dockwiz.pki.checks import cert_info, check_server_cert
from dockwiz.pki.issue import Issued, load_certificate, sans_of, verify_issued_by
from dockwiz.pki.storage import (
    _ca_files,
    _join,
    _server_files,
    _write_all,
    ca_exists,
    read_material,
    server_paths,
)

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

    from dockwiz.host import Host
    from dockwiz.models.host_state import CertInfo


class InitChoice:
    """What ``certs init`` will do with each piece, decided before any key is made."""

    __slots__ = ("kept_clients", "new_ca", "new_clients", "server_exists", "server_needed")

    def __init__(
        self,
        *,
        new_ca: bool,
        server_exists: bool,
        server_needed: bool,
        new_clients: list[str],
        kept_clients: list[str],
    ) -> None:
        self.new_ca, self.server_exists, self.server_needed = new_ca, server_exists, server_needed
        self.new_clients, self.kept_clients = new_clients, kept_clients


def decide_init(
    host: Host,
    directory: str,
    clients: Sequence[str],
    *,
    overwrite: bool,
    ca_only: bool,
) -> InitChoice:
    """Keep what exists unless ``overwrite``; a server certificate without the CA that issued
    it cannot be kept consistently, so that case is refused instead of half-replaced."""
    for name in clients:
        validate_client_name(name)
    new_ca = overwrite or not ca_exists(host)
    server_exists = any(host.resolve(p).exists() for p in server_paths(directory))
    if new_ca and server_exists and not overwrite:
        raise DockwizError(
            f"the daemon's TLS files in {directory} exist but there is no CA in {CA_DIR}",
            "keep them as they are (do not run init), or replace all with --overwrite",
        )
    names = list(dict.fromkeys(clients))
    new = [n for n in names if overwrite or not client_exists(host, n)]
    return InitChoice(
        new_ca=new_ca,
        server_exists=server_exists,
        server_needed=not ca_only and (new_ca or not server_exists),
        new_clients=new,
        kept_clients=[n for n in names if n not in new],
    )


def server_problems(host: Host, ca: Issued, directory: str = DAEMON_TLS_DIR) -> list[str]:
    """Why the daemon's existing server certificate cannot be kept with ``ca`` (empty: keep)."""
    _, cert_path, key_path = server_paths(directory)
    info = cert_info(host, cert_path, key_path, role="server")
    problems = check_server_cert(info, "", None)
    if not info.error:
        cert = load_certificate(read_material(host, cert_path)[0], cert_path)
        issue = verify_issued_by(cert, ca.cert)
        problems += [issue] if issue else []
    return problems


def check_kept_server(host: Host, ca: Issued, directory: str = DAEMON_TLS_DIR) -> None:
    """Refuse to keep a server certificate that fails the judge or is not from ``ca``."""
    problems = server_problems(host, ca, directory)
    if problems:
        raise DockwizError(
            f"the existing server certificate in {directory} has problems: " + "; ".join(problems),
            "renew it with 'dockwiz certs renew' (same CA and names), or replace everything "
            "with --overwrite",
        )


def check_kept_clients(host: Host, ca: Issued, names: Sequence[str]) -> list[str]:
    """Existing bundles being kept must come from ``ca`` (init is re-runnable); returns their
    directories."""
    kept: list[str] = []
    for name in names:
        path = _join(client_dir(name), "cert.pem")
        try:
            data = read_material(host, path)[0]
        except OSError as exc:
            raise DockwizError(
                f"client bundle {name!r}: cannot read {path}: {exc.strerror or exc}",
                "replace it with --overwrite",
            ) from exc
        problem = verify_issued_by(load_certificate(data, path), ca.cert)
        if problem:
            raise DockwizError(f"client bundle {name!r}: {problem}", "replace it with --overwrite")
        kept.append(client_dir(name))
    return kept


def default_endpoint(
    host: Host, directory: str = DAEMON_TLS_DIR, cert: Certificate | None = None
) -> str:
    """The first SAN a remote client is likely to dial: a non-loopback IP, else a DNS name.

    Read from the just-issued certificate when there is one (no file parsing on the fast
    path), else from the daemon's server certificate on disk."""
    if cert is None:
        _, cert_path, _ = server_paths(directory)
        try:
            cert = load_certificate(read_material(host, cert_path)[0])
        except (OSError, DockwizError):
            return normalize_endpoint("localhost")
    sans = sans_of(cert)
    remote_ips = [s for s in sans if is_ip(s) and not ipaddress.ip_address(s).is_loopback]
    names = [s for s in sans if not is_ip(s) and s != "localhost"]
    return normalize_endpoint((remote_ips or names or ["localhost"])[0])


def write_material(
    host: Host,
    ca: Issued,
    *,
    store_ca: bool,
    passphrase: bytes | None = None,
    server: Issued | None = None,
    directory: str = DAEMON_TLS_DIR,
    clients: Sequence[tuple[str, Issued, str]] = (),
    overwrite: bool = False,
) -> tuple[list[str], list[ClientBundle]]:
    """CA (when ``store_ca``), server files and client bundles ``(name, cert, endpoint)`` in
    one all-or-nothing write: every check runs before the first file, so a bad client name or
    an existing file leaves the host as it was."""
    files = _ca_files(ca, passphrase) if store_ca else []
    if server is not None:
        files += _server_files(ca, server, directory)
    bundles: list[ClientBundle] = []
    for name, client, endpoint in clients:
        client_files, bundle = _client_files(ca, client, name, endpoint)
        files += client_files
        bundles.append(bundle)
    return _write_all(host, files, overwrite), bundles


def iter_material(host: Host, directory: str = DAEMON_TLS_DIR) -> Iterator[CertInfo]:
    """CertInfo for the CA, the daemon's files and every client bundle that exists."""
    yield cert_info(host, _join(CA_DIR, "ca.pem"), _join(CA_DIR, "ca-key.pem"), role="ca")
    ca_path, cert_path, key_path = server_paths(directory)
    yield cert_info(host, ca_path, None, role="ca")
    yield cert_info(host, cert_path, key_path, role="server")
    for name in list_clients(host):
        d = _join(CLIENTS_DIR, name)
        yield cert_info(host, _join(d, "cert.pem"), _join(d, "key.pem"), role="client")
