"""Certificate material as the tutorials leave it, found even when daemon.json does not name it.

The tutorials put the CA, the daemon's pair and client pairs in a handful of places
(``/etc/docker/certs`` with ``ca-key.pem`` beside the daemon's key in seed 004's lab,
``/etc/docker/pki`` and ``~/docker-certs`` in seed 001, ``/home/USER/.docker`` in seed 002,
``server.crt``/``server.key`` in seed 003), often before daemon.json points at them. Inspect
used to see only what daemon.json names, so a host prepared that way showed no certificates
at all. Here every such file is read (through the one safe reader: FIFOs, devices, huge files
and links that leave the host root are skipped with a note), and each is said what it is: a
CA, server or client certificate, or a private key and whose; SANs, expiry, who signed it
(which found CA), whether its key is here and matches, mode and owner.

Three consumers, one module: :func:`discover_material` (inspect fills ``HostState.found_material``),
:func:`findings_for_material` (findings with ids, severity, why and fix, judged by
:mod:`dockwiz.pki.checks`) and :func:`material_choice` (the plan: reuse what is sound, moving the
CA key out of the daemon's directory, or start fresh, with the reason in words).
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath as PurePath
from typing import TYPE_CHECKING, Literal

from dockwiz.docker_paths import CA_DIR, DAEMON_TLS_DIR
from dockwiz.errors import DockwizError
from dockwiz.models.host_state import (
    CertInfo,
    FileMove,
    Finding,
    FoundMaterial,
    MaterialChoice,
    Severity,
)
from dockwiz.pki.checks import (
    _fill_cert_fields,
    ca_key_exposed,
    check_ca_cert,
    expiry,
    has_sans,
    listen_not_covered,
    undialable_sans,
)
from dockwiz.pki.issue import keys_match, load_certificate, load_private_key, verify_issued_by
from dockwiz.pki.storage import CERT_MODE, KEY_MODE, PUBLIC_DIR_MODE, SECRET_DIR_MODE, read_material

if TYPE_CHECKING:
    from cryptography import x509

    from dockwiz.host import Host
    from dockwiz.pki.issue import PrivateKey

SEARCH_DIRS: tuple[str, ...] = (
    "/etc/docker/certs",  # seed 003, seed 004's lab (ca-key.pem beside the daemon's key)
    "/etc/docker/tls",  # dockwiz's own default (DAEMON_TLS_DIR), other tutorials
    "/etc/docker/ssl",
    "/etc/docker/pki",  # seed 001
    "/etc/docker",  # loose *.pem next to daemon.json
    "/root/.docker",  # DOCKER_CERT_PATH's default for root; seed 002 for its user
    "/root/docker-certs",  # seed 001's working directory, as root
)
HOME_DIRS: tuple[str, ...] = (".docker", "docker-certs")
"""Under every /home/USER: seed 002 keeps the daemon's pair in /home/user/.docker."""
PATTERNS = ("*.pem", "*.crt", "*.cert", "*.cer", "*.key")
MAX_FILES_PER_DIR = 64
"""A directory with more candidate files than this is not a tutorial's layout (a trust store?);
the rest are listed as not looked at, so discovery stays quick."""

Role = Literal["ca", "server", "client"]


# -- finding and reading ------------------------------------------------------------------------
def candidate_paths(host: Host) -> list[str]:
    """Host paths of every file worth reading, in search order, each once."""
    dirs = list(SEARCH_DIRS)
    try:  # a directory closed to us (inspect as a normal user) is simply not searched
        home = host.resolve("/home")
        users = sorted(e.name for e in os.scandir(home) if e.is_dir(follow_symlinks=False))
    except OSError:
        users = []
    dirs += [f"/home/{u}/{d}" for u in users for d in HOME_DIRS]
    out: list[str] = []
    for directory in dirs:
        out += [p for p in _listing(host, directory) if p not in out]
    return out


