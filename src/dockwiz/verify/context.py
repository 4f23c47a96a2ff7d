"""What every probe reads: the mode, the endpoints and where clients dial them, the client
bundle (or the daemon's CA), and a private scratch directory.

Built once per verify run by :func:`probe_context`, then only read: the probes run concurrently
on threads, so nothing in a :class:`Ctx` changes after it is made.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from dockwiz import pki
from dockwiz.docker_paths import (
    CA_DIR,
    CLIENTS_DIR,
    DAEMON_TLS_DIR,
    DEFAULT_CLIENT,
    SOCKET_URL,
)
from dockwiz.dockerapi import (
    ApiResponse,
    ClientFiles,
    Endpoint,
    fetch_server_cert,
    parse_endpoint,
)
from dockwiz.errors import DockwizError
from dockwiz.hostnet import remote_addresses
from dockwiz.models.intent import Mode
from dockwiz.models.results import DetectedMode, Probe
from dockwiz.netns import in_host_netns
from dockwiz.verify.sources import TcpSource, tcp_sources

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.models.host_state import HostState

PROBE_TIMEOUT = 3.0

_AS_DETECTED: dict[Mode, DetectedMode] = {
    Mode.UNIX: "unix", Mode.SSH: "ssh", Mode.TLS: "tls", Mode.MTLS: "mtls",
}


def parse_expected_mode(name: str | None) -> DetectedMode | None:
    """An admin's mode name as the mode a daemon is judged against; one vocabulary (Mode)."""
    if name is None:
        return None
    try:
        return _AS_DETECTED[Mode(name)]
    except ValueError:
        raise DockwizError(
            f"unknown mode {name!r}", f"use one of {', '.join(m.value for m in Mode)}"
        ) from None


class Why(NamedTuple):
    failure_id: str
    cause: str
    fix: str


# -- probe bookkeeping -----------------------------------------------------------------------
def make_probe(
    pid: str,
    title: str,
    target: str,
    expect: Literal["succeed", "fail"],
    succeeded: bool | None,
    saw: str,
    why: Why | None = None,
    *,
    warning: str | None = None,
    cis: str | None = None,
) -> Probe:
    """A probe passes when it did what a secured daemon makes it do; skipped ones pass."""
    if succeeded is None:
        return Probe(
            id=pid, title=title, target=target, expect=expect, outcome="skipped", passed=True,
            saw=saw, warning=warning, cis=cis,
        )
    passed = succeeded == (expect == "succeed")
    return Probe(
        id=pid,
        title=title,
        target=target,
        expect=expect,
        outcome="succeeded" if succeeded else "failed",
        passed=passed,
        saw=saw,
        cause=None if passed or why is None else why.cause,
        fix=None if passed or why is None else why.fix,
        failure_id=None if passed or why is None else why.failure_id,
        warning=warning,
        cis=cis,
    )


# -- context ---------------------------------------------------------------------------------
@dataclass
class Target:
    """A TCP endpoint and the address a client dials for it."""

    endpoint: Endpoint
    dial: str

    @property
    def port(self) -> int:
        assert self.endpoint.port is not None
        return self.endpoint.port

    @property
    def url(self) -> str:
        shown = f"[{self.dial}]" if ":" in self.dial else self.dial
        return f"tcp://{shown}:{self.port}"


@dataclass
class Ctx:
    host: Host
    state: HostState | None
    mode: DetectedMode
    detected: DetectedMode
    endpoints: list[Endpoint]
    unix: list[Endpoint]
    tcp: list[Endpoint]
    targets: list[Target]
    addresses: list[str]
    bundle_dir: Path
    bundle_shown: str
    bundle: ClientFiles | None
    bundle_problem: str | None
    server_ca: Path | None
    scratch: Path
    timeout: float = PROBE_TIMEOUT
    former: list[Endpoint] = field(default_factory=list)
    ca_only: str | None = None  # tls mode without a bundle: the daemon's CA (host path) is used
    tcp_sources: list[TcpSource] = field(default_factory=list)  # where TCP listeners come from

    def net(self, fn: Callable[[], ApiResponse]) -> ApiResponse:
        return in_host_netns(self.host, fn)

    def local(self, host_path: str) -> Path:
        """A host path on this machine, symlinks resolved inside the root (never the
        machine's own /run through a sandbox's ``var/run -> /run``)."""
        try:
            return self.host.resolve(host_path)
        except OSError:
            return self.host.path(host_path)


def cert_response(target: Target) -> ApiResponse:
    """The daemon's certificate, fetched without judging it, as an answer carrying it."""
    der = fetch_server_cert(target.dial, target.port)
    return ApiResponse(status=0, reason="", headers={}, body="", peer_cert=der)


