"""Where the material lives and how it is read and written.

- **Places** (``dockwiz.docker_paths``): the daemon's files in ``DAEMON_TLS_DIR``, the CA in its
  own root-only ``CA_DIR`` (why: see that constant), client bundles under ``CLIENTS_DIR``.
- **Writing**: every file goes through ``Host.writable`` (a symlink that leads out of a sandbox
  root is refused, naming it), all checks run before the first byte, each file is written
  atomically with its final mode and owner, and a failure takes back every file and directory
  this write made: all or nothing.
- **Reading**: :func:`read_material` / :func:`read_local` are the only readers of certificate
  and key files. A certificate path is configuration an attacker (or a slip) can point anywhere:
  at a FIFO (a plain read blocks forever), at /dev/zero (a plain read fills memory), through a
  symlink. So: open with ``O_NONBLOCK | O_NOFOLLOW`` (links are resolved inside the host root
  first, by ``Host.resolve``), accept regular files only, and read at most
  :data:`MAX_MATERIAL_BYTES`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from pathlib import PurePosixPath as PurePath
from typing import TYPE_CHECKING

from dockwiz.docker_paths import CA_DIR, DAEMON_TLS_DIR
from dockwiz.errors import DockwizError
from dockwiz.pki.issue import (
    Issued,
    _check_ca_usable,
    keys_match,
    load_certificate,
    load_issued,
    load_private_key,
    verify_issued_by,
)

if TYPE_CHECKING:
    from dockwiz.host import Host

CERT_MODE = 0o444
KEY_MODE = 0o400
SECRET_DIR_MODE = 0o700
PUBLIC_DIR_MODE = 0o755

MAX_MATERIAL_BYTES = 1 << 20
"""1 MiB: a certificate is 1-2 KB, a key up to ~3.3 KB (RSA-4096), a CA bundle of the whole
public web ~250 KB. Anything larger is not material we can mean to read."""


# -- reading ------------------------------------------------------------------------------------
def read_local(path: Path) -> tuple[bytes, os.stat_result]:
    """A certificate or key file's bytes and its stat, from a LOCAL path; OSError otherwise.

    Never blocks (``O_NONBLOCK``: a FIFO opens at once and is then refused), never follows a
    link at the last step (``O_NOFOLLOW``: ELOOP), regular files only (EINVAL, naming what it
    is), at most :data:`MAX_MATERIAL_BYTES` (EFBIG)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"not a regular file ({_kind(st.st_mode)})", str(path))
        if st.st_size > MAX_MATERIAL_BYTES:
            raise OSError(
                errno.EFBIG, f"{st.st_size} bytes, more than any certificate or key", str(path)
            )
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_MATERIAL_BYTES:  # grew while we read
                raise OSError(errno.EFBIG, "more than any certificate or key", str(path))
        return b"".join(chunks), st
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a file"


def read_material(host: Host, host_path: str) -> tuple[bytes, os.stat_result]:
    """:func:`read_local` of a host path, its symlinks resolved inside the host root."""
    return read_local(host.resolve(host_path))


def _read_or_explain(host: Host, host_path: str, missing: str, hint: str) -> bytes:
    """read_material for the loaders: a missing file and any other refusal as DockwizError."""
    try:
        return read_material(host, host_path)[0]
    except FileNotFoundError as exc:
        raise DockwizError(f"{missing} ({PurePath(host_path).name} is missing)", hint) from exc
    except OSError as exc:
        raise DockwizError(
            f"cannot read {host_path}: {exc.strerror or exc}",
            "run as root" if exc.errno == errno.EACCES else f"make {host_path} a regular file",
        ) from exc


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
        local_dir = host.writable(directory)  # the probe below writes there
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


def check_tls_dir(directory: str) -> str:
    """The daemon's TLS directory as the admin gave it (``--dir``): an absolute host path
    without ``..`` (which would name a different place on the host than under a root), trailing
    slashes dropped. Anything else is a DockwizError naming the option, before any file is
    touched."""
    path = PurePath(directory)
    if not directory or not path.is_absolute() or ".." in path.parts or path == PurePath("/"):
        raise DockwizError(
            f"--dir {directory!r} is not an absolute directory path without '..'",
            f"give the daemon's TLS directory as an absolute path, e.g. --dir {DAEMON_TLS_DIR}",
        )
    return str(path)


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


def ca_exists(host: Host, ca_dir: str = CA_DIR) -> bool:
    return any(host.resolve(_join(ca_dir, n)).exists() for n in ("ca.pem", "ca-key.pem"))


def ca_key_encrypted(host: Host, ca_dir: str = CA_DIR) -> bool:
    """Whether the CA key is passphrase-protected, so using it needs ``--passphrase-file``.

    Decided from the PEM armour alone (``ENCRYPTED PRIVATE KEY``, or a legacy ``Proc-Type:
    4,ENCRYPTED`` header), without trying a passphrase; False when the key is missing or
    unreadable (loading it then says why)."""
    try:
        data, _ = read_material(host, _join(ca_dir, "ca-key.pem"))
    except OSError:
        return False
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


def load_ca(host: Host, passphrase: bytes | None = None, ca_dir: str = CA_DIR) -> Issued:
    """The CA from ``ca_dir``, checked: present, a CA, not expired, key matches.

    ``passphrase`` opens an encrypted CA key (see :func:`ca_key_encrypted`); without one such a
    key is a DockwizError that asks for ``--passphrase-file``."""
    cert_path, key_path = _join(ca_dir, "ca.pem"), _join(ca_dir, "ca-key.pem")
    missing, hint = f"no CA at {ca_dir}", "create one with 'dockwiz certs init'"
    cert_pem = _read_or_explain(host, cert_path, missing, hint)
    key_pem = _read_or_explain(host, key_path, missing, hint)
    cert = load_certificate(cert_pem, cert_path)
    ca = Issued(cert, load_private_key(key_pem, passphrase, f"CA key {key_path}"))
    _check_ca_usable(ca)
    return ca


def load_server(host: Host, directory: str = DAEMON_TLS_DIR) -> Issued:
    _, cert_path, key_path = server_paths(directory)
    missing = f"no server certificate in {directory}"
    hint = "issue one with 'dockwiz certs server'"
    return load_issued(
        _read_or_explain(host, cert_path, missing, hint),
        _read_or_explain(host, key_path, missing, hint),
    )
