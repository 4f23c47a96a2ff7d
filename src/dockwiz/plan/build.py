"""HostState + Intent -> Plan: the steps in order, the safety net, the plan from a live host,
and saved plans."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

from dockwiz import effective
from dockwiz.docker_paths import SOCKET_URL
from dockwiz.errors import DockwizError
from dockwiz.host import Host
from dockwiz.models.host_state import HostState, Listener
from dockwiz.models.intent import TCP_MODES, Intent, Mode
from dockwiz.models.plan import Endpoint, Plan
from dockwiz.plan.certs import _plan_certs, observe_material
from dockwiz.plan.files import _file_changes
from dockwiz.plan.listeners import (
    _check_sans_and_port,
    _new_argv,
    _plan_hardening,
    _plan_local,
    _plan_tcp,
    _resolve_conflicts,
)
from dockwiz.plan.services import _service_actions
from dockwiz.plan.work import (
    TLS_KEYS,
    _check_unmanaged_flags,
    _dedupe,
    _endpoint,
    _flag_bool,
    _is_tcp,
    _tcp_host,
    _tls_paths,
    _Work,
    endpoints_before,
    tcp_url,
)
from dockwiz.policy import (
    check_intent,
    effective_major,
    is_loopback,
    is_wildcard,
    resolve_listen_host,
    ssh_context_line,
    v27_rules_apply,
)


def build_plan(
    state: HostState, intent: Intent, *, other_listeners: list[Listener] | None = None,
    sources: effective.Effective | None = None,
) -> Plan:
    """Compute the exact change. Pure: reads only its arguments; raises DockwizError on bad
    input.

    ``other_listeners`` are TCP listeners of other processes in the daemon's network namespace
    (the caller can see them, the HostState cannot): a planned port one of them holds is an error.
    ``sources`` (effective.derive of the host) lets the plan remove TCP sources the HostState
    does not carry with their files: docker.socket's TCP ListenStreams.
    """
    violations = check_intent(state, intent)
    blocking = [v for v in violations if v.blocking]
    if blocking:
        first = blocking[0]
        raise DockwizError(first.message, "; or ".join(first.way_out) or None)
    work = _Work(state, intent)
    work.sources = sources
    _check_sans_and_port(work, other_listeners or [])
    if intent.mode in TCP_MODES:
        _plan_tcp(work)
    else:
        _plan_local(work)
    _plan_hardening(work)
    _resolve_conflicts(work)
    _check_unmanaged_flags(work)
    files = _file_changes(work)
    certs, bundle = _plan_certs(work)
    actions = _service_actions(work, files, certs)
    resolved = intent.model_copy(update={"listen_host": work.listen_host})
    plan = Plan(
        intent=resolved if intent.mode in TCP_MODES else intent,
        docker_version=intent.docker_version or state.version.effective,
        files=[f for f in files if f.changed],
        certs=certs,
        actions=actions,
        endpoints_before=endpoints_before(state),
        endpoints_after=_endpoints_after(work),
        violations=violations,
        warnings=[*(v.message for v in violations), *work.warnings],
        notes=work.notes,
        client_bundle=bundle,
        running_containers=state.running_containers,
        exec_start_before=work.argv,
        exec_start_after=_new_argv(work),
        daemon_json_after=work.data,
        material_moves=work.material.moves if work.material and work.material.keeps_ca else [],
        material_reason=work.material.reason if work.material else None,
        material_action=work.material.action if work.material else None,
    )
    _assert_v27_safe(state, intent, plan)
    _explain(work, plan)
    plan.notes = work.notes
    plan.warnings = [*(v.message for v in violations), *work.warnings]
    return plan


def _endpoints_after(work: _Work) -> list[Endpoint]:
    hosts = work.data.get("hosts")
    if isinstance(hosts, str):
        hosts = [hosts]
    urls = [str(h) for h in hosts] if isinstance(hosts, list) and hosts else work.flag_hosts()
    if not urls:
        urls = [SOCKET_URL]
    tls: dict[str, Any] = {k: work.data[k] for k in TLS_KEYS if k in work.data}
    for flag in work.flags:
        if flag.key in TLS_KEYS and flag.key not in tls:
            tls[flag.key] = _flag_bool(flag) if flag.key in ("tls", "tlsverify") else flag.value
    return _dedupe([_endpoint(_full_tcp(u), tls) for u in urls])


def _full_tcp(url: str) -> str:
    if not _is_tcp(url):
        return url
    rest = url.split("://", 1)[-1].rstrip("/")
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        port = port.lstrip(":")
    elif rest.count(":") == 1:
        host, port = rest.split(":")
    else:
        host, port = rest, ""
    return tcp_url(host or "localhost", int(port) if port.isdigit() else 2375)


def _assert_v27_safe(state: HostState, intent: Intent, plan: Plan) -> None:
    """The last line of defence: never hand out plain TCP, nor non-mTLS remote TCP on 27+."""
    major = effective_major(state, intent)
    data = plan.daemon_json_after or {}
    for ep in plan.endpoints_after:
        if ep.security == "socket":
            continue
        remote = not is_loopback(_tcp_host(ep.url))
        if ep.security == "plain":
            raise AssertionError(f"plan would serve unauthenticated TCP on {ep.url}")
        if remote and v27_rules_apply(major) and (
            ep.security != "mtls" or not data.get("tlscacert")
        ):
            raise AssertionError(f"plan would serve {ep.url} without mutual TLS on 27+")


def _dial_host(work: _Work) -> str:
    """What a client dials: the listen address, or for a wildcard the first SAN."""
    if not is_wildcard(work.listen_host):
        return work.listen_host
    return next(iter([*work.intent.sans_ip, *work.intent.sans_dns]), "HOST")


def _explain(work: _Work, plan: Plan) -> None:
    intent, state = work.intent, work.state
    notes = work.notes
    if work.json.repaired_text is not None:
        notes.append(
            "daemon.json had comments or trailing commas, which stop dockerd: they are removed "
            "(the diff shows it)"
        )
    notes.extend(f"daemon.json: {w}" for w in work.json.warnings)
    dropped_fd = any(f.key == "hosts" and (f.value or "").startswith("fd://") for f in work.dropped)
    if dropped_fd:
        notes.append(
            "-H fd:// leaves the command line, so systemd's docker.socket no longer hands the "
            "socket over: dockerd creates /var/run/docker.sock itself when it starts (group "
            "docker, mode 0660) and no longer starts on demand when a client connects; "
            "docker.service stays enabled and starts at boot"
        )
    if intent.mode == Mode.SSH:
        host = work.listen_host if intent.listen_host else "HOST"
        notes.append(
            "ssh mode: clients connect with 'docker -H ssh://USER@HOST ...' or a context: "
            + ssh_context_line(intent.ssh_user, host)
        )
        notes.append(
            "the SSH user must be able to use docker on this host (root or the 'docker' group, "
            "which is root-equivalent) and sshd must be running; no TCP port is opened"
        )
    if intent.mode == Mode.MTLS and plan.client_bundle:
        ep = tcp_url(_dial_host(work), intent.listen_port)
        notes.append(
            f"client bundle in {plan.client_bundle}: copy it to the client and run "
            f"'. env.sh' (DOCKER_HOST={ep}, DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH)"
        )
    if intent.mode == Mode.TLS:
        ca = _tls_paths(work)["ca"]
        notes.append(
            "tls mode: traffic is encrypted but clients are not authenticated; anyone who can "
            "reach the port has root on this host. dockerd logs its 'without --tlsverify is "
            "insecure' warnings and sleeps 1 s at every start for this listener"
        )
        notes.append(
            f"clients check the daemon against {ca}: docker --tlsverify --tlscacert ca.pem "
            f"-H {tcp_url(_dial_host(work), intent.listen_port)} info"
        )
    old_paths = {state.tls.tlscacert, state.tls.tlscert, state.tls.tlskey} - {None}
    new_paths = {work.data.get(k) for k in ("tlscacert", "tlscert", "tlskey")}
    unused = sorted(str(p) for p in old_paths - new_paths)
    if unused:
        notes.append(
            f"TLS files no longer used by the daemon (left in place): {', '.join(unused)}"
        )
    restarting = any(a.kind == "restart" for a in plan.actions)
    staged = any(a.stage is not None for a in plan.actions)
    if restarting and state.daemon_running and not state.live_restore and not staged:
        n = state.running_containers
        if n or n is None:
            what = f"the {n} running container(s)" if n else "every running container"
            work.warnings.append(
                f"the restart stops {what} (live-restore is off; --hardening live-restore "
                "keeps them running)"
            )


def other_listeners(state: HostState) -> list[Listener]:
    """TCP listeners of other processes in the daemon's network namespace ('port in use').

    Only knowable while the daemon runs: /proc/PID/net shows its namespace's sockets.
    """
    from dockwiz import procnet

    if state.process is None:
        return []
    own = {(lst.host, lst.port) for lst in state.listeners if lst.kind == "tcp"}
    found: list[Listener] = []
    for name, v6 in (("tcp", False), ("tcp6", True)):
        try:
            text = (procnet.PROC / str(state.process.pid) / "net" / name).read_text()
        except OSError:
            continue
        found += [
            lst for lst in procnet.parse_tcp_table(text, v6) if (lst.host, lst.port) not in own
        ]
    return found


def plan_for_host(host: Host, intent: Intent) -> tuple[HostState, Plan]:
    """Inspect, add dockwiz's own cert files, plan: the one call for the CLI and the TUI.

    Reads only; the host is never changed. The listeners are derived again from the files as
    the plan would leave them (effective.derive_after): a plan that would leave a TCP source
    the mode forbids is refused here, never shown as "secured".
    """
    from dockwiz.inspect import inspect_host

    state = observe_material(host, inspect_host(host), intent)
    intent = _with_default_sans(host, state, intent)
    plan = build_plan(state, intent, other_listeners=other_listeners(state),
                      sources=effective.derive(host))
    check_plan_result(host, plan)
    _check_ca_key_usable(host, plan)
    return state, plan


def _with_default_sans(host: Host, state: HostState, intent: Intent) -> Intent:
    """A TCP mode on every interface without --san: the names and addresses clients can really
    dial (pki.default_sans: the host's own addresses, never a container bridge), shown in the
    plan's preview, so the CLI and the wizard behave alike (issue 14 §4)."""
    from dockwiz import pki

    if intent.mode not in TCP_MODES or intent.sans_dns or intent.sans_ip:
        return intent
    listen = resolve_listen_host(state, intent)
    if not is_wildcard(listen):
        return intent
    dns, ips = pki.default_sans(host, listen)
    if not dns and not ips:
        return intent
    return intent.model_copy(update={"sans_dns": dns, "sans_ip": ips})


def _check_ca_key_usable(host: Host, plan: Plan) -> None:
    """A passphrase-protected CA key cannot sign at apply time (dockwiz asks no passphrase in
    a transaction): say so at plan time instead of failing half-way (issue 12 §6)."""
    from dockwiz import pki

    ca = next((c for c in plan.certs if c.role == "ca"), None)
    signs = any(c.role in ("server", "client") and c.action != "reuse" for c in plan.certs)
    if ca is None or ca.action != "reuse" or not signs:
        return
    ca_dir = posixpath.dirname(ca.key_path)
    if pki.ca_key_encrypted(host, ca_dir):
        raise DockwizError(
            f"the CA key {ca.key_path} is encrypted: dockwiz cannot sign the new certificates "
            "with it without its passphrase",
            f"decrypt it for the change (openssl pkey -in {ca.key_path} -out KEY, as root, "
            "mode 0400), or start a new CA with --no-reuse (existing clients then need new "
            "bundles)",
        )


def check_plan_result(host: Host, plan: Plan) -> None:
    """Raise if the host's files, once the plan is written, still open a forbidden TCP port."""
    after = effective.derive_after(host, plan.files)
    left = effective.forbidden_tcp(after, effective.allowed_tcp(plan))
    if left:
        raise DockwizError(
            f"the {plan.intent.mode.value} plan cannot remove every TCP listener: "
            f"{effective.describe(left)} would remain",
            "remove that setting by hand (dockwiz cannot rewrite it safely), then plan again",
        )


PLAN_FORMAT = 1


def save_plan(plan: Plan, path: Path) -> None:
    """Save for ``dockwiz apply``; 0600 because it holds the host's full daemon configuration."""
    from dockwiz.fsutil import atomic_write

    payload = {"format": PLAN_FORMAT, "plan": plan.model_dump(mode="json")}
    atomic_write(Path(path), json.dumps(payload, indent=2) + "\n", mode=0o600)


def load_plan(path: Path) -> Plan:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise DockwizError(
            f"cannot read the plan {path}: {exc.strerror}", "check the path"
        ) from exc
    except json.JSONDecodeError as exc:
        raise DockwizError(
            f"{path}:{exc.lineno}:{exc.colno}: not a saved plan ({exc.msg})",
            "save one with 'dockwiz plan --save FILE'",
        ) from exc
    if not isinstance(raw, dict) or raw.get("format") != PLAN_FORMAT or "plan" not in raw:
        raise DockwizError(
            f"{path} is not a dockwiz plan (format {PLAN_FORMAT})",
            "save one with 'dockwiz plan --save FILE'",
        )
    try:
        return Plan.model_validate(raw["plan"])
    except ValueError as exc:
        raise DockwizError(f"{path}: the saved plan is damaged: {exc}", "plan again") from exc
