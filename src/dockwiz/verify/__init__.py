"""Verify: prove a daemon is secured the way a legitimate client and an attacker see it.

An open port proves nothing: a TLS listener that takes any client, or a daemon that trusts the
wrong CA, answers just as well. So verify talks to the daemon for real: the issued client bundle
must get in (our own TLS client, then the docker CLI exactly as the user will run it), and every
way in that should be shut must be shut: no client certificate, a certificate from a rogue CA,
an expired one, plain HTTP to the TLS port, plain TCP on 2375. Each probe says what it tried,
what it saw and, when it is not what a secured daemon does, the likely cause and the fix, named
after the failures users hit most (DOMAIN §7).

The probes run concurrently (they are independent and mostly wait on the network), TCP ones on
a thread inside the host's network namespace (a lab's), so the TCP listeners seen are the
daemon's own, never this machine's.

The package, one job per module (imports point down this list, never up):

- ``context``: what every probe reads (targets, bundle, the daemon's CA, detect_mode)
- ``sources``: where a TCP listener comes from, and the exact edit that removes it
- ``explain``: the failure ids (FAILURES) and their causes and fixes; certificate facts
- ``forge``: rogue and expired client certificates for the negative probes
- ``probes``: the probes against the daemon's endpoints
- ``client``: the docker CLI, env.sh and the hand-off, as the client will use them
- ``run``: verify_host: plan the probes, run them, sum them up
"""

from __future__ import annotations

from dockwiz.verify.explain import (
    FAILURE_OF_KIND,
    FAILURES,
    explain_name_mismatch,
    failure_for,
)
from dockwiz.verify.run import verify_host

__all__ = [
    "FAILURES",
    "FAILURE_OF_KIND",
    "explain_name_mismatch",
    "failure_for",
    "verify_host",
]
