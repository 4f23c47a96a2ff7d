"""The TLS material a secured daemon needs: a private CA, a server certificate, client bundles.

Why our own code instead of the tutorials' openssl recipe: the recipe is where users go wrong
(no IP SANs, legacy CN, a CA valid only as long as its leaves, keys left world-readable, the CA
key copied next to the daemon's key). Everything here is issued with ``cryptography`` in
process, checked like a Go client would check it, and written atomically with its final mode.

Choices, and why:

- **Key types** are the ones Go's ``crypto/tls`` (dockerd and the docker CLI are Go) accepts for
  both certificates and handshake signatures: ECDSA P-256/P-384, RSA 2048/3072/4096 and Ed25519.
  ECDSA P-256 is the default: as strong as RSA-3072, signatures every TLS stack supports, and its
  keys are generated in microseconds where RSA-4096 takes seconds. Ed25519 works with Go (it
  is in Go's TLS 1.2 and 1.3 signature list since Go 1.13, dockerd 20.10 and the docker 28 CLI
  handshake with it: checked against a real daemon) but not with every non-Go client, hence
  not the default.
- **Validity**: the CA 10 years (it is the trust anchor every client carries; replacing it means
  touching every client). Leaves 365 days: dockerd checks no revocation list, so expiry is the
  only thing that ends the life of a stolen client key; a year is what Docker's own recipe uses,
  and renewing a leaf is one command (``dockwiz certs renew``) that keeps the CA, so clients
  keep working.
- **NotBefore** is 5 minutes in the past (docker-machine's choice) so that a client whose clock
  is slightly behind does not reject a certificate issued a second ago.
- **Serials** are 128 random bits: unique without a serial file (the recipe's ``-CAcreateserial``
  file is one more thing to lose) and unguessable.
- **Storage**: see :data:`CA_DIR`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import shlex
import socket
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from pathlib import PurePosixPath as PurePath
from typing import TYPE_CHECKING, Literal, get_args

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import _serialization as ser
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockwiz.errors import DockwizError

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.models.host_state import CertInfo

KeyType = Literal["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"]
KEY_TYPES: tuple[str, ...] = get_args(KeyType)
DEFAULT_KEY_TYPE: KeyType = "ecdsa-p256"
DEFAULT_CA_DAYS = 3650
DEFAULT_LEAF_DAYS = 365
CLOCK_SKEW = dt.timedelta(minutes=5)
RENEW_BEFORE_DAYS = 30

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

DAEMON_TLS_DIR = "/etc/docker/tls"
"""Where dockerd reads its material: ``ca.pem``, ``server-cert.pem``, ``server-key.pem``.

Modes follow CIS Docker Benchmark 3.9-3.14: certificates 0444, the server key exactly 0400,
all owned by root."""

CA_DIR = "/etc/dockwiz/ca"
"""The CA's own root-only (0700) directory: ``ca-key.pem`` (0400) and ``ca.pem``.

The CA key never goes in the daemon's directory. Whoever holds it can mint a client certificate
that dockerd accepts, i.e. root on this host and on every host trusting the CA: it must not be
read by the daemon (which never needs it), not be swept up with the daemon's config by backup or
config-management tools that copy /etc/docker, and not be exposed by a looser mode on
/etc/docker. A separate 0700 directory also lets an admin move the CA key offline (or encrypt it
with a passphrase) without touching what the daemon reads."""

CLIENTS_DIR = "/etc/dockwiz/clients"
"""``<name>/`` (0700) per client: ``ca.pem cert.pem key.pem`` (the docker CLI's
DOCKER_CERT_PATH names), ``env.sh`` and ``context.txt``."""

CERT_MODE = 0o444
KEY_MODE = 0o400
SECRET_DIR_MODE = 0o700
PUBLIC_DIR_MODE = 0o755
DEFAULT_TLS_PORT = 2376

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


# -- issued material ---------------------------------------------------------------------------
class Issued:
    """A certificate with its private key (kept together so they can never be mismatched).

    Plain classes rather than dataclasses in this module: ``dataclasses`` (with ``inspect``)
    is ~10-20 ms of import on the ``dockwiz certs`` fast path."""

    __slots__ = ("cert", "key")

    def __init__(self, cert: x509.Certificate, key: PrivateKey) -> None:
        self.cert = cert
        self.key = key

    def __repr__(self) -> str:
        return f"Issued({self.cert.subject.rfc4514_string()!r}, {self.key_type})"

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(ser.Encoding.PEM)

    def key_pem(self, passphrase: bytes | None = None) -> bytes:
        """PKCS#8 PEM; Go's ``tls.X509KeyPair`` reads it for every key type we issue.

        Only the CA key may be encrypted: dockerd and the docker CLI cannot read an encrypted
        PKCS#8 key, so leaves are always written in the clear (protected by mode 0400)."""
        algorithm: ser.KeySerializationEncryption = (
            ser.BestAvailableEncryption(passphrase) if passphrase else ser.NoEncryption()
        )
        return self.key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, algorithm)

    @property
    def key_type(self) -> str:
        return key_type_of(self.key.public_key())

    @property
    def not_after(self) -> dt.datetime:
        return self.cert.not_valid_after_utc

    @property
    def common_name(self) -> str:
        return _common_name(self.cert) or ""