def _listing(host: Host, directory: str) -> list[str]:
    try:
        local = host.resolve(directory)
        names = sorted(e.name for e in os.scandir(local) if not e.is_dir(follow_symlinks=False))
    except OSError:
        return []
    hits = [n for n in names if any(fnmatch.fnmatch(n.lower(), p) for p in PATTERNS)]
    return [str(PurePath(directory) / n) for n in hits[:MAX_FILES_PER_DIR]]


def _link_note(host: Host, host_path: str) -> tuple[str | None, bool]:
    """(what a link at ``host_path`` points to, whether it climbs out of the host root).

    An absolute target is a path ON THE HOST (the daemon there sees /etc/... of its own root),
    so it is resolved inside the root by the one safe reader. A relative target with more
    ``..`` than there are directories above it leads out of the root: not followed."""
    local = host.path(host_path)
    if not local.is_symlink():
        return None, False
    target = str(local.readlink())
    if host.is_real or target.startswith("/"):
        return target, False
    depth = len(PurePath(host_path).parent.parts) - 1
    for part in PurePath(target).parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return target, True
    return target, False


class _Read:
    """One file as read: the model for the report, plus the parsed objects for linking."""

    __slots__ = ("cert", "found", "key")

    def __init__(self, found: FoundMaterial) -> None:
        self.found = found
        self.cert: x509.Certificate | None = None
        self.key: PrivateKey | None = None


def _read(host: Host, host_path: str) -> _Read:
    target, escapes = _link_note(host, host_path)
    link = f"a link to {target}" if target is not None else ""
    if escapes:
        note = f"{link}, outside the host root: not followed"
        return _Read(FoundMaterial(path=host_path, kind="skipped", note=note))
    try:
        data, st = read_material(host, host_path)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        note = f"{link + ': ' if link else ''}not read: {reason}"
        return _Read(FoundMaterial(path=host_path, kind="skipped", note=note))
    found = FoundMaterial(
        path=host_path,
        kind="other",
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
    )
    item = _Read(found)
    if b"PRIVATE KEY" in data:
        _read_key(item, data)
    else:
        _read_cert(item, data)
    return item


def _read_key(item: _Read, data: bytes) -> None:
    from dockwiz.pki.issue import key_type_of

    found = item.found
    found.kind = "key"
    try:
        item.key = load_private_key(data, None, f"key {found.path}")
        found.key_type = key_type_of(item.key)
    except DockwizError as exc:
        if "encrypted" in exc.message:
            found.key_encrypted = True
            found.note = "encrypted: its certificate cannot be matched without the passphrase"
        else:
            found.kind = "other"
            found.note = exc.message


def _read_cert(item: _Read, data: bytes) -> None:
    found = item.found
    try:
        item.cert = load_certificate(data, found.path)
    except DockwizError:
        found.note = "neither a certificate nor a private key"
        return
    info = CertInfo(path=found.path, mode=found.mode, uid=found.uid, gid=found.gid)
    _fill_cert_fields(info, item.cert)
    found.cert = info


def _guess_role(info: CertInfo) -> Role:
    """What a certificate is for: a CA by basicConstraints; a leaf by its extendedKeyUsage when
    that names one use; else by the tutorials' file names (server-cert.pem, client-cert.pem);
    else a leaf with SANs serves, and one in a client's ~/.docker (DOCKER_CERT_PATH) is a client."""
    if info.is_ca:
        return "ca"
    eku = set(info.ext_key_usage)
    if "serverAuth" in eku and "clientAuth" not in eku:
        return "server"
    if "clientAuth" in eku and "serverAuth" not in eku:
        return "client"
    name = PurePath(info.path).name.lower()
    for role in ("server", "client"):
        if role in name:
            return role
    if has_sans(info):
        return "server"
    return "client" if "/.docker/" in info.path else "server"


