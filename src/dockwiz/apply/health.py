"""Is the daemon answering? Deadlines that know dockerd's own sleeps, and /_ping probes.

A daemon is healthy when every planned endpoint answers ``/_ping`` the way a client of that
endpoint's mode would send it (TCP ones with the client certificate), before a deadline that
includes dockerd's deliberate startup sleeps (DOMAIN §1).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockwiz.docker_paths import TLS_PORT
from dockwiz.host import Host

if TYPE_CHECKING:
    from dockwiz.dockerapi import ClientFiles
    from dockwiz.models.host_state import Listener
    from dockwiz.models.plan import Plan

BASE_DEADLINE_S = 20.0
INSECURE_TCP_SLEEP_S = 1.0  # dockerd sleeps 1 s for any TCP host without tlsverify (DOMAIN §1)
IMPLICIT_TLS_SLEEP_S = 15.0  # ...and 15 s more when TLS is not explicit on a non-loopback host
POLL_INTERVAL_S = 0.03
WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names to skip, nothing binds here
PROBE_TIMEOUT_S = 2.0


def health_deadline(plan: Plan) -> float:
    """How long the new daemon may take: base plus dockerd's own deliberate sleeps (§1)."""
    return deadline_for(plan.endpoints_after)


def deadline_for(endpoints: Sequence[Any]) -> float:
    """1 s for any TCP listener without client verification, 15 s more for plain TCP off
    loopback (dockerd sleeps that long when TLS is not explicit, DOMAIN §1)."""
    from urllib.parse import urlsplit

    from dockwiz.policy import is_loopback

    deadline = BASE_DEADLINE_S
    unverified = [e for e in endpoints if e.url.startswith("tcp://")
                  and e.security in ("plain", "tls")]
    if unverified:
        deadline += INSECURE_TCP_SLEEP_S
    if any(e.security == "plain" and not is_loopback(urlsplit(e.url).hostname or "")
           for e in unverified):
        deadline += IMPLICIT_TLS_SLEEP_S
    return deadline


def wait_endpoints(host: Host, endpoints: list[Any], bundle: ClientFiles | None,
                   deadline: float) -> tuple[bool, list[str]]:
    """Poll every endpoint's /_ping until all answer or the deadline passes."""
    pending = list(endpoints)
    lines: list[str] = []
    last: dict[str, str] = {}
    while True:
        still: list[Any] = []
        for e in pending:
            ok, detail = probe_endpoint(host, e, bundle,
                                        min(PROBE_TIMEOUT_S, max(0.2, deadline - time.monotonic())))
            if ok:
                lines.append(f"{e.url} ({e.security}) answers /_ping")
            else:
                last[e.url] = detail
                still.append(e)
        pending = still
        if not pending:
            return True, lines
        if time.monotonic() >= deadline:
            return False, [*lines, *(f"{e.url}: {last.get(e.url, 'no answer')}" for e in pending)]
        time.sleep(POLL_INTERVAL_S)


def probe_endpoint(host: Host, endpoint: Any, bundle: ClientFiles | None,
                   timeout: float) -> tuple[bool, str]:
    """One /_ping the way a client of that endpoint's mode would send it.

    Without client material for a TLS endpoint (confirming the *old* daemon after a rollback,
    whose clients' certificates we never had), a TLS handshake or the server's "certificate
    required" alert is taken as the answer: it proves a TLS daemon is listening there again.
    """
    from dockwiz import dockerapi
    from dockwiz.netns import in_host_netns

    security = endpoint.security
    files = bundle if security in ("tls", "mtls") else None
    if security == "tls" and files is not None:
        files = dockerapi.ClientFiles(ca=files.ca)
    if security in ("tls", "mtls") and files is None:
        ep = dockerapi.parse_endpoint(endpoint.url)
        assert ep.port is not None
        port, dial = ep.port, ep.dial_host
        alive = in_host_netns(host, lambda: dockerapi.speaks_tls(dial, port, timeout))
        return alive, "speaks TLS" if alive else "no TLS answer"
    outcome = dockerapi.ping_endpoint(host, endpoint.url, files, timeout)
    return outcome.ok, outcome.message or ""


def client_files(host: Host, plan: Plan, bundle_dir: str | None) -> ClientFiles | None:
    """What the health wait dials TLS endpoints with: the client bundle, or the CA alone (tls)."""
    from dockwiz.dockerapi import ClientFiles

    candidates = [bundle_dir, plan.client_bundle]
    for d in candidates:
        if d and host.path(d).joinpath("cert.pem").is_file():
            return ClientFiles.from_dir(host.path(d))
    ca = (plan.daemon_json_after or {}).get("tlscacert")
    server = next((c for c in plan.certs if c.role == "server"), None)
    if ca is None and server is not None:
        ca = str(Path(server.cert_path).parent / "ca.pem")
    if ca and daemon_file(host, str(ca)).is_file():
        return ClientFiles(ca=daemon_file(host, str(ca)))
    return None



def daemon_file(host: Host, configured: str) -> Path:
    """Where a path named in daemon.json lives for us: under the host root, or as written.

    On a real host both are the same. A lab's daemon may be given paths already under the lab
    root (it reads the real filesystem), so a path that exists as written inside the root is
    taken as it is.
    """
    p = Path(configured)
    if p.is_absolute() and p.is_relative_to(host.root):
        return p
    return host.path(configured)


# -- only the planned listeners ----------------------------------------------------------------
def _covers(endpoint: Any, listener: Listener) -> bool:
    from urllib.parse import urlsplit

    from dockwiz.policy import is_ip, is_loopback

    if not endpoint.url.startswith("tcp://"):
        return False
    parts = urlsplit(endpoint.url)
    name = parts.hostname or ""
    if listener.port != (parts.port or TLS_PORT):
        return False
    if name in WILDCARDS or not is_ip(name):
        return True  # a wildcard, or a host name the daemon resolved itself: the port decides
    seen = (listener.host or "").strip("[]")
    return seen == name or (is_loopback(name) and listener.loopback)


def unplanned_tcp_listeners(host: Host, endpoints: list[Any]) -> list[str] | None:
    """TCP listeners the running daemon holds (read in its own network namespace from /proc)
    that no planned endpoint accounts for; None when its listeners cannot be read.

    The files can say one thing and the daemon do another (a drop-in the plan never saw, a
    docker.socket ListenStream, a flag in another spelling): what counts is what it listens on.
    """
    from dockwiz.inspect import inspect_host

    state = inspect_host(host)
    if state.process is None or not state.listeners:
        return None
    return [x.address for x in state.listeners
            if x.kind == "tcp" and not any(_covers(e, x) for e in endpoints)]
