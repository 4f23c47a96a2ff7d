"""The one certificate judge: what a Go client, dockerd and the CIS benchmark would say.

Every judgement of a certificate lives here, so the places that ask agree: ``dockwiz certs
show``, the plan (keep or re-issue), inspect's findings, apply's validate step (key matches,
signed by the CA, SANs cover every TLS address) and verify's explanations. The first version
judged in four places that disagreed: apply compared SANs exactly while this module accepted
wildcards, so ``*.example.com`` passed one check and failed the other.

Name matching is Go's ``crypto/tls`` rule: a DNS SAN ``*.example.com`` covers exactly one
label (``a.example.com``, not ``example.com`` nor ``a.b.example.com``); an IP is matched
as an address (``::1`` equals ``0:0::1``); the legacy Common Name counts for nothing.

Reading goes through :func:`dockwiz.pki.storage.read_local` only: regular files, no link at the
last step, a size cap, so a FIFO or /dev/zero planted as a certificate never hangs or exhausts
memory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockwiz.addresses import is_ip
from dockwiz.errors import DockwizError
from dockwiz.pki.issue import (
    _now,
    key_type_of,
    keys_match,
    load_certificate,
    load_private_key,
    sans_of,
    verify_issued_by,
)
from dockwiz.pki.storage import CERT_MODE, KEY_MODE, read_local, read_material

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.models.host_state import CertInfo

RENEW_BEFORE_DAYS = 30
"""A certificate that expires within this many days is flagged for renewal (everywhere)."""

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


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
        data, st = read_material(host, cert_path)
        info.mode, info.uid, info.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
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
        key_pem, st = read_material(host, key_path)
        info.key_mode = stat.S_IMODE(st.st_mode)
    except (OSError, ValueError) as exc:
        info.error = f"cannot read the key {key_path}: {exc}"
        return
    try:
        info.key_matches = keys_match(cert, load_private_key(key_pem, None, key_path))
    except DockwizError as exc:
        if "encrypted" not in exc.message:  # an encrypted CA key is fine, just not checkable
            info.error = exc.message


# -- names --------------------------------------------------------------------------------------
def _dns_matches(pattern: str, name: str) -> bool:
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def names_cover(dns_names: Sequence[str], ip_addresses: Sequence[str], dialled: str) -> bool:
    """Whether SANs ``dns_names``/``ip_addresses`` satisfy a Go client dialling ``dialled``."""
    target = dialled.strip().strip("[]")
    if is_ip(target):
        want = ipaddress.ip_address(target)
        return any(_same_ip(i, want) for i in ip_addresses)
    return any(_dns_matches(p, target) for p in dns_names)


def _same_ip(text: str, want: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(text) == want
    except ValueError:
        return False


def san_covers(info: CertInfo, dialled: str) -> bool:
    """Whether a Go client dialling ``dialled`` (a name or an IP) accepts this certificate."""
    return names_cover(info.dns_names, info.ip_addresses, dialled)


def has_sans(info: CertInfo) -> bool:
    """False: only the legacy Common Name, which Go clients ignore (DOMAIN §6)."""
    return bool(info.dns_names or info.ip_addresses)


def uncovered(info: CertInfo, dialled: Sequence[str]) -> list[str]:
    """The names/IPs in ``dialled`` that clients could not use with this certificate."""
    return [d for d in dialled if not san_covers(info, d)]


# -- validity and modes ---------------------------------------------------------------------------
Expiry = Literal["expired", "expiring", "not-yet-valid"]


def expiry(
    not_before: dt.datetime | None, not_after: dt.datetime | None, now: dt.datetime | None = None
) -> Expiry | None:
    """Where a validity period stands now; None when it is comfortably valid (or unknown)."""
    now = now or _now()
    if not_after is not None:
        if not_after <= now:
            return "expired"
        if not_after - now < dt.timedelta(days=RENEW_BEFORE_DAYS):
            return "expiring"
    if not_before is not None and not_before > now:
        return "not-yet-valid"
    return None


KeyModeVerdict = Literal["readable-by-others", "not-0400"]


def key_mode_verdict(mode: int | None) -> KeyModeVerdict | None:
    """A private key: group/others may read it (serious), or just not the exact 0400 of CIS 3.14."""
    if mode is None or mode & 0o7777 == KEY_MODE:
        return None
    return "readable-by-others" if mode & 0o077 else "not-0400"


def cert_mode_too_wide(mode: int | None, allowed: int = CERT_MODE) -> bool:
    """A certificate file more permissive than ``allowed`` (0444, CIS 3.10/3.12)."""
    return mode is not None and bool(mode & 0o7777 & ~allowed)


def _validity_problems(info: CertInfo, what: str) -> list[str]:
    now = _now()
    state = expiry(info.not_before, info.not_after, now)
    problems: list[str] = []
    if state == "expired" and info.not_after is not None:
        problems.append(f"{what} expired on {info.not_after:%Y-%m-%d}")
    elif state == "expiring" and info.not_after is not None:
        left = (info.not_after - now).days
        problems.append(f"{what} expires in {left} days ({info.not_after:%Y-%m-%d}): renew it")
    if info.not_before is not None and info.not_before > now:
        problems.append(f"{what} is not valid before {info.not_before:%Y-%m-%d %H:%M} UTC")
    return problems


def _mode_problems(info: CertInfo, what: str) -> list[str]:
    problems: list[str] = []
    if cert_mode_too_wide(info.mode):
        problems.append(f"{what} {info.path} has mode {info.mode:04o}, wider than 0444 (CIS 3.12)")
    if info.key_mode is not None and key_mode_verdict(info.key_mode):
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
    named = has_sans(info)
    if not named:
        problems.append(
            "the server certificate has no subjectAltName, only the legacy Common Name, which Go "
            "clients (docker CLI) ignore: 'x509: certificate relies on legacy Common Name field'"
        )
    target = listen_host.strip().strip("[]")
    any_address = is_ip(target) and ipaddress.ip_address(target).is_unspecified
    if named and target and not any_address and not san_covers(info, target):
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
    if info.key_mode is not None and key_mode_verdict(info.key_mode) == "readable-by-others":
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



# -- files, for apply's validate step -------------------------------------------------------------
def _file_cert(path: Path) -> x509.Certificate | str:
    """The certificate in a local file, or why it cannot be read (safe reader, PEM or DER)."""
    try:
        data, _ = read_local(path)
        return load_certificate(data, path.name)
    except OSError as exc:
        return f"cannot read {path.name}: {exc.strerror or exc}"
    except DockwizError as exc:
        return exc.message


def key_mismatch(cert_path: Path, key_path: Path) -> str | None:
    """Why the key in ``key_path`` does not belong to the certificate (dockerd would refuse to
    start), or None. A key that cannot be read without a passphrase is a reason too: dockerd
    cannot read an encrypted key either."""
    cert = _file_cert(cert_path)
    if isinstance(cert, str):
        return cert
    try:
        key_pem, _ = read_local(key_path)
        key = load_private_key(key_pem, None, f"key {key_path.name}")
    except OSError as exc:
        return f"cannot read the key {key_path.name}: {exc.strerror or exc}"
    except DockwizError as exc:
        return exc.message
    if not keys_match(cert, key):
        return f"the private key {key_path.name} does not match the certificate"
    return None


def not_signed_by(cert_path: Path, ca_path: Path) -> str | None:
    """Why the certificate was not issued by the CA in ``ca_path`` (the chain check Go does),
    or None."""
    cert, ca = _file_cert(cert_path), _file_cert(ca_path)
    if isinstance(cert, str):
        return cert
    if isinstance(ca, str):
        return f"the CA: {ca}"
    return verify_issued_by(cert, ca)


def uncovered_hosts(cert_path: Path, hosts: Sequence[str]) -> list[str]:
    """The dialled names/IPs in ``hosts`` that the certificate's SANs do not cover, by
    :func:`names_cover` (one wildcard label, as Go). An unreadable certificate covers none."""
    cert = _file_cert(cert_path)
    if isinstance(cert, str):
        return list(hosts)
    dns, ips = _san_lists(cert)
    return [h for h in hosts if not names_cover(dns, ips, h)]


def _san_lists(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    return dns, [str(i) for i in san.get_values_for_type(x509.IPAddress)]


# -- a peer's certificate, for verify's explanations ----------------------------------------------
class CertFacts:
    """What the server sent, as far as explaining a failed handshake needs.

    A plain class (not a dataclass or model): importing ``dataclasses`` costs on the certs path."""

    __slots__ = ("dns", "has_san", "ips", "issuer_cn", "not_after", "not_before", "subject_cn")

    def __init__(
        self,
        *,
        subject_cn: str | None,
        issuer_cn: str | None,
        has_san: bool,
        dns: list[str],
        ips: list[str],
        not_after: dt.datetime,
        not_before: dt.datetime,
    ) -> None:
        self.subject_cn, self.issuer_cn, self.has_san = subject_cn, issuer_cn, has_san
        self.dns, self.ips = dns, ips
        self.not_after, self.not_before = not_after, not_before

    def names(self) -> str:
        listed = [*self.dns, *self.ips]
        return ", ".join(listed) if listed else "none"

    def covers(self, dialled: str) -> bool:
        return names_cover(self.dns, self.ips, dialled)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CertFacts):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CertFacts(subject_cn={self.subject_cn!r}, names={self.names()!r})"


def cert_facts(der: bytes) -> CertFacts | None:
    """The facts of a DER certificate (a TLS peer's); None when it is not one."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None

    def cn(name: x509.Name) -> str | None:
        attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else None

    try:
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        has_san = True
    except x509.ExtensionNotFound:
        has_san = False
    dns, ips = _san_lists(cert)
    return CertFacts(
        subject_cn=cn(cert.subject),
        issuer_cn=cn(cert.issuer),
        has_san=has_san,
        dns=dns,
        ips=ips,
        not_after=cert.not_valid_after_utc,
        not_before=cert.not_valid_before_utc,
    )
