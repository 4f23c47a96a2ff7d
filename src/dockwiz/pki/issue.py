"""Issuing: key types, the CA, server and client certificates, and loading PEM/DER material.

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
- **Storage**: see :mod:`dockwiz.pki.storage`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from collections.abc import Sequence
from typing import Literal, get_args

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import _serialization as ser
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockwiz.docker_paths import DEFAULT_CLIENT
from dockwiz.errors import DockwizError
from dockwiz.pki.sans import validate_sans

KeyType = Literal["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"]
KEY_TYPES: tuple[str, ...] = get_args(KeyType)
DEFAULT_KEY_TYPE: KeyType = "ecdsa-p256"
DEFAULT_CA_DAYS = 3650
DEFAULT_LEAF_DAYS = 365
MAX_CA_DAYS = 7300
"""20 years. The CA is the trust anchor every client carries, so it is long-lived by design
(default 10 years), but a longer life buys nothing a planned replacement would not, while its
key keeps its power as long as the certificate lives; and huge values (``--days 99999999``) run
past the year 9999 that X.509 dates can hold."""
MAX_LEAF_DAYS = 3650
"""10 years, the CA's default life: dockerd checks no revocation list, so expiry is the only end
of a stolen client key; a leaf cannot outlive its CA anyway."""
CLOCK_SKEW = dt.timedelta(minutes=5)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


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


def _check_days(days: int, limit: int = MAX_LEAF_DAYS, option: str = "--days") -> None:
    if days < 1:
        raise DockwizError(f"validity of {days} days is not possible", f"give {option} 1 or more")
    if days > limit:
        raise DockwizError(
            f"validity of {days} days is more than the {limit} allowed",
            f"give {option} {limit} or fewer",
        )


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
    _check_days(days, MAX_CA_DAYS, "--ca-days")
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
    common_name: str = DEFAULT_CLIENT,
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

