"""The TLS material a secured daemon needs: a private CA, a server certificate, client bundles.

Why our own code instead of the tutorials' openssl recipe: the recipe is where users go wrong
(no IP SANs, legacy CN, a CA valid only as long as its leaves, keys left world-readable, the CA
key copied next to the daemon's key). Everything here is issued with ``cryptography`` in
process, judged like a Go client would judge it, and written atomically with its final mode.

One module per job, one place per concern:

- :mod:`~dockwiz.pki.issue`: key types; issuing the CA, server and client certificates; parsing
- :mod:`~dockwiz.pki.sans`: validating the SANs the admin gives, detecting what clients dial
- :mod:`~dockwiz.pki.checks`: THE certificate judge (files, CertInfo, a TLS peer's certificate)
- :mod:`~dockwiz.pki.storage`: where material lives; the one safe reader; all-or-nothing writes
- :mod:`~dockwiz.pki.bundles`: client bundles (directory, env.sh, ``docker context`` command)
- :mod:`~dockwiz.pki.material`: what ``certs init`` keeps or issues, endpoints, one write of all

This package's namespace re-exports the names the rest of dockwiz uses (``from dockwiz import
pki; pki.issue_ca(...)``), so callers need not know which module holds what.
"""

from __future__ import annotations

from dockwiz.docker_paths import CA_DIR, CLIENTS_DIR, DAEMON_TLS_DIR, DEFAULT_CLIENT, TLS_PORT
from dockwiz.hostnet import interface_addresses as _interface_addresses
from dockwiz.hostnet import parse_fib_trie_locals, parse_if_inet6
from dockwiz.hostnet import psutil_addresses as _psutil_addresses
from dockwiz.pki.bundles import (
    ClientBundle,
    bundle_endpoint,
    client_bundle_text,
    client_dir,
    client_exists,
    list_clients,
    normalize_endpoint,
    validate_client_name,
    write_client_bundle,
)
from dockwiz.pki.checks import (
    RENEW_BEFORE_DAYS,
    CertFacts,
    cert_facts,
    cert_info,
    cert_mode_too_wide,
    check_ca_cert,
    check_client_cert,
    check_server_cert,
    expiry,
    has_sans,
    key_mismatch,
    key_mode_verdict,
    lint_certificate,
    names_cover,
    not_signed_by,
    san_covers,
    uncovered,
    uncovered_hosts,
)
from dockwiz.pki.issue import (
    CLOCK_SKEW,
    DEFAULT_CA_DAYS,
    DEFAULT_KEY_TYPE,
    DEFAULT_LEAF_DAYS,
    KEY_TYPES,
    MAX_CA_DAYS,
    MAX_LEAF_DAYS,
    Issued,
    KeyType,
    PrivateKey,
    PublicKey,
    generate_key,
    generate_keys,
    issue_ca,
    issue_client,
    issue_server,
    key_type_of,
    keys_match,
    load_certificate,
    load_issued,
    load_private_key,
    sans_of,
    verify_issued_by,
)
from dockwiz.pki.material import (
    InitChoice,
    check_kept_clients,
    check_kept_server,
    decide_init,
    default_endpoint,
    iter_material,
    server_problems,
    write_material,
)
from dockwiz.pki.sans import (
    detect_sans,
    split_sans,
    validate_dns_name,
    validate_ip,
    validate_sans,
)
from dockwiz.pki.storage import (
    CERT_MODE,
    KEY_MODE,
    MAX_MATERIAL_BYTES,
    PUBLIC_DIR_MODE,
    SECRET_DIR_MODE,
    ca_exists,
    ca_key_encrypted,
    check_tls_dir,
    load_ca,
    load_server,
    read_local,
    read_material,
    server_paths,
    write_ca,
    write_server_material,
)

__all__ = [
    "CA_DIR",
    "CERT_MODE",
    "CLIENTS_DIR",
    "CLOCK_SKEW",
    "DAEMON_TLS_DIR",
    "DEFAULT_CA_DAYS",
    "DEFAULT_CLIENT",
    "DEFAULT_KEY_TYPE",
    "DEFAULT_LEAF_DAYS",
    "KEY_MODE",
    "KEY_TYPES",
    "MAX_CA_DAYS",
    "MAX_LEAF_DAYS",
    "MAX_MATERIAL_BYTES",
    "PUBLIC_DIR_MODE",
    "RENEW_BEFORE_DAYS",
    "SECRET_DIR_MODE",
    "TLS_PORT",
    "CertFacts",
    "ClientBundle",
    "InitChoice",
    "Issued",
    "KeyType",
    "PrivateKey",
    "PublicKey",
    "bundle_endpoint",
    "ca_exists",
    "ca_key_encrypted",
    "cert_facts",
    "cert_info",
    "cert_mode_too_wide",
    "check_ca_cert",
    "check_client_cert",
    "check_kept_clients",
    "check_kept_server",
    "check_server_cert",
    "check_tls_dir",
    "client_bundle_text",
    "client_dir",
    "client_exists",
    "decide_init",
    "default_endpoint",
    "detect_sans",
    "expiry",
    "generate_key",
    "generate_keys",
    "has_sans",
    "issue_ca",
    "issue_client",
    "issue_server",
    "iter_material",
    "key_mismatch",
    "key_mode_verdict",
    "key_type_of",
    "keys_match",
    "lint_certificate",
    "list_clients",
    "load_ca",
    "load_certificate",
    "load_issued",
    "load_private_key",
    "load_server",
    "names_cover",
    "normalize_endpoint",
    "not_signed_by",
    "parse_fib_trie_locals",
    "parse_if_inet6",
    "read_local",
    "read_material",
    "san_covers",
    "sans_of",
    "server_paths",
    "server_problems",
    "split_sans",
    "uncovered",
    "uncovered_hosts",
    "validate_client_name",
    "validate_dns_name",
    "validate_ip",
    "validate_sans",
    "verify_issued_by",
    "write_ca",
    "write_client_bundle",
    "write_material",
    "write_server_material",
]
# kept outside __all__: the proc-vs-psutil parity test reaches them through pki
_ = (_interface_addresses, _psutil_addresses)