def discover_material(host: Host, extra_paths: Iterable[str] = ()) -> list[FoundMaterial]:
    """Every certificate and key in the tutorials' places (and ``extra_paths``, e.g. what
    daemon.json names), each said what it is and linked: keys to their certificates, leaves to
    the found CA that signed them. Never raises for a file: problems go in ``note``."""
    paths = candidate_paths(host)
    paths += [p for p in dict.fromkeys(extra_paths) if p and p not in paths]
    items = [_read(host, p) for p in paths]
    certs = [i for i in items if i.cert is not None and i.found.cert is not None]
    for item in certs:
        assert item.found.cert is not None
        role = _guess_role(item.found.cert)
        item.found.kind = role
        item.found.cert.role = role
    _link_keys(items, certs)
    _link_issuers(certs)
    return [i.found for i in items]


def _link_keys(items: Sequence[_Read], certs: Sequence[_Read]) -> None:
    for key_item in (i for i in items if i.key is not None):
        assert key_item.key is not None
        match = next(
            (c for c in certs if c.cert is not None and keys_match(c.cert, key_item.key)), None
        )
        if match is None or match.found.cert is None:
            key_item.found.note = key_item.found.note or "no certificate found here matches it"
            continue
        key_item.found.key_of = match.found.path
        key_item.found.key_of_role = match.found.cert.role
        if match.found.key_path is None:
            match.found.key_path = key_item.found.path
            match.found.key_type = key_item.found.key_type
            match.found.cert.key_path = key_item.found.path
            match.found.cert.key_mode = key_item.found.mode
            match.found.cert.key_matches = True


def _link_issuers(certs: Sequence[_Read]) -> None:
    """``signed_by``: the found CA whose signature verifies (one holding its key preferred, as
    copies of ca.pem are common); a self-signed certificate is signed by itself."""
    cas = sorted(
        (c for c in certs if c.found.kind == "ca"), key=lambda c: c.found.key_path is None
    )
    for item in certs:
        info = item.found.cert
        assert info is not None and item.cert is not None
        if info.self_signed:
            item.found.signed_by = item.found.path
            continue
        cert = item.cert
        issuer = next(
            (ca for ca in cas if ca.cert is not None and verify_issued_by(cert, ca.cert) is None),
            None,
        )
        if issuer is not None:
            item.found.signed_by = issuer.found.path
        else:
            item.found.note = item.found.note or f"issued by {info.issuer}, a CA not found here"


# -- findings ------------------------------------------------------------------------------------
def _finding(
    id_: str, severity: Severity, title: str, why: str, fix: str, evidence: str | None = None
) -> Finding:
    return Finding(id=id_, severity=severity, title=title, why=why, fix=fix, evidence=evidence)


def _is_ca_key(found: FoundMaterial) -> bool:
    """A key that belongs to a found CA certificate, or is named like the tutorials' CA key
    when its certificate is not here (ca-key.pem, ca.key)."""
    if found.kind != "key":
        return False
    if found.key_of_role is not None:
        return found.key_of_role == "ca"
    name = PurePath(found.path).name.lower()
    return name.startswith(("ca-key", "ca.key", "cakey", "ca_key"))


def findings_for_material(
    found: Sequence[FoundMaterial],
    listen_hosts: Sequence[str] = (),
    configured: Iterable[str] = (),
) -> list[Finding]:
    """Findings about the found material, for ``findings.py`` to add as they are.

    ``listen_hosts``: the hosts of the daemon's TCP listeners (configured or planned), against
    which every found server certificate is checked. ``configured``: certificate paths the
    daemon's config names (``HostState.certs``), whose SAN findings ``check_certs`` already
    gives: they are not repeated here (the CA-key finding is, it is this module's alone)."""
    judged = set(configured)
    out: list[Finding] = []
    if found:
        out.append(_summary(found))
    for item in found:
        if _is_ca_key(item):
            problem = ca_key_exposed(item.path)
            if problem:
                out.append(_ca_key_finding(item, problem))
        if item.kind == "skipped":
            out.append(
                _finding(
                    "DW-MATERIAL-SKIPPED", "info", f"{item.path} was not read",
                    f"{item.note}. Certificate files are read only when they are regular files "
                    "of a sane size inside the host root.",
                    f"Look at {item.path} by hand; replace it with the real file if it is meant "
                    "to be one.",
                    evidence=item.path,
                )
            )
        if item.kind != "server" or item.cert is None or item.path in judged:
            continue
        out += _server_findings(item, item.cert, listen_hosts)
    return out


