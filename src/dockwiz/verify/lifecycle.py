"""Day-two proof: after renew or revoke the new certificate is served, the bundles that keep
access get in, and a revoked bundle is refused.

"The apply succeeded" only says the daemon answered one bundle. What the admin needs proven is
what changed for clients: the daemon serves the *new* certificate (its serial differs from the
one served before), every bundle that should work works, and the revoked bundle (kept on disk
exactly for this negative probe) is turned away by the daemon itself.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dockwiz.models.results import Probe

if TYPE_CHECKING:
    from dockwiz.host import Host


def served_serial(host: Host, url: str, timeout: float = 3.0) -> int | None:
    """The serial of the certificate the daemon serves on a TCP endpoint (None: no TLS)."""
    from cryptography import x509

    from dockwiz import dockerapi
    from dockwiz.netns import in_host_netns

    ep = dockerapi.parse_endpoint(url)
    if ep.kind != "tcp" or ep.port is None:
        return None
    dial, port = ep.dial_host, ep.port
    der = in_host_netns(host, lambda: dockerapi.fetch_server_cert(dial, port, timeout))
    return None if der is None else x509.load_der_x509_certificate(der).serial_number


def _ping(host: Host, url: str, bundle: Path, timeout: float,
          ca: Path | None = None) -> tuple[bool, str]:
    from dockwiz.dockerapi import ClientFiles, ping_endpoint

    files = ClientFiles.from_dir(bundle)
    if ca is not None:  # check the server with the CA it has now: any refusal is the daemon's
        files = ClientFiles(ca=ca, cert=files.cert, key=files.key)
    outcome = ping_endpoint(host, url, files, timeout)
    return outcome.ok, "answered /_ping" if outcome.ok else (outcome.message or "no answer")


def day_two_probes(
    host: Host,
    url: str,
    *,
    old_serial: int | None = None,
    accepted: Mapping[str, Path] | None = None,
    refused: Mapping[str, Path] | None = None,
    timeout: float = 3.0,
) -> list[Probe]:
    """Probes for one TCP endpoint: serial changed (when ``old_serial`` is given), each
    ``accepted`` bundle (name -> local dir) gets in, each ``refused`` one is turned away."""
    probes: list[Probe] = []
    if old_serial is not None:
        started = time.monotonic()
        serial = served_serial(host, url, timeout)
        changed = serial is not None and serial != old_serial
        probes.append(Probe(
            id="served-cert-renewed", title="the daemon serves the new certificate", target=url,
            expect="succeed", outcome="succeeded" if changed else "failed", passed=changed,
            saw=(f"serial {serial:x} (was {old_serial:x})" if serial is not None
                 else "no certificate served"),
            fix=None if changed else "the daemon still serves the old certificate: was it "
            "restarted? (dockwiz lab restart / systemctl restart docker)",
            duration_s=round(time.monotonic() - started, 3)))
    for name, bundle in (accepted or {}).items():
        started = time.monotonic()
        ok, saw = _ping(host, url, bundle, timeout)
        probes.append(Probe(
            id="bundle-accepted", title=f"client {name!r} keeps access", target=url,
            expect="succeed", outcome="succeeded" if ok else "failed", passed=ok, saw=saw,
            fix=None if ok else f"reissue the bundle: dockwiz renew --ca ({bundle})",
            duration_s=round(time.monotonic() - started, 3)))
    current_ca = next((b / "ca.pem" for b in (accepted or {}).values()), None)
    for name, bundle in (refused or {}).items():
        started = time.monotonic()
        ok, saw = _ping(host, url, bundle, timeout, current_ca)
        probes.append(Probe(
            id="revoked-bundle-refused", title=f"revoked client {name!r} is refused",
            target=url, expect="fail", outcome="succeeded" if ok else "failed", passed=not ok,
            saw=saw, cause=("the daemon still trusts the CA that signed it" if ok else None),
            fix=("revoke again: dockwiz clients revoke NAME (a new CA)" if ok else None),
            duration_s=round(time.monotonic() - started, 3)))
    return probes
