"""Client bundles: a client's DOCKER_CERT_PATH directory, its env.sh and context command.

``CLIENTS_DIR/<name>/`` (0700) holds ``ca.pem cert.pem key.pem`` (the docker CLI's names,
DOMAIN §5), ``env.sh`` and ``context.txt``. Names are checked (no traversal, no hidden
directories); endpoints are normalised to ``tcp://HOST:PORT`` and shell-quoted in the texts.
"""

from __future__ import annotations

import contextlib
import re
import shlex
from typing import TYPE_CHECKING

from dockwiz.addresses import is_ip
from dockwiz.docker_paths import CLIENTS_DIR, TLS_PORT
from dockwiz.errors import DockwizError
from dockwiz.pki.issue import Issued
from dockwiz.pki.sans import validate_dns_name, validate_ip
from dockwiz.pki.storage import (
    CERT_MODE,
    KEY_MODE,
    SECRET_DIR_MODE,
    _check_leaf,
    _File,
    _join,
    _write_all,
    read_material,
)

if TYPE_CHECKING:
    from dockwiz.host import Host

_CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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


def normalize_endpoint(endpoint: str, port: int = TLS_PORT) -> str:
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


def write_bundle_file(host: Host, directory: str, name: str, text: str) -> None:
    """One more plain file in an existing bundle (the hand-off's README.txt), read-only."""
    _write_all(host, [_File(_join(directory, name), text.encode(), CERT_MODE, SECRET_DIR_MODE)],
               True)


def client_dir(name: str) -> str:
    """The bundle's host path; the name is checked first (no traversal, no hidden names)."""
    return _join(CLIENTS_DIR, validate_client_name(name))


def client_exists(host: Host, name: str) -> bool:
    return host.resolve(_join(client_dir(name), "cert.pem")).exists()


def list_clients(host: Host) -> list[str]:
    local = host.resolve(CLIENTS_DIR)
    with contextlib.suppress(OSError):
        return sorted(p.name for p in local.iterdir() if p.is_dir() and (p / "cert.pem").exists())
    return []


def bundle_endpoint(host: Host, name: str) -> str | None:
    """The endpoint a bundle's env.sh points at (kept when the bundle is renewed), or None."""
    try:
        text = read_material(host, _join(client_dir(name), "env.sh"))[0].decode(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("export DOCKER_HOST="):
            return line.split("=", 1)[1].strip("'\"")
    return None