def _summary(found: Sequence[FoundMaterial]) -> Finding:
    lines = [describe(f) for f in found]
    return _finding(
        "DW-MATERIAL-FOUND", "info",
        f"{len(found)} certificate/key file(s) found where tutorials put them",
        "Material left by a tutorial is used by nothing until daemon.json names it, but it is "
        "on the server all the same; a CA kept with it can be reused so existing clients keep "
        "working.",
        "dockwiz plan offers to reuse what is sound (moving the CA key to "
        f"{CA_DIR}) or to start fresh; the preview says which.",
        evidence="; ".join(lines),
    )


def _ca_key_finding(item: FoundMaterial, problem: str) -> Finding:
    return _finding(
        "DW-CA-KEY-ON-SERVER", "high", "The CA private key sits in the daemon's directory",
        problem[0].upper() + problem[1:] + ". The daemon never needs the CA key: it checks "
        "client certificates with the CA certificate alone.",
        f"Move the key off the daemon's path: dockwiz plan moves it to {CA_DIR}/ca-key.pem "
        "(directory 0700, key 0400) and keeps the CA, so existing clients keep working; better "
        "still, keep it offline.",
        evidence=f"{item.path} (mode {_mode(item.mode)}) belongs to {item.key_of or 'a CA'}",
    )


def _server_findings(
    item: FoundMaterial, info: CertInfo, listen_hosts: Sequence[str]
) -> list[Finding]:
    out: list[Finding] = []
    bad = undialable_sans(info.ip_addresses)
    if bad:
        out.append(
            _finding(
                "DW-CERT-UNDIALABLE-SAN", "medium",
                f"The server certificate {item.path} names addresses no client can dial",
                f"IP SAN {', '.join(bad)} is a listen wildcard (or multicast), never an address "
                "a client connects to, so it covers nothing; the certificate was made for the "
                "listen address instead of the addresses clients use.",
                "Issue a server certificate for the host's names and addresses: dockwiz plan "
                "--mode mtls (or dockwiz certs server --listen ADDR).",
                evidence=f"SANs: {', '.join([*info.dns_names, *info.ip_addresses])}",
            )
        )
    for listen in dict.fromkeys(listen_hosts):
        problem = listen_not_covered(info, listen)
        if problem:
            out.append(
                _finding(
                    "DW-CERT-NOT-LISTEN", "high",
                    f"The server certificate {item.path} does not cover {listen or '*'}",
                    problem[0].upper() + problem[1:] + ".",
                    "Issue a server certificate whose SANs name every address clients dial: "
                    "dockwiz plan --mode mtls (it keeps a sound CA).",
                    evidence=f"SANs: {', '.join([*info.dns_names, *info.ip_addresses]) or 'none'}",
                )
            )
    return out


_ROLE_NAMES = {"ca": "CA", "server": "server", "client": "client"}


def _mode(mode: int | None) -> str:
    return f"{mode:04o}" if mode is not None else "?"


def describe(found: FoundMaterial) -> str:
    """One line saying what a found file is, for inspect and the findings' evidence."""
    head = f"{found.path}: "
    if found.kind == "skipped":
        return head + f"skipped ({found.note})"
    owner = f"{_mode(found.mode)} {found.uid}:{found.gid}"
    if found.kind == "key":
        whose = (
            f"key of the {_ROLE_NAMES.get(found.key_of_role or '', 'matching')} certificate "
            f"{found.key_of}"
            if found.key_of
            else "private key" + (" (encrypted)" if found.key_encrypted else ", no match here")
        )
        return head + f"{whose} ({owner})"
    info = found.cert
    if info is None:
        return head + f"not material ({found.note})"
    listed = ", ".join([*info.dns_names, *info.ip_addresses]) or "no SANs"
    bare_ca = found.kind == "ca" and not (info.dns_names or info.ip_addresses)
    sans = "" if bare_ca else f" [{listed}]"
    until = f"{info.not_after:%Y-%m-%d}" if info.not_after else "?"
    signer = (
        "self-signed" if found.signed_by == found.path
        else f"signed by {found.signed_by}" if found.signed_by else "signer not here"
    )
    key = f", key {found.key_path}" if found.key_path else ", no key here"
    role = _ROLE_NAMES.get(found.kind, found.kind)
    return head + f"{role} certificate{sans} until {until}, {signer}{key} ({owner})"


