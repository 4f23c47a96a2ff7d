"""What a dockerd of a given version really does with unauthenticated TCP, and what Docker said.

A security tool's texts must be true for the daemon at hand. Docker's documentation says that
from 27.0 a daemon with remote TCP and no TLS verification "fails to start"; Debian's 28.5.2
starts anyway (measured, ../shared/DOMAIN.md §1 table). The first texts of dockwiz repeated the
documentation as fact and were refuted by the very daemon they were inspecting. So every text that
tells the admin what the daemon does is built here, from measurements per version, and the
announcement is always a separate sentence. dockwiz still *enforces* the documented rule
(policy.py): it is where Docker says it is going, and the admin asked for it.

Measured (Debian's docker.io builds in a network namespace, 2026-12-02): 20.10.24 and 28.5.2;
26.1.5 runs the same ``loadListeners`` code (docker/docker v26.1 source) and is measured by
tests/e2e/test_engines_e2e.py.
"""

from __future__ import annotations

from typing import Literal

Exposure = Literal["plain", "tls-only"]

ANNOUNCED = (
    "Docker has announced that this will become a hard failure: unauthenticated TCP was "
    "deprecated in 26.0, the documentation says 27.0 and later fail to start with it, and its "
    "removal was targeted for 28.0."
)

NOT_YET_ENFORCED = (
    "No released daemon measured so far enforces it (20.10, 26.1 and 28.5 all start); "
    "dockwiz enforces the announced rule so the next upgrade cannot break this host."
)


def _version_words(major: int | None) -> str:
    return "this dockerd (version unknown)" if major is None else f"dockerd {major}"


def startup_behaviour(
    major: int | None, exposure: Exposure, *, tls_explicit: bool, loopback: bool
) -> str:
    """What the daemon does at every start with this listener, measured, in one sentence."""
    who = _version_words(major)
    if exposure == "tls-only":
        return (
            f"{who} starts, after logging three warnings ('Binding to an IP address without "
            "--tlsverify is deprecated', '[DEPRECATION NOTICE] In future versions this will be "
            "a hard failure') and sleeping 1 s."
        )
    if loopback:
        return f"{who} starts and serves the API without authentication to every local process."
    if tls_explicit:
        return (
            f"{who} starts at once (TLS is switched off explicitly, which skips the deliberate "
            "start-up delay) and serves the API without authentication to anyone who can reach "
            "the port."
        )
    extra = " ('... will be removed in the next release')" if major is not None and major >= 28 \
        else ""
    return (
        f"{who} starts, after logging its warnings{extra} and sleeping about 16 s on purpose "
        "('Startup is intentionally being slowed down to show this message'), then serves the "
        "API without authentication to anyone who can reach the port."
    )


def unauthenticated_tcp_text(
    major: int | None, exposure: Exposure, *, tls_explicit: bool, loopback: bool = False
) -> str:
    """The whole truth for a listener without client verification: today, then the announcement."""
    return (
        f"{startup_behaviour(major, exposure, tls_explicit=tls_explicit, loopback=loopback)} "
        f"{ANNOUNCED} {NOT_YET_ENFORCED}"
    )
