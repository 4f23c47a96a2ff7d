"""Running a verify: plan the probes the mode calls for, run them concurrently, and sum them up
in a :class:`VerifyReport`.

The probes are independent and mostly wait on the network, so they run on a small thread pool
and are reported in the order they were planned, whatever order they finish in.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from dockwiz.addresses import is_ip
from dockwiz.docker_paths import PLAIN_PORT, TLS_PORT
from dockwiz.dockerapi import parse_endpoint
from dockwiz.models.results import Probe, VerifyReport
from dockwiz.verify.client import build_handoff, probe_docker_cli, probe_env_sh
from dockwiz.verify.context import PROBE_TIMEOUT, Ctx, Target, parse_expected_mode, probe_context
from dockwiz.verify.forge import expired_client, rogue_client
from dockwiz.verify.probes import (
    probe_client_bundle,
    probe_foreign_client_cert,
    probe_mode,
    probe_no_client_cert,
    probe_observed_tcp,
    probe_plain_http,
    probe_port_closed,
    probe_server_cert,
    probe_socket_perms,
    probe_tls_files,
    probe_tls_ping,
    probe_unix,
)

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.models.host_state import HostState

Task = Callable[[], Probe | list[Probe] | None]
"""One planned probe: run later on the pool; None when it does not apply (no env.sh)."""


def verify_host(
    host: Host,
    *,
    endpoints: list[str] | None = None,
    bundle_dir: Path | None = None,
    expected_mode: str | None = None,
    use_docker_cli: bool = True,
    former_endpoints: list[str] | None = None,
    timeout: float = PROBE_TIMEOUT,
) -> VerifyReport:
    """Probe every endpoint of ``host`` as a client and as an attacker; never changes it.

    ``endpoints`` default to the daemon's configuration; ``bundle_dir`` (a local path) to
    ``CLIENTS_DIR/dockwiz-client`` under the host root; ``expected_mode`` (unix, ssh, tls, mtls)
    to what the configuration amounts to. ``former_endpoints`` are listeners a change removed:
    they must be shut now.
    """
    expected = parse_expected_mode(expected_mode)
    started = time.monotonic()
    from dockwiz.inspect import inspect_host

    state = inspect_host(host)
    with probe_context(
        host, state, endpoints=endpoints, bundle_dir=bundle_dir, expected=expected,
        former_endpoints=former_endpoints, timeout=timeout,
    ) as ctx:
        probes = _run(_plan_probes(ctx, expected, use_docker_cli))
    report = VerifyReport(
        host=host.label, mode=ctx.mode, detected_mode=ctx.detected, expected_mode=expected_mode,
        endpoints=[ep.url for ep in ctx.endpoints],
        bundle=ctx.bundle_shown if ctx.bundle is not None else None,
        probes=probes, handoff=build_handoff(ctx),
    )
    report.warnings = _warnings(report, state)
    report.passed = bool(probes) and all(p.passed for p in probes) and ctx.detected != "unknown"
    report.summary = _summary(report)
    report.duration_s = round(time.monotonic() - started, 3)
    return report


def _plan_probes(ctx: Ctx, expected: str | None, use_docker_cli: bool) -> list[Task]:
    tasks: list[Task] = []
    if expected:
        tasks.append(lambda: probe_mode(ctx, expected))
    for ep in ctx.unix:
        tasks.append(functools.partial(probe_unix, ctx, ep))
        tasks.append(functools.partial(probe_socket_perms, ctx, ep))
    tls_mode = ctx.mode in ("tls", "mtls")
    if tls_mode:
        tasks.append(lambda: probe_tls_files(ctx))
        tasks.append(lambda: probe_client_bundle(ctx))
        tasks.append(lambda: probe_env_sh(ctx))
    if ctx.mode in ("unix", "ssh"):
        tasks.append(lambda: probe_observed_tcp(ctx))
    unix_only = ctx.mode in ("unix", "ssh")
    seen_plain: set[tuple[str, int]] = set()
    for i, target in enumerate(ctx.targets):
        if tls_mode:
            tasks += _tls_target_tasks(ctx, target, first=i == 0, use_cli=use_docker_cli)
        key = (target.dial, target.port)
        if key not in seen_plain and not unix_only:
            seen_plain.add(key)
            title = ("plain HTTP to the TLS port" if tls_mode
                     else "plain HTTP, no authentication")
            tasks.append(functools.partial(
                probe_plain_http, ctx, target.dial, target.port, "plain-http", title))
    closed = [(t.dial, t.port) for t in ctx.targets] if unix_only else []
    for dial, port in closed + _closed_ports(ctx):
        if (dial, port) in seen_plain:
            continue
        seen_plain.add((dial, port))
        if unix_only:
            tasks.append(functools.partial(probe_port_closed, ctx, dial, port))
            continue
        title = f"no plain Docker API on port {port}"
        tasks.append(functools.partial(probe_plain_http, ctx, dial, port, "plain-closed", title))
    return tasks


def _tls_target_tasks(
    ctx: Ctx, target: Target, *, first: bool, use_cli: bool
) -> list[Task]:
    tasks: list[Task] = [
        lambda: probe_tls_ping(ctx, target),
        lambda: probe_server_cert(ctx, target),
    ]
    if not first:
        return tasks  # attacks and the CLI on the address clients use; the rest is redundant
    tasks.append(lambda: probe_no_client_cert(ctx, target))
    tasks.append(lambda: probe_foreign_client_cert(
        ctx, target, "rogue-client-cert", "client certificate from a rogue CA",
        lambda: rogue_client(ctx.scratch)))
    tasks.append(lambda: probe_foreign_client_cert(
        ctx, target, "expired-client-cert", "expired client certificate from the real CA",
        lambda: expired_client(ctx.host, ctx.scratch)))
    if use_cli:
        tasks.append(lambda: probe_docker_cli(ctx, target, "flags"))
        tasks.append(lambda: probe_docker_cli(ctx, target, "env"))
    return tasks


def _closed_ports(ctx: Ctx) -> list[tuple[str, int]]:
    """Where a plain API must not answer: 2375 on every listen address and loopback, every
    former plain listener, and in unix mode also 2376."""
    dials = {t.dial for t in ctx.targets} | {"127.0.0.1"} | set(ctx.addresses[:1])
    ports = [PLAIN_PORT] + ([TLS_PORT] if ctx.mode in ("unix", "ssh") else [])
    if ctx.mode == "tcp":
        ports = [PLAIN_PORT]
    out = [(d, p) for d in sorted(dials) for p in ports]
    for ep in ctx.former:
        if ep.kind == "tcp" and ep.port is not None:
            dials_former = [ctx.addresses[0]] if ep.is_wildcard and ctx.addresses else []
            out += [(d, ep.port) for d in [*dials_former, ep.dial_host]]
    return out



def _run(tasks: list[Task]) -> list[Probe]:
    """Run the probes concurrently, reporting them in the order they were planned."""
    def timed(task: Task) -> list[Probe]:
        started = time.monotonic()
        out = task()
        probes = [] if out is None else out if isinstance(out, list) else [out]
        if len(probes) == 1 and not probes[0].duration_s:
            probes[0].duration_s = round(time.monotonic() - started, 4)
        return probes

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="verify") as pool:
        results = list(pool.map(timed, tasks))
    return [p for group in results for p in group]


def _warnings(report: VerifyReport, state: HostState | None) -> list[str]:
    out = [p.warning for p in report.probes if p.warning]
    major = state.version.major if state is not None else None
    if report.detected_mode == "tls" and major is not None:
        nonlocal_tls = [u for u in report.endpoints if _non_loopback(u)]
        if nonlocal_tls and major >= 27:
            out.append(
                f"Docker {major} requires mutual TLS on a non-loopback TCP address "
                f"({', '.join(nonlocal_tls)}): this configuration is against the v27 rule"
            )
    if report.expected_mode is not None and report.detected_mode != report.expected_mode:
        out.append(f"expected mode {report.expected_mode}, found {report.detected_mode}")
    return list(dict.fromkeys(out))


def _non_loopback(url: str) -> bool:
    with contextlib.suppress(ValueError):
        ep = parse_endpoint(url)
        if ep.kind != "tcp" or ep.host in (None, "localhost"):
            return False
        if ep.is_wildcard:
            return True
        assert ep.host is not None
        return not (is_ip(ep.host) and ipaddress.ip_address(ep.host).is_loopback)
    return False


def _summary(report: VerifyReport) -> str:
    failed = report.failed
    skipped = [p for p in report.probes if p.outcome == "skipped"]
    counts = f"{len(report.probes) - len(failed)}/{len(report.probes)} probes as expected"
    if skipped:
        counts += f", {len(skipped)} skipped"
    if report.detected_mode == "unknown":
        return f"NOT VERIFIED: no daemon endpoint found ({counts})"
    if failed:
        ids = ", ".join(dict.fromkeys(p.failure_id or p.id for p in failed))
        return f"NOT SECURED ({report.mode}): {ids} ({counts})"
    if report.mode == "tls":
        return (f"PASSED as tls ({counts}), but clients are NOT authenticated: anyone who can "
                "reach the port controls the daemon")
    return f"SECURED ({report.mode}): {counts}"