# -- the plan's decision ---------------------------------------------------------------------------
def material_choice(
    found: Sequence[FoundMaterial],
    listen_host: str | None = None,
    *,
    tls_dir: str = DAEMON_TLS_DIR,
    ca_dir: str = CA_DIR,
) -> MaterialChoice:
    """Reuse what was found, or start fresh, and why in words for the preview.

    Reuse needs a CA certificate that is valid with its key here (unencrypted, matching). Then
    the CA is kept, so clients holding certificates from it keep working, and its key moves to
    ``ca_dir`` (0700, key 0400), off the daemon's path. The server certificate is kept too when
    it was signed by that CA, is valid, has its key and covers ``listen_host``; otherwise a new
    one is issued by the kept CA ("reuse-ca"). No sound CA: "fresh", everything new."""
    cas = [f for f in found if f.kind == "ca" and f.cert is not None]
    if not cas:
        servers = [f.path for f in found if f.kind == "server"]
        if not servers:
            return MaterialChoice(
                action="none",
                reason="no existing certificates were found: dockwiz issues a new CA and "
                "server certificate",
            )
        return MaterialChoice(
            action="fresh",
            reason=f"the server certificate {servers[0]} comes without its CA here, so clients "
            "cannot be given certificates it accepts: start fresh with a new CA",
            problems=[f"no CA certificate found for {servers[0]}"],
        )
    judged = [(ca, _ca_blockers(ca, found)) for ca in cas]
    judged.sort(key=lambda pair: (bool(pair[1]), not _signs_a_server(pair[0], found)))
    ca, blockers = judged[0]
    if blockers:
        return MaterialChoice(
            action="fresh",
            reason=f"the CA {ca.path} cannot be reused ({'; '.join(blockers)}): start fresh; "
            "clients holding certificates from the old CA need new bundles",
            ca_cert=ca.path,
            problems=blockers,
        )
    assert ca.key_path is not None
    moves = _ca_moves(ca, ca_dir, tls_dir)
    server, server_blockers = _best_server(ca, found, listen_host)
    common = dict(ca_cert=ca.path, ca_key=ca.key_path)
    if server is not None and not server_blockers:
        assert server.key_path is not None
        moves += _server_moves(server, tls_dir)
        return MaterialChoice(
            action="reuse",
            reason=f"reuse the CA {ca.path} and the server certificate {server.path} (valid, "
            f"signed by that CA{_covering(listen_host)}), so existing clients keep working; "
            f"the CA key moves from {ca.key_path} to {ca_dir}/ca-key.pem (0700 directory, key "
            "0400), off the daemon's path",
            server_cert=server.path,
            server_key=server.key_path,
            moves=[m for m in moves if m.source != m.destination],
            **common,
        )
    why = "; ".join(server_blockers) if server_blockers else "no server certificate from it here"
    return MaterialChoice(
        action="reuse-ca",
        reason=f"keep the CA {ca.path}, so existing clients keep working, and issue a new server "
        f"certificate with it ({why}); the CA key moves from {ca.key_path} to "
        f"{ca_dir}/ca-key.pem (0700 directory, key 0400), off the daemon's path",
        server_cert=server.path if server else None,
        moves=[m for m in moves if m.source != m.destination],
        problems=server_blockers,
        **common,
    )


def _covering(listen_host: str | None) -> str:
    return f", covers {listen_host}" if listen_host else ""