@contextlib.contextmanager
def probe_context(
    host: Host,
    state: HostState | None,
    *,
    endpoints: list[str] | None,
    bundle_dir: Path | None,
    expected: DetectedMode | None,
    former_endpoints: list[str] | None,
    timeout: float,
) -> Iterator[Ctx]:
    """The context for one run; its scratch directory (forged client keys) is removed after.

    ``endpoints`` default to the daemon's configuration (else the default socket); the mode is
    ``expected`` when given, else what the configuration amounts to."""
    eps = [_parse(u) for u in endpoints] if endpoints else _configured(state)
    if not eps:
        eps = [parse_endpoint(SOCKET_URL)]
    detected = detect_mode(state, eps)
    mode: DetectedMode = expected if expected is not None else detected
    addresses = remote_addresses(host)
    tcp = [ep for ep in eps if ep.kind == "tcp"]
    local_bundle, shown = _resolve_bundle(host, bundle_dir)
    bundle, problem = _load_bundle(local_bundle, mode)
    ca_only: str | None = None
    if bundle is None and mode == "tls" and bundle_dir is None:
        found = _server_ca(host, state)
        if found is not None:  # tls mode needs no client cert: the daemon's CA is enough
            bundle, ca_only = ClientFiles(ca=found[0]), found[1]
    with _scratch() as scratch:
        yield Ctx(
            host=host, state=state, mode=mode, detected=detected, endpoints=eps,
            unix=_unique_sockets(host, eps), tcp=tcp,
            targets=_targets(tcp, addresses), addresses=addresses, bundle_dir=local_bundle,
            bundle_shown=shown, bundle=bundle, bundle_problem=problem, scratch=scratch,
            server_ca=bundle.ca if bundle is not None else _found_path(_server_ca(host, state)),
            ca_only=ca_only,
            timeout=timeout, former=[_parse(u) for u in former_endpoints or []],
            tcp_sources=tcp_sources(host, state),
        )


def detect_mode(state: HostState | None, endpoints: list[Endpoint]) -> DetectedMode:
    """The mode the configuration amounts to (not what was asked for)."""
    if not any(ep.kind == "tcp" for ep in endpoints):
        return "unix" if endpoints else "unknown"
    if state is None or not state.tls.enabled:
        return "tcp"
    return "mtls" if state.tls.verifies_clients else "tls"


def _configured(state: HostState | None) -> list[Endpoint]:
    if state is None:
        return []
    found: list[Endpoint] = []
    for listener in state.configured_hosts:
        with contextlib.suppress(ValueError):
            ep = parse_endpoint(listener.address)
            if ep.kind == "fd" and state.docker_socket is not None:
                ep = Endpoint(url=ep.url, kind="fd", path=state.docker_socket.path)
            found.append(ep)
    return found


def _targets(tcp: list[Endpoint], addresses: list[str]) -> list[Target]:
    """Where clients dial each endpoint: a wildcard is dialled on the host's address and on
    loopback, a specific address on itself."""
    targets: list[Target] = []
    for ep in tcp:
        if ep.is_wildcard:
            dials = [*addresses[:1], "::1" if ep.host == "::" else "127.0.0.1"]
        else:
            dials = [ep.dial_host]
        targets.extend(Target(ep, d) for d in dials)
    return targets


def _resolve_bundle(host: Host, bundle_dir: Path | None) -> tuple[Path, str]:
    """The bundle to verify with: the one given, else ``dockwiz-client``, else the only (or
    first) client bundle dockwiz issued on this host."""
    if bundle_dir is not None:
        local = Path(bundle_dir)
        try:
            return local, host.host_path_of(local)
        except ValueError:
            return local, str(local)
    names = pki.list_clients(host)
    name = DEFAULT_CLIENT if DEFAULT_CLIENT in names or not names else names[0]
    shown = f"{CLIENTS_DIR}/{name}"
    return host.path(shown), shown


def _load_bundle(directory: Path, mode: DetectedMode) -> tuple[ClientFiles | None, str | None]:
    files = ClientFiles.from_dir(directory)
    if not directory.is_dir():
        return None, "no such directory"
    if not files.ca.is_file():
        return None, "ca.pem is missing"
    have_pair = files.cert is not None and files.cert.is_file()
    have_pair = have_pair and files.key is not None and files.key.is_file()
    if not have_pair:
        if mode == "mtls":
            return None, "cert.pem or key.pem is missing"
        return ClientFiles(ca=files.ca), None
    return files, None


def _server_ca(host: Host, state: HostState | None) -> tuple[Path, str] | None:
    """For tls mode without a bundle: the CA a client would be given to check the daemon,
    found where tutorials and dockwiz put it (tlscacert, next to tlscert, the dockwiz CA)."""

    candidates: list[str] = []
    if state is not None and state.tls.tlscacert:
        candidates.append(state.tls.tlscacert)
    if state is not None and state.tls.tlscert:
        candidates.append(str(Path(state.tls.tlscert).parent / "ca.pem"))
    candidates += [f"{CA_DIR}/ca.pem", f"{DAEMON_TLS_DIR}/ca.pem"]
    for shown in candidates:
        with contextlib.suppress(OSError, ValueError):
            local = host.resolve(shown)
            if local.is_file():
                return local, shown
    return None


def _unique_sockets(host: Host, eps: list[Endpoint]) -> list[Endpoint]:
    """unix/fd endpoints, one per socket file (``/var/run`` and ``/run`` are often the same)."""

    seen: set[Path] = set()
    out: list[Endpoint] = []
    for ep in eps:
        if ep.kind not in ("unix", "fd") or ep.path is None:
            continue
        try:
            local = host.resolve(ep.path)
        except OSError:
            local = host.path(ep.path)
        if local not in seen:
            seen.add(local)
            out.append(ep)
    return out


def _found_path(found: tuple[Path, str] | None) -> Path | None:
    return found[0] if found is not None else None


def _parse(url: str) -> Endpoint:
    try:
        return parse_endpoint(url)
    except ValueError as exc:
        raise DockwizError(str(exc), "use unix:///PATH or tcp://HOST:PORT") from None


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """A private temp dir for the throwaway rogue/expired client keys, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="dockwiz-verify-") as name:
        yield Path(name)