def key_type_of(key: object) -> str:
    """Our key type name for a public or private key ('ecdsa-p256', 'rsa-4096', ...)."""
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        names = {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384", "secp521r1": "ecdsa-p521"}
        return names.get(key.curve.name, f"ecdsa-{key.curve.name}")
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return f"rsa-{key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "ed25519"
    return type(key).__name__


def generate_key(key_type: str) -> PrivateKey:
    """A new private key; an unknown type is the user's typo, so it is a DockwizError."""
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type in ("rsa-2048", "rsa-3072", "rsa-4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise DockwizError(
        f"unknown key type {key_type!r}",
        f"use one of: {', '.join(KEY_TYPES)} (default {DEFAULT_KEY_TYPE})",
    )


def generate_keys(key_types: Sequence[str]) -> list[PrivateKey]:
    """Several keys at once; RSA ones in parallel child processes when that can help.

    An RSA-4096 key takes 0.2-3 s of prime search, held under the GIL by ``cryptography``, so
    threads do not help. Independent keys are made in forked children (one per key, each sends
    back its PKCS#8 DER over a pipe), which on a multi-core host brings the CA + server +
    client set down to about one key's time. Fork is used only from a single-threaded process
    (the CLI): forking a threaded process (the TUI's workers) could deadlock the child, so
    there the keys are made one after another."""
    for key_type in key_types:
        _check_key_type(key_type)
    slow = [i for i, kt in enumerate(key_types) if kt.startswith("rsa-")]
    keys: list[PrivateKey | None] = [None] * len(key_types)
    if len(slow) > 1 and (os.cpu_count() or 1) > 1 and _single_threaded():
        for i, key in zip(slow, _fork_generate([key_types[i] for i in slow]), strict=True):
            keys[i] = key
    return [k if k is not None else generate_key(kt) for k, kt in zip(keys, key_types, strict=True)]


def _single_threaded() -> bool:
    import threading

    return threading.active_count() == 1


def _fork_generate(key_types: Sequence[str]) -> list[PrivateKey | None]:
    """Each key in its own child; a child that fails leaves None (made in-process instead)."""
    children: list[tuple[int, int]] = []
    for key_type in key_types:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: make the key, hand it over, leave without cleanup handlers
            code = 1
            try:
                os.close(read_fd)
                der = generate_key(key_type).private_bytes(
                    ser.Encoding.DER,
                    ser.PrivateFormat.PKCS8,
                    ser.NoEncryption(),
                )
                view = memoryview(der)
                while view:
                    view = view[os.write(write_fd, view) :]
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        children.append((pid, read_fd))
    keys: list[PrivateKey | None] = []
    for pid, read_fd in children:
        chunks = []
        while chunk := os.read(read_fd, 65536):
            chunks.append(chunk)
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
        key = None
        if os.waitstatus_to_exitcode(status) == 0:
            from cryptography.hazmat.primitives.serialization import load_der_private_key

            # our own child made it: skip the RSA consistency check, which re-tests p and q
            # for primality and costs about as much as half a key generation
            loaded = load_der_private_key(
                b"".join(chunks), password=None, unsafe_skip_rsa_key_validation=True
            )
            key = loaded if isinstance(loaded, rsa.RSAPrivateKey) else None
        keys.append(key)
    return keys


def _check_key_type(key_type: str) -> None:
    if key_type not in KEY_TYPES:
        generate_key(key_type)  # raises the DockwizError with the list of valid types


def _check_days(days: int) -> None:
    if days < 1:
        raise DockwizError(f"validity of {days} days is not possible", "give --days 1 or more")


def _hash_for(signing_key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    """SHA-256, except SHA-384 with a P-384 signer (the matching strength) and none for Ed25519."""
    if isinstance(signing_key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(signing_key, ec.EllipticCurvePrivateKey) and signing_key.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _serial() -> int:
    """128 random bits, positive and non-zero (RFC 5280 §4.1.2.2 allows up to 20 octets)."""
    while True:
        value = secrets.randbits(128)
        if value:
            return value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str) -> x509.Name:
    if not common_name or len(common_name) > 64:
        raise DockwizError(
            f"common name {common_name!r} must be 1 to 64 characters", "choose a shorter --name"
        )
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode(errors="replace")


def _key_usage(
    *, digital_signature: bool = False, key_encipherment: bool = False, cert_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def issue_ca(
    common_name: str = "dockwiz CA",
    key_type: KeyType = DEFAULT_KEY_TYPE,
    days: int = DEFAULT_CA_DAYS,
    key: PrivateKey | None = None,
) -> Issued:
    """A self-signed CA that can sign leaves only (pathlen 0: no intermediate can be made).

    ``key``: a key made beforehand (see :func:`generate_keys`) instead of a new one."""
    _check_days(days)
    _check_key_type(key_type)
    _name(common_name)
    key = key or generate_key(key_type)
    name = _name(common_name)
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    return Issued(builder.sign(key, _hash_for(key)), key)


def _leaf_builder(
    ca: Issued, key: PrivateKey, common_name: str, days: int
) -> x509.CertificateBuilder:
    _check_days(days)
    _check_ca_usable(ca)
    now = _now()
    not_after = now + dt.timedelta(days=days)
    if not_after > ca.not_after:
        raise DockwizError(
            f"a {days}-day certificate would outlive its CA, which expires {ca.not_after:%Y-%m-%d}",
            "choose fewer --days, or replace the CA (dockwiz certs init --overwrite) and "
            "re-issue every certificate",
        )
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
    )


def _check_ca_usable(ca: Issued) -> None:
    """Refuse to sign with a CA that is not a CA, has expired, or is not the key's cert."""
    try:
        bc = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = bc.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise DockwizError(
            f"{_common_name(ca.cert)!r} is not a CA certificate (no basicConstraints CA:TRUE)",
            "issue a CA with 'dockwiz certs init'",
        )
    try:
        ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound as exc:
        raise DockwizError(
            "the CA certificate has no subjectKeyIdentifier",
            "replace it with 'dockwiz certs init --overwrite'",
        ) from exc
    if ca.not_after <= _now():
        raise DockwizError(
            f"the CA expired on {ca.not_after:%Y-%m-%d}",
            "replace it with 'dockwiz certs init --overwrite' and re-issue every certificate",
        )
    if not keys_match(ca.cert, ca.key):
        raise DockwizError(
            "the CA private key does not match the CA certificate",
            "restore the matching ca-key.pem, or replace the CA with --overwrite",
        )


def issue_server(
    ca: Issued,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    key_type: KeyType = DEFAULT_KEY_TYPE,
    days: int = DEFAULT_LEAF_DAYS,
    common_name: str | None = None,
    key: PrivateKey | None = None,
) -> Issued:
    """A server certificate whose SANs name every way a client dials the daemon.

    Go ignores the Common Name for host checks, so the SANs are what matter; the CN is only a
    label (the first DNS name)."""
    dns, ips = validate_sans(dns_names, ip_addresses)
    if not dns and not ips:
        raise DockwizError(
            "a server certificate needs at least one DNS name or IP address",
            "add the names clients dial with --san (e.g. --san myhost.example --san 10.0.0.5)",
        )
    _check_key_type(key_type)
    _check_days(days)
    _check_ca_usable(ca)
    key = key or generate_key(key_type)
    cn = common_name or (dns[0] if dns else ips[0])
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    builder = (
        _leaf_builder(ca, key, cn[:64], days)
        .add_extension(
            _key_usage(digital_signature=True, key_encipherment=isinstance(key, rsa.RSAPrivateKey)),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
    )
    return Issued(builder.sign(ca.key, _hash_for(ca.key)), key)


def issue_client(
    ca: Issued,
    common_name: str = "dockwiz-client",
    key_type: KeyType = DEFAULT_KEY_TYPE,
    days: int = DEFAULT_LEAF_DAYS,
    key: PrivateKey | None = None,
) -> Issued:
    """A client certificate (clientAuth only: it cannot pose as a daemon)."""
    _check_key_type(key_type)
    _check_days(days)
    _check_ca_usable(ca)
    _name(common_name)
    key = key or generate_key(key_type)
    builder = (
        _leaf_builder(ca, key, common_name, days)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    return Issued(builder.sign(ca.key, _hash_for(ca.key)), key)


def keys_match(cert: x509.Certificate, key: PrivateKey) -> bool:
    spki = ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo
    return bool(cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki))


def load_private_key(
    key_pem: bytes, passphrase: bytes | None = None, what: str = "key"
) -> PrivateKey:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(key_pem, password=passphrase or None)
    except TypeError as exc:  # encrypted without a password, or a password for a clear key
        if passphrase:
            key = load_pem_private_key(key_pem, password=None)
        else:
            raise DockwizError(
                f"the {what} is encrypted", "give its passphrase with --passphrase-file FILE"
            ) from exc
    except ValueError as exc:
        raise DockwizError(
            f"cannot read the {what}: wrong passphrase or not a PEM private key ({exc})",
            "check the passphrase file, or the file's contents",
        ) from exc
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise DockwizError(
            f"the {what} is a {type(key).__name__}, which Go's TLS does not accept",
            f"use one of: {', '.join(KEY_TYPES)}",
        )
    return key


def load_certificate(cert_pem: bytes, what: str = "certificate") -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        try:
            return x509.load_der_x509_certificate(cert_pem)
        except ValueError as exc:
            raise DockwizError(
                f"the {what} is not a PEM or DER certificate", "check the file's contents"
            ) from exc


def load_issued(cert_pem: bytes, key_pem: bytes, passphrase: bytes | None = None) -> Issued:
    """Certificate + key from PEM; a key that is not the certificate's is a DockwizError."""
    cert = load_certificate(cert_pem)
    key = load_private_key(key_pem, passphrase)
    if not keys_match(cert, key):
        raise DockwizError(
            f"the private key does not match the certificate {_common_name(cert)!r}",
            "use the key the certificate was issued for, or issue a new pair",
        )
    return Issued(cert, key)


def sans_of(cert: x509.Certificate) -> list[str]:
    """The certificate's DNS and IP SANs as strings (empty when it has none)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    return dns + [str(i) for i in san.get_values_for_type(x509.IPAddress)]


def verify_issued_by(cert: x509.Certificate, ca: x509.Certificate) -> str | None:
    """Why ``cert`` is not signed by ``ca`` (None when it is): the chain check Go will do."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        return f"not issued by the CA {_common_name(ca)!r} ({exc or 'bad signature'})"
    return None


# -- SANs --------------------------------------------------------------------------------------
def validate_dns_name(name: str) -> str:
    """A DNS SAN as Go matches it: LDH labels, an optional leading ``*.`` wildcard."""
    value = name.strip().rstrip(".").lower()
    labels = value.split(".")
    if labels and labels[0] == "*" and len(labels) > 2:
        labels = labels[1:]
    ok = 0 < len(value) <= 253 and all(_LABEL.match(label) for label in labels)
    if not ok or is_ip(value):
        raise DockwizError(
            f"invalid DNS name for a certificate: {name!r}",
            "use a host name such as docker.example.com (letters, digits, '-', dots)",
        )
    return value


def validate_ip(value: str) -> str:
    try:
        ip = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError as exc:
        raise DockwizError(
            f"invalid IP address for a certificate: {value!r}", "use e.g. 10.0.0.5 or fd00::5"
        ) from exc
    if ip.is_unspecified:
        raise DockwizError(
            f"{ip} is a listen address, not one a client dials, so it cannot be a SAN",
            "add the addresses clients use, e.g. --san 10.0.0.5",
        )
    if ip.is_multicast:
        raise DockwizError(f"{ip} is a multicast address", "add the addresses clients dial")
    return str(ip)


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def split_sans(values: Sequence[str]) -> tuple[list[str], list[str]]:
    """Sort --san values into (dns, ips); accepts openssl's ``DNS:``/``IP:`` prefixes too."""
    dns: list[str] = []
    ips: list[str] = []
    for raw in values:
        for item in (part.strip() for part in raw.split(",")):
            if not item:
                continue
            kind, _, rest = item.partition(":")
            if kind.upper() == "DNS" and rest:
                dns.append(rest)
            elif kind.upper() in ("IP", "IP ADDRESS") and rest:
                ips.append(rest)
            elif is_ip(item):
                ips.append(item)
            else:
                dns.append(item)
    return validate_sans(dns, ips)


def validate_sans(
    dns_names: Sequence[str], ip_addresses: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Validated, normalised, de-duplicated, order kept. Raises on the first bad entry."""
    dns = list(dict.fromkeys(validate_dns_name(d) for d in dns_names))
    ips = list(dict.fromkeys(validate_ip(i) for i in ip_addresses))
    return dns, ips


def detect_sans(host: Host) -> tuple[list[str], list[str]]:
    """The names and addresses a client may dial this host by: (dns, ips).

    Always ``localhost``, 127.0.0.1 and ::1 (local clients). For a lab host the addresses are
    those inside its network namespace, never this machine's; the machine's host name is left
    out too because it resolves to the machine, not to the lab. Link-local IPv6 addresses are
    left out: they need a zone a certificate cannot carry."""
    dns = ["localhost"]
    ips = ["127.0.0.1", "::1"]
    if host.netns is not None:
        ips += _netns_addresses(host)
    else:
        dns += _host_names(host)
        ips += _interface_addresses()
    dns = [d for d in dict.fromkeys(dns) if _valid_dns(d)]
    return dns, [i for i in dict.fromkeys(ips) if _dialable_ip(i)]


def _valid_dns(name: str) -> bool:
    try:
        validate_dns_name(name)
    except DockwizError:
        return False
    return True


def _dialable_ip(value: str) -> bool:
    try:
        ip = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_multicast or ip.is_link_local)


def _host_names(host: Host) -> list[str]:
    """The host's name (and FQDN when it has one) as /etc/hostname under the root names it;
    a sandbox root without one shares this machine's network, so it gets the machine's name."""
    names: list[str] = []
    with contextlib.suppress(OSError):
        names.append(host.path("/etc/hostname").read_text(encoding="utf-8").strip())
    hostname = names[0] if names and names[0] else socket.gethostname()
    names.append(hostname)
    fqdn = socket.getfqdn(hostname)
    if "." in fqdn and not fqdn.startswith("localhost"):
        names.append(fqdn)
    return [n.lower() for n in names if n]


def _interface_addresses() -> list[str]:
    """This network namespace's own addresses, read from /proc: the IPv4 ``LOCAL`` host routes
    of the FIB trie and the IPv6 ``if_inet6`` table (what ``ip addr`` shows). psutil gives the
    same list but costs 20-50 ms of import on the benchmarked ``dockwiz certs`` path, so it is
    only the fallback when /proc is not readable."""
    try:
        v4 = parse_fib_trie_locals(Path("/proc/net/fib_trie").read_text(encoding="ascii"))
    except OSError:
        return _psutil_addresses()
    try:
        v6 = parse_if_inet6(Path("/proc/net/if_inet6").read_text(encoding="ascii"))
    except OSError:  # IPv6 disabled
        v6 = []
    return v4 + v6


def parse_fib_trie_locals(text: str) -> list[str]:
    """IPv4 addresses with a ``/32 host LOCAL`` entry in /proc/net/fib_trie (order kept)."""
    out: list[str] = []
    last = ""
    for line in text.splitlines():
        item = line.strip()
        if item.startswith("|-- "):
            last = item[4:].strip()
        elif item.startswith("/32 host LOCAL") and last and last not in out:
            out.append(last)
    return out


def parse_if_inet6(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if fields and len(fields[0]) == 32:
            with contextlib.suppress(ValueError):
                out.append(str(ipaddress.IPv6Address(bytes.fromhex(fields[0]))))
    return out


def _psutil_addresses() -> list[str]:
    import psutil

    out: list[str] = []
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family in (socket.AF_INET, socket.AF_INET6):
                out.append(addr.address.split("%", 1)[0])
    return out


def _netns_addresses(host: Host) -> list[str]:
    result = host.run(["ip", "-j", "addr"], in_netns=True, timeout=10)
    if not result.ok:
        return []
    try:
        links = json.loads(result.stdout)
    except ValueError:
        return []
    return [
        str(info["local"])
        for link in links
        for info in link.get("addr_info", [])
        if info.get("family") in ("inet", "inet6") and info.get("local")
    ]


# -- inspecting existing material --------------------------------------------------------------
def cert_info(
    host: Host,
    cert_path: str,
    key_path: str | None = None,
    role: Literal["ca", "server", "client", "unknown"] = "unknown",
) -> CertInfo:
    """What a certificate file (and its key) holds. Never raises: problems go in ``error``."""
    from dockwiz.models.host_state import CertInfo

    info = CertInfo(path=cert_path, role=role, key_path=key_path)
    try:
        local = host.path(cert_path)
        st = local.stat()
        info.mode, info.uid, info.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        data = local.read_bytes()
    except FileNotFoundError:
        info.exists = False
        info.error = f"{cert_path} does not exist"
        return info
    except (OSError, ValueError) as exc:
        info.readable = False
        info.error = f"cannot read {cert_path}: {exc}"
        return info
    try:
        cert = load_certificate(data)
        _fill_cert_fields(info, cert)
    except (DockwizError, ValueError) as exc:
        info.error = f"{cert_path}: not a readable certificate ({exc})"
        return info
    if key_path:
        _fill_key_fields(host, info, cert, key_path)
    return info


def _fill_cert_fields(info: CertInfo, cert: x509.Certificate) -> None:
    info.subject = cert.subject.rfc4514_string()
    info.issuer = cert.issuer.rfc4514_string()
    info.not_before = cert.not_valid_before_utc
    info.not_after = cert.not_valid_after_utc
    info.key_type = key_type_of(cert.public_key())
    exts = cert.extensions
    with contextlib.suppress(x509.ExtensionNotFound):
        info.is_ca = exts.get_extension_for_class(x509.BasicConstraints).value.ca
    with contextlib.suppress(x509.ExtensionNotFound):
        san = exts.get_extension_for_class(x509.SubjectAlternativeName).value
        info.dns_names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        info.ip_addresses = [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    with contextlib.suppress(x509.ExtensionNotFound):
        eku = exts.get_extension_for_class(x509.ExtendedKeyUsage).value
        info.ext_key_usage = [_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku]
    info.self_signed = cert.subject == cert.issuer and verify_issued_by(cert, cert) is None


def _fill_key_fields(host: Host, info: CertInfo, cert: x509.Certificate, key_path: str) -> None:
    try:
        local = host.path(key_path)
        st = local.stat()
        info.key_mode = stat.S_IMODE(st.st_mode)
        key_pem = local.read_bytes()
    except (OSError, ValueError) as exc:
        info.error = f"cannot read the key {key_path}: {exc}"
        return
    try:
        info.key_matches = keys_match(cert, load_private_key(key_pem, None, key_path))
    except DockwizError as exc:
        if "encrypted" not in exc.message:  # an encrypted CA key is fine, just not checkable
            info.error = exc.message


def _dns_matches(pattern: str, name: str) -> bool:
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def san_covers(info: CertInfo, dialled: str) -> bool:
    """Whether a Go client dialling ``dialled`` (a name or an IP) accepts this certificate."""
    target = dialled.strip().strip("[]")
    if is_ip(target):
        want = ipaddress.ip_address(target)
        return any(ipaddress.ip_address(i) == want for i in info.ip_addresses)
    return any(_dns_matches(p, target) for p in info.dns_names)


def _validity_problems(info: CertInfo, what: str) -> list[str]:
    now = _now()
    problems: list[str] = []
    if info.not_after is not None:
        if info.not_after <= now:
            problems.append(f"{what} expired on {info.not_after:%Y-%m-%d}")
        elif info.not_after - now < dt.timedelta(days=RENEW_BEFORE_DAYS):
            left = (info.not_after - now).days
            problems.append(f"{what} expires in {left} days ({info.not_after:%Y-%m-%d}): renew it")
    if info.not_before is not None and info.not_before > now:
        problems.append(f"{what} is not valid before {info.not_before:%Y-%m-%d %H:%M} UTC")
    return problems


def _mode_problems(info: CertInfo, what: str) -> list[str]:
    problems: list[str] = []
    if info.mode is not None and info.mode & ~CERT_MODE:
        problems.append(f"{what} {info.path} has mode {info.mode:04o}, wider than 0444 (CIS 3.12)")
    if info.key_mode is not None and info.key_mode != KEY_MODE:
        problems.append(
            f"key {info.key_path} has mode {info.key_mode:04o}, must be exactly 0400 (CIS 3.14)"
        )
    if info.uid not in (None, 0) or info.gid not in (None, 0):
        problems.append(f"{what} {info.path} is owned by {info.uid}:{info.gid}, not root:root")
    return problems


def check_server_cert(info: CertInfo, listen_host: str, ca: CertInfo | None) -> list[str]:
    """Every reason a Go client (docker CLI) dialling ``listen_host`` would reject this
    server certificate, or the daemon would refuse it, or CIS would flag it. Empty = good.

    ``listen_host`` "", 0.0.0.0 or :: means "any address": the dialled name is then unknown and
    only the presence of SANs is checked."""
    if info.error:
        return [info.error]
    problems = _validity_problems(info, "the server certificate")
    has_sans = bool(info.dns_names or info.ip_addresses)
    if not has_sans:
        problems.append(
            "the server certificate has no subjectAltName, only the legacy Common Name, which Go "
            "clients (docker CLI) ignore: 'x509: certificate relies on legacy Common Name field'"
        )
    target = listen_host.strip().strip("[]")
    any_address = is_ip(target) and ipaddress.ip_address(target).is_unspecified
    if has_sans and target and not any_address and not san_covers(info, target):
        kind = "IP" if is_ip(target) else "DNS"
        problems.append(
            f"the server certificate has no {kind} SAN for {target}: clients dialling it fail "
            f"with 'x509: certificate is valid for ..., not {target}'"
        )
    if info.is_ca:
        problems.append("the server certificate is a CA certificate (basicConstraints CA:TRUE)")
    if info.ext_key_usage and "serverAuth" not in info.ext_key_usage:
        problems.append(
            "the server certificate's extendedKeyUsage lacks serverAuth: Go clients reject it"
        )
    elif not info.ext_key_usage:
        problems.append(
            "the server certificate has no extendedKeyUsage: Go accepts it for any use, so it "
            "could also act as a client certificate; issue one limited to serverAuth"
        )
    if info.key_matches is False:
        problems.append(f"the key {info.key_path} does not match the server certificate")
    problems += _mode_problems(info, "server certificate")
    problems += _ca_problems(info, ca)
    return problems


def _ca_problems(info: CertInfo, ca: CertInfo | None) -> list[str]:
    if info.self_signed:
        return ["the certificate is self-signed: clients cannot verify it against a CA"]
    if ca is None:
        return []
    if ca.error:
        return [f"CA: {ca.error}"]
    problems = [f"CA: {p}" for p in _validity_problems(ca, "the CA")]
    if not ca.is_ca:
        problems.append(f"{ca.path} is not a CA certificate (no basicConstraints CA:TRUE)")
    if ca.subject != info.issuer:
        problems.append(
            f"the certificate was issued by {info.issuer!r}, not by the CA {ca.subject!r}"
        )
    return problems


def check_client_cert(info: CertInfo, ca: CertInfo | None) -> list[str]:
    """Why dockerd (tlsverify) would reject this client certificate, or why it is risky."""
    if info.error:
        return [info.error]
    problems = _validity_problems(info, "the client certificate")
    if info.is_ca:
        problems.append("the client certificate is a CA certificate")
    if info.ext_key_usage and "clientAuth" not in info.ext_key_usage:
        problems.append(
            "the client certificate's extendedKeyUsage lacks clientAuth: dockerd rejects it"
        )
    elif not info.ext_key_usage:
        problems.append(
            "the client certificate has no extendedKeyUsage; issue one limited to clientAuth"
        )
    if info.key_matches is False:
        problems.append(f"the key {info.key_path} does not match the client certificate")
    return problems + _ca_problems(info, ca)


def check_ca_cert(info: CertInfo) -> list[str]:
    if info.error:
        return [info.error]
    problems = _validity_problems(info, "the CA")
    if not info.is_ca:
        problems.append("the CA certificate lacks basicConstraints CA:TRUE: Go cannot chain to it")
    if info.key_matches is False:
        problems.append(f"the CA key {info.key_path} does not match the CA certificate")
    if info.key_mode is not None and info.key_mode & 0o077:
        problems.append(f"the CA key {info.key_path} has mode {info.key_mode:04o}: must be 0400")
    return problems


def lint_certificate(cert: x509.Certificate, role: Literal["ca", "server", "client"]) -> list[str]:
    """What a certificate lacks compared with what dockwiz issues: the judgement applied alike
    to our certificates and to ones made by the tutorials' openssl recipe.

    These are the extension-level checks a :class:`CertInfo` cannot express (it does not carry
    keyUsage or key identifiers); :func:`check_server_cert` covers SANs, EKU, expiry, modes."""
    problems: list[str] = []
    exts = cert.extensions

    def ext(kind: type[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType] | None:
        try:
            return exts.get_extension_for_class(kind)
        except x509.ExtensionNotFound:
            return None

    bc, ku = ext(x509.BasicConstraints), ext(x509.KeyUsage)
    if bc is None:
        problems.append("no basicConstraints: the certificate does not say whether it is a CA")
    elif isinstance(bc.value, x509.BasicConstraints) and bc.value.ca != (role == "ca"):
        problems.append(f"basicConstraints CA:{str(bc.value.ca).upper()} on a {role} certificate")
    if ku is None:
        problems.append("no keyUsage: the key is not limited to what its role needs")
    elif isinstance(ku.value, x509.KeyUsage):
        if role == "ca" and not ku.value.key_cert_sign:
            problems.append("keyUsage lacks keyCertSign on a CA certificate")
        if role != "ca" and ku.value.key_cert_sign:
            problems.append(
                "keyUsage keyCertSign on a leaf certificate: it could sign certificates"
            )
        if role != "ca" and not ku.value.digital_signature:
            problems.append("keyUsage lacks digitalSignature: TLS 1.3 handshakes need it")
    if role != "ca":
        eku = ext(x509.ExtendedKeyUsage)
        want = (
            ExtendedKeyUsageOID.SERVER_AUTH if role == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
        )
        if eku is None:
            problems.append(f"no extendedKeyUsage: not limited to {_EKU_NAMES[want]}")
        elif isinstance(eku.value, x509.ExtendedKeyUsage) and want not in eku.value:
            problems.append(f"extendedKeyUsage lacks {_EKU_NAMES[want]}")
    if role == "server" and not sans_of(cert):
        problems.append("no subjectAltName: Go clients ignore the legacy Common Name")
    if ext(x509.SubjectKeyIdentifier) is None:
        problems.append("no subjectKeyIdentifier")
    if role != "ca" and ext(x509.AuthorityKeyIdentifier) is None:
        problems.append("no authorityKeyIdentifier")
    if cert.serial_number.bit_length() < 64:
        problems.append(f"serial {cert.serial_number} has under 64 random bits")
    algo = cert.signature_hash_algorithm
    if algo is not None and algo.name in ("sha1", "md5"):
        problems.append(f"signed with {algo.name.upper()}, which Go rejects")
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        problems.append(f"RSA key of {key.key_size} bits (Go requires 2048 or more)")
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    if role == "ca" and lifetime < dt.timedelta(days=2 * 365):
        problems.append(
            f"the CA is valid for only {lifetime.days} days: it expires with its leaves, and "
            "replacing a CA means re-issuing every server and client certificate"
        )
    return problems


# -- storage -----------------------------------------------------------------------------------
class _File:
    """One file to write: host path, contents, final mode, mode of its directory."""

    __slots__ = ("data", "dir_mode", "host_path", "mode")

    def __init__(self, host_path: str, data: bytes, mode: int, dir_mode: int) -> None:
        self.host_path, self.data, self.mode, self.dir_mode = host_path, data, mode, dir_mode


class _Undo:
    """What a failed write must take back."""

    def __init__(self) -> None:
        self.created_dirs: list[Path] = []
        self.created_files: list[Path] = []
        self.replaced: list[tuple[Path, bytes, int]] = []


def _root_owner() -> tuple[int | None, int | None]:
    """root:root when we are root; otherwise (a sandbox as a user) keep the caller's owner."""
    return (0, 0) if os.geteuid() == 0 else (None, None)


def _nearest_existing(path: Path) -> Path:
    cur = path
    while not cur.exists() and cur != cur.parent:
        cur = cur.parent
    return cur


def _probe_writable(directory: Path, shown: str) -> None:
    """Fail before any write if ``directory`` cannot take a new file (root ignores modes, so
    ``os.access`` is not enough: read-only mounts and immutable dirs only show on a real try)."""
    if not directory.is_dir():
        raise DockwizError(
            f"cannot write under {shown}: {directory} is not a directory",
            "remove or rename that file, or choose another location",
        )
    probe = directory / f".dockwiz-probe-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise DockwizError(
            f"cannot write under {shown}: {exc.strerror}",
            "run as root, or make the directory writable (is the filesystem read-only?)",
        ) from exc
    os.close(fd)
    probe.unlink()


def _preflight(host: Host, files: Sequence[_File], overwrite: bool) -> None:
    existing: list[str] = []
    for f in files:
        local = host.writable(f.host_path)  # refuses a link out of the root, naming it
        if local.is_symlink() or (local.exists() and not local.is_file()):
            raise DockwizError(
                f"{f.host_path} exists and is not a regular file",
                "remove it or choose another path",
            )
        if local.exists():
            existing.append(f.host_path)
    if existing and not overwrite:
        raise DockwizError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
            "refusing to overwrite",
            "keep them (dockwiz certs show checks them), renew the leaf with "
            "'dockwiz certs renew', or replace them with --overwrite (overwrite=True)",
        )
    for directory in dict.fromkeys(str(PurePath(f.host_path).parent) for f in files):
        local_dir = host.path(directory)
        dir_mode = next(f.dir_mode for f in files if str(PurePath(f.host_path).parent) == directory)
        if local_dir.is_dir() and dir_mode == SECRET_DIR_MODE:
            mode = stat.S_IMODE(local_dir.stat().st_mode)
            if mode & 0o077:
                raise DockwizError(
                    f"{directory} has mode {mode:04o}: it holds private keys and must be 0700",
                    f"chmod 700 {host.path(directory)}",
                )
        _probe_writable(_nearest_existing(local_dir), directory)


def _write_all(host: Host, files: Sequence[_File], overwrite: bool) -> list[str]:
    """Write every file or none: checks first, then atomic writes; any failure undoes them."""
    from dockwiz import fsutil

    _preflight(host, files, overwrite)
    uid, gid = _root_owner()
    undo = _Undo()
    try:
        for f in files:
            local = host.writable(f.host_path)
            # Parents get the usual 0755; only the material's own directory gets its mode.
            undo.created_dirs += fsutil.ensure_dir(
                local.parent.parent, mode=PUBLIC_DIR_MODE, uid=uid, gid=gid
            )
            undo.created_dirs += fsutil.ensure_dir(local.parent, mode=f.dir_mode, uid=uid, gid=gid)
            if local.exists():
                undo.replaced.append(
                    (local, local.read_bytes(), stat.S_IMODE(local.stat().st_mode))
                )
            else:
                undo.created_files.append(local)
            fsutil.atomic_write(local, f.data, mode=f.mode, uid=uid, gid=gid)
    except BaseException as exc:
        _rollback(undo)
        if isinstance(exc, OSError):
            raise DockwizError(
                f"writing the certificates failed ({exc}); nothing was changed",
                "check free space and permissions, then run again",
            ) from exc
        raise
    return [f.host_path for f in files]


def _rollback(undo: _Undo) -> None:
    from dockwiz import fsutil

    uid, gid = _root_owner()
    for path in undo.created_files:
        with contextlib.suppress(OSError):
            path.unlink()
    for path, data, mode in undo.replaced:
        with contextlib.suppress(OSError):
            fsutil.atomic_write(path, data, mode=mode, uid=uid, gid=gid)
    for directory in reversed(undo.created_dirs):
        with contextlib.suppress(OSError):
            directory.rmdir()


def _join(directory: str, name: str) -> str:
    return str(PurePath(directory) / name)


def _check_leaf(ca: Issued, leaf: Issued, what: str) -> None:
    problem = verify_issued_by(leaf.cert, ca.cert)
    if problem or not keys_match(leaf.cert, leaf.key):
        raise DockwizError(
            f"the {what} certificate does not belong to this CA or its key: "
            f"{problem or 'key mismatch'}",
            f"issue the {what} certificate with this CA",
        )


def _server_files(ca: Issued, server: Issued, directory: str) -> list[_File]:
    _check_leaf(ca, server, "server")
    ca_path, cert_path, key_path = server_paths(directory)
    return [
        _File(ca_path, ca.cert_pem(), CERT_MODE, PUBLIC_DIR_MODE),
        _File(cert_path, server.cert_pem(), CERT_MODE, PUBLIC_DIR_MODE),
        _File(key_path, server.key_pem(), KEY_MODE, PUBLIC_DIR_MODE),
    ]


def _ca_files(ca: Issued, passphrase: bytes | None) -> list[_File]:
    _check_ca_usable(ca)
    return [
        _File(_join(CA_DIR, "ca-key.pem"), ca.key_pem(passphrase), KEY_MODE, SECRET_DIR_MODE),
        _File(_join(CA_DIR, "ca.pem"), ca.cert_pem(), CERT_MODE, SECRET_DIR_MODE),
    ]


def write_server_material(
    host: Host,
    ca: Issued,
    server: Issued,
    directory: str = DAEMON_TLS_DIR,
    overwrite: bool = False,
) -> list[str]:
    """ca.pem, server-cert.pem, server-key.pem where dockerd reads them; returns host paths."""
    return _write_all(host, _server_files(ca, server, directory), overwrite)


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


def server_paths(directory: str = DAEMON_TLS_DIR) -> tuple[str, str, str]:
    """(tlscacert, tlscert, tlskey) host paths, as daemon.json names them."""
    return (
        _join(directory, "ca.pem"),
        _join(directory, "server-cert.pem"),
        _join(directory, "server-key.pem"),
    )


def write_ca(
    host: Host, ca: Issued, passphrase: bytes | None = None, overwrite: bool = False
) -> list[str]:
    """The CA cert and key in :data:`CA_DIR` (0700), the key 0400, encrypted with a passphrase."""
    return _write_all(host, _ca_files(ca, passphrase), overwrite)


def ca_exists(host: Host) -> bool:
    return any(host.path(_join(CA_DIR, n)).exists() for n in ("ca.pem", "ca-key.pem"))


def load_ca(host: Host, passphrase: bytes | None = None) -> Issued:
    """The CA from :data:`CA_DIR`, checked: present, a CA, not expired, key matches."""
    cert_path, key_path = _join(CA_DIR, "ca.pem"), _join(CA_DIR, "ca-key.pem")
    try:
        cert_pem = host.path(cert_path).read_bytes()
        key_pem = host.path(key_path).read_bytes()
    except FileNotFoundError as exc:
        raise DockwizError(
            f"no CA at {CA_DIR} ({Path(exc.filename).name} is missing)",
            "create one with 'dockwiz certs init'",
        ) from exc
    except OSError as exc:
        raise DockwizError(
            f"cannot read the CA in {CA_DIR}: {exc.strerror}", "run as root"
        ) from exc
    cert = load_certificate(cert_pem, cert_path)
    ca = Issued(cert, load_private_key(key_pem, passphrase, f"CA key {key_path}"))
    _check_ca_usable(ca)
    return ca


def load_server(host: Host, directory: str = DAEMON_TLS_DIR) -> Issued:
    _, cert_path, key_path = server_paths(directory)
    try:
        return load_issued(host.path(cert_path).read_bytes(), host.path(key_path).read_bytes())
    except FileNotFoundError as exc:
        raise DockwizError(
            f"no server certificate in {directory} ({Path(exc.filename).name} is missing)",
            "issue one with 'dockwiz certs server'",
        ) from exc


# -- client bundles ----------------------------------------------------------------------------
class ClientBundle:
    """A client's DOCKER_CERT_PATH directory (a host path) and how to use it.

    A plain class, not a pydantic model, on purpose: building the first pydantic model in a
    process costs ~0.1-0.2 s, a third of ``dockwiz certs init``'s whole run. :meth:`model_dump`
    gives the plain dict a model would, for JSON and for the models that carry it."""

    __slots__ = ("context_command", "dir", "endpoint", "env_sh", "files", "name")

    def __init__(
        self,
        *,
        name: str,
        dir: str,
        endpoint: str,
        files: list[str],
        env_sh: str,
        context_command: str,
    ) -> None:
        self.name, self.dir, self.endpoint = name, dir, endpoint
        self.files, self.env_sh, self.context_command = files, env_sh, context_command

    def model_dump(self) -> dict[str, object]:
        return {
            name: getattr(self, name)
            for name in ("name", "dir", "endpoint", "files", "env_sh", "context_command")
        }

    def __repr__(self) -> str:
        return f"ClientBundle(name={self.name!r}, dir={self.dir!r}, endpoint={self.endpoint!r})"


def validate_client_name(name: str) -> str:
    if not _CLIENT_NAME.match(name):
        raise DockwizError(
            f"invalid client name {name!r}",
            "use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit",
        )
    return name


def normalize_endpoint(endpoint: str, port: int = DEFAULT_TLS_PORT) -> str:
    """'10.0.0.5' / '10.0.0.5:2376' / 'tcp://h' / 'fd00::5' -> 'tcp://HOST:PORT'."""
    value = endpoint.strip()
    if "://" in value:
        scheme, _, value = value.partition("://")
        if scheme != "tcp":
            raise DockwizError(f"endpoint {endpoint!r} is not tcp://", "use tcp://HOST:2376")
    value = value.rstrip("/")
    host, port_s = value, ""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_s = rest.lstrip(":")
    elif value.count(":") == 1:
        host, _, port_s = value.partition(":")
    if port_s and not (port_s.isdigit() and 0 < int(port_s) < 65536):
        raise DockwizError(f"bad port in endpoint {endpoint!r}", "use tcp://HOST:2376")
    host = validate_ip(host) if is_ip(host) else validate_dns_name(host)
    shown = f"[{host}]" if ":" in host else host
    return f"tcp://{shown}:{port_s or port}"


def client_bundle_text(name: str, directory: str, endpoint: str) -> tuple[str, str]:
    """(env.sh, docker context command) for a bundle directory (a host path)."""
    env_sh = (
        f"# docker CLI settings for the dockwiz client {name!r}: '. {directory}/env.sh'\n"
        "# Copied to another machine? Change DOCKER_CERT_PATH to the directory's new path.\n"
        f"export DOCKER_HOST={shlex.quote(endpoint)}\n"
        "export DOCKER_TLS_VERIFY=1\n"
        f"export DOCKER_CERT_PATH={shlex.quote(directory)}\n"
    )
    docker_arg = (
        f"host={endpoint},ca={directory}/ca.pem,cert={directory}/cert.pem,key={directory}/key.pem"
    )
    command = f"docker context create {shlex.quote(name)} --docker {shlex.quote(docker_arg)}"
    return env_sh, command


def _client_files(
    ca: Issued, client: Issued, name: str, endpoint: str
) -> tuple[list[_File], ClientBundle]:
    validate_client_name(name)
    url = normalize_endpoint(endpoint)
    _check_leaf(ca, client, "client")
    directory = _join(CLIENTS_DIR, name)
    env_sh, command = client_bundle_text(name, directory, url)
    files = [
        _File(_join(directory, "ca.pem"), ca.cert_pem(), CERT_MODE, SECRET_DIR_MODE),
        _File(_join(directory, "cert.pem"), client.cert_pem(), CERT_MODE, SECRET_DIR_MODE),
        _File(_join(directory, "key.pem"), client.key_pem(), KEY_MODE, SECRET_DIR_MODE),
        _File(_join(directory, "env.sh"), env_sh.encode(), CERT_MODE, SECRET_DIR_MODE),
        _File(_join(directory, "context.txt"), f"{command}\n".encode(), CERT_MODE, SECRET_DIR_MODE),
    ]
    bundle = ClientBundle(
        name=name,
        dir=directory,
        endpoint=url,
        files=[f.host_path for f in files],
        env_sh=env_sh,
        context_command=command,
    )
    return files, bundle


def write_client_bundle(
    host: Host,
    ca: Issued,
    client: Issued,
    name: str,
    endpoint: str,
    overwrite: bool = False,
) -> ClientBundle:
    """``CLIENTS_DIR/<name>/`` with ca.pem, cert.pem, key.pem, env.sh and context.txt."""
    files, bundle = _client_files(ca, client, name, endpoint)
    _write_all(host, files, overwrite)
    return bundle


def client_exists(host: Host, name: str) -> bool:
    return host.path(_join(_join(CLIENTS_DIR, validate_client_name(name)), "cert.pem")).exists()


def list_clients(host: Host) -> list[str]:
    local = host.path(CLIENTS_DIR)
    with contextlib.suppress(OSError):
        return sorted(p.name for p in local.iterdir() if p.is_dir() and (p / "cert.pem").exists())
    return []


def iter_material(host: Host, directory: str = DAEMON_TLS_DIR) -> Iterator[CertInfo]:
    """CertInfo for the CA, the daemon's files and every client bundle that exists."""
    yield cert_info(host, _join(CA_DIR, "ca.pem"), _join(CA_DIR, "ca-key.pem"), role="ca")
    ca_path, cert_path, key_path = server_paths(directory)
    yield cert_info(host, ca_path, None, role="ca")
    yield cert_info(host, cert_path, key_path, role="server")
    for name in list_clients(host):
        d = _join(CLIENTS_DIR, name)
        yield cert_info(host, _join(d, "cert.pem"), _join(d, "key.pem"), role="client")