def _ca_blockers(ca: FoundMaterial, found: Sequence[FoundMaterial]) -> list[str]:
    assert ca.cert is not None
    if ca.key_path is None:
        encrypted = [
            f.path for f in found if f.kind == "key" and f.key_encrypted and _is_ca_key(f)
        ]
        if encrypted:
            return [f"its key {encrypted[0]} is encrypted and cannot be checked or used here"]
        return ["its private key is not here, so no new certificate can be signed by it"]
    return check_ca_cert(ca.cert)


def _signs_a_server(ca: FoundMaterial, found: Sequence[FoundMaterial]) -> bool:
    return any(f.kind == "server" and f.signed_by == ca.path for f in found)


def _server_blockers(server: FoundMaterial, listen_host: str | None) -> list[str]:
    info = server.cert
    assert info is not None
    problems: list[str] = []
    state = expiry(info.not_before, info.not_after)
    if state is not None:
        problems.append(f"{server.path} is {state.replace('-', ' ')}")
    if server.key_path is None:
        problems.append(f"the key of {server.path} is not here")
    if not has_sans(info):
        problems.append(f"{server.path} has no subjectAltName (Go clients ignore its CN)")
    if info.ext_key_usage and "serverAuth" not in info.ext_key_usage:
        problems.append(f"{server.path} is not for serverAuth")
    if listen_host is not None:
        problem = listen_not_covered(info, listen_host)
        if problem:
            problems.append(problem)
    bad = undialable_sans(info.ip_addresses)
    if bad:
        problems.append(f"{server.path} names {', '.join(bad)}, which no client dials")
    return problems


def _best_server(
    ca: FoundMaterial, found: Sequence[FoundMaterial], listen_host: str | None
) -> tuple[FoundMaterial | None, list[str]]:
    servers = [f for f in found if f.kind == "server" and f.signed_by == ca.path]
    judged = sorted(
        ((s, _server_blockers(s, listen_host)) for s in servers), key=lambda pair: len(pair[1])
    )
    return judged[0] if judged else (None, [])


def _ca_moves(ca: FoundMaterial, ca_dir: str, tls_dir: str) -> list[FileMove]:
    assert ca.key_path is not None
    key_moves = not _keep_in_place(ca.key_path)
    key_why = (
        "the CA key leaves the daemon's directory: the daemon never needs it"
        if key_moves
        else "a copy for dockwiz; the original stays where its owner keeps it"
    )
    return [
        FileMove(source=ca.key_path, destination=f"{ca_dir}/ca-key.pem", mode=KEY_MODE,
                 dir_mode=SECRET_DIR_MODE, keep_source=not key_moves, reason=key_why),
        FileMove(source=ca.path, destination=f"{ca_dir}/ca.pem", mode=CERT_MODE,
                 dir_mode=SECRET_DIR_MODE, keep_source=True,
                 reason="the CA certificate beside its key"),
        FileMove(source=ca.path, destination=f"{tls_dir}/ca.pem", mode=CERT_MODE,
                 dir_mode=PUBLIC_DIR_MODE, keep_source=True,
                 reason="the daemon's tlscacert: it verifies client certificates with it"),
    ]


def _keep_in_place(key_path: str) -> bool:
    """A CA key outside the daemon's directory (an admin's ~/docker-certs) is copied, not
    moved: it is the admin's own working copy."""
    return ca_key_exposed(key_path) is None


def _server_moves(server: FoundMaterial, tls_dir: str) -> list[FileMove]:
    """The daemon's pair, copied (the old files stay until the admin removes them: whatever
    else names them keeps working)."""
    assert server.key_path is not None
    return [
        FileMove(source=server.path, destination=f"{tls_dir}/server-cert.pem", mode=CERT_MODE,
                 keep_source=True, reason="the daemon's tlscert, kept"),
        FileMove(source=server.key_path, destination=f"{tls_dir}/server-key.pem", mode=KEY_MODE,
                 keep_source=True, reason="the daemon's tlskey, kept (0400)"),
    ]
