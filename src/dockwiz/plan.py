"""HostState + Intent -> Plan: the exact change, computed without writing anything.

Where each setting lives after the plan (the decision everything else follows):

* The sockets stay where they already are. If the command line names them (``-H fd://``,
  ``-H unix://...``), the TCP listener of a tls/mtls mode goes on the command line too
  (``-H tcp://ADDR:PORT`` in the drop-in's ExecStart) and ``hosts`` leaves daemon.json (dockerd
  refuses a directive given both as a flag and in the file, DOMAIN §3). So ``-H fd://`` stays
  and socket activation is kept (issue 12 §1b): systemd holds /run/docker.sock open through
  every restart, clients wait instead of being refused or hanging, and docker.socket is never
  left listening for a daemon that no longer accepts on it. fd:// is never dropped, so
  docker.socket never needs stopping or masking. Without ``-H`` on the command line, ``hosts``
  lives in daemon.json (the unix socket plus the TCP endpoint).
* TLS settings always live in daemon.json; TLS flags leave the command line.
* unix and ssh: nothing TCP anywhere.
* EVERY TCP source the mode forbids is removed or overridden (issue 12 §1): ``-H`` flags in any
  pflag spelling (``-DH tcp://...`` loses only its host), flags expanded from ``$DOCKER_OPTS``
  (the drop-in's ExecStart is written expanded, so /etc/default/docker no longer reaches
  dockerd), daemon.json ``hosts``, and TCP ListenStreams of docker.socket (a docker.socket
  drop-in resets ListenStream to the unix socket). :func:`plan_for_host` then derives the
  listeners again from the files as the plan would leave them (effective.py) and refuses a plan
  that leaves one the mode forbids.
* Any other flag that collides with a key daemon.json will carry is dropped from the command
  line (the file's value wins); every other flag (``--containerd=...``, ``-D``) is kept.

The command line is changed with a drop-in, never the packaged unit; see :func:`_dropin_target`
for which file and why it wins systemd's ordering.

Certificates appear as actions only: key material is made at apply time by the PKI module and
never enters the plan, its JSON or the diff.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import posixpath
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from dockwiz import daemon_json as dj
from dockwiz import diffs, dockerd_flags, effective, systemd
from dockwiz.docker_paths import SOCKET_UNIT_PATH, SOCKET_URL
from dockwiz.errors import DockwizError
from dockwiz.host import Host
from dockwiz.models.host_state import CertInfo, HostState, Listener, MaterialChoice
from dockwiz.models.intent import TCP_MODES, Intent, Mode
from dockwiz.models.plan import CertAction, Endpoint, FileChange, Plan, ServiceAction
from dockwiz.policy import (
    check_intent,
    effective_major,
    is_ip,
    is_loopback,
    is_wildcard,
    resolve_listen_host,
    ssh_context_line,
    strip_brackets,
    v27_rules_apply,
)

DAEMON_JSON = "/etc/docker/daemon.json"
DROPIN_DIR = "/etc/systemd/system/docker.service.d"
DROPIN_PATH = f"{DROPIN_DIR}/dockwiz.conf"
SOCKET_DROPIN_DIR = "/etc/systemd/system/docker.socket.d"
SOCKET_DROPIN_NAME = "zz-dockwiz.conf"
TLS_KEYS = ("tls", "tlsverify", "tlscacert", "tlscert", "tlskey")
# Options dockerd re-reads on SIGHUP (daemon/reload.go, 20.10 through 28); all else restarts.
RELOADABLE_KEYS = frozenset(
    {
        "debug",
        "labels",
        "live-restore",
        "max-concurrent-downloads",
        "max-concurrent-uploads",
        "max-download-attempts",
        "default-runtime",
        "runtimes",
        "authorization-plugins",
        "allow-nondistributable-artifacts",
        "insecure-registries",
        "registry-mirrors",
        "shutdown-timeout",
        "features",
        "network-diagnostic-port",
    }
)
LOG_ROTATING_DRIVERS = frozenset({"json-file", "local"})


# -- command-line flags -----------------------------------------------------------------------
# One option of dockerd's command line with the exact tokens it occupies (dockerd_flags.Arg).
Flag = dockerd_flags.Arg


def split_flags(args: list[str]) -> tuple[list[Flag], list[Flag]]:
    """dockerd's arguments as (options, other tokens), read by the one pflag-exact parser.

    Token-exact so the drop-in can drop one option and keep every other token byte for byte;
    options read from one combined token (``-DH tcp://x``) share that token's ``group``.
    """
    parsed = dockerd_flags.parse_args(args)
    return [a for a in parsed.args if a.is_flag], [a for a in parsed.args if not a.is_flag]


def _flag_bool(flag: Flag) -> bool:
    return flag.bool_value is True


# -- daemon.json ------------------------------------------------------------------------------
class _JsonFile(BaseModel):
    exists: bool
    text: str | None
    data: dict[str, Any]
    repaired_text: str | None = None
    mode: int | None = None
    empty: bool = False
    warnings: list[str] = Field(default_factory=list)


def _load_daemon_json(state: HostState) -> _JsonFile:
    """The current daemon.json as data; repair comments/trailing commas, refuse what is unsafe."""
    dstate = state.daemon_json
    if not dstate.exists:
        return _JsonFile(exists=False, text=None, data={})
    if not dstate.readable or dstate.text is None:
        raise DockwizError(
            f"cannot read {dstate.path}",
            "run dockwiz as root (plan reads daemon.json to change only what the mode needs)",
        )
    text = dstate.text
    analysis = dj.analyze(text, source=dstate.path)
    repaired_text: str | None = None
    if analysis.data is not None:
        data = analysis.data
    elif analysis.repairable and analysis.repaired_data is not None:
        data, repaired_text = analysis.repaired_data, analysis.repaired_text
    else:
        problem = analysis.repair_error or analysis.error
        assert problem is not None
        raise dj.DaemonJsonError(
            problem.message, problem.line, problem.col, source=dstate.path,
            hint="fix the file by hand (its meaning is ambiguous, so dockwiz will not guess), "
            "then run plan again",
        )
    bad = dj.unknown_keys(data)
    if bad:
        raise DockwizError(
            f"{dstate.path}: {dj.unknown_keys_message(bad)}",
            "fix the spelling or remove them: dockerd refuses to start with unknown keys",
        )
    wrong = dj.type_problems(data)
    if wrong:
        raise DockwizError(
            f"{dstate.path}: {'; '.join(wrong)}", "fix the value types: dockerd refuses them"
        )
    return _JsonFile(
        exists=True, text=text, data=data, repaired_text=repaired_text, mode=dstate.mode,
        empty=analysis.empty, warnings=analysis.warnings,
    )


def _set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set in place: an existing key keeps its position, a new one is appended."""
    data[key] = value


def _drop_key(data: dict[str, Any], key: str) -> None:
    data.pop(key, None)


# -- hosts and endpoints ----------------------------------------------------------------------
def _is_tcp(url: str) -> bool:
    return url.startswith("tcp://") or ("://" not in url and ":" in url)


def _is_local_socket(url: str) -> bool:
    return url.startswith(("unix://", "fd://"))


def tcp_url(host: str, port: int) -> str:
    h = strip_brackets(host)
    return f"tcp://[{h}]:{port}" if ":" in h else f"tcp://{h}:{port}"


def _tcp_host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    if rest.startswith("["):
        return rest[1 : rest.find("]")]
    return rest.rsplit(":", 1)[0] if ":" in rest else rest


def _endpoint(url: str, tls: dict[str, Any]) -> Endpoint:
    if not _is_tcp(url):
        sock = SOCKET_URL if url.startswith("fd://") else url
        return Endpoint(url=sock, security="socket")
    verify = tls.get("tlsverify")
    if verify is None and tls.get("tls"):
        verify = True  # tls: true with tlsverify unset means verification on (DOMAIN §2)
    if verify:
        return Endpoint(url=url, security="mtls")
    if tls.get("tls") or "tlsverify" in tls:
        return Endpoint(url=url, security="tls")
    return Endpoint(url=url, security="plain")


def _endpoints_before(state: HostState) -> list[Endpoint]:
    tls = state.tls.model_dump(exclude_none=True)
    urls: list[str] = []
    for lst in state.configured_hosts:
        if lst.kind == "tcp":
            urls.append(tcp_url(lst.host or "", lst.port or 0))
        elif lst.kind == "fd":
            urls.append("fd://")
        else:
            urls.append(lst.address if "://" in lst.address else f"unix://{lst.address}")
    if not urls and state.docker_installed:
        urls.append(SOCKET_URL)
    return _dedupe([_endpoint(u, tls) for u in urls])


def _dedupe(endpoints: list[Endpoint]) -> list[Endpoint]:
    seen: set[str] = set()
    out: list[Endpoint] = []
    for ep in endpoints:
        if ep.url not in seen:
            seen.add(ep.url)
            out.append(ep)
    return out


# -- the plan ---------------------------------------------------------------------------------
class _Work:
    """Mutable scratch state while one plan is computed."""

    def __init__(self, state: HostState, intent: Intent) -> None:
        self.state = state
        self.intent = intent
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.listen_host = resolve_listen_host(state, intent)
        self.json = _load_daemon_json(state)
        self.data: dict[str, Any] = copy.deepcopy(self.json.data)
        self.argv = _current_exec_start(state)
        self.binary = self.argv[0] if self.argv else None
        parsed = dockerd_flags.parse_args(self.argv[1:] if self.argv else [])
        self.args = parsed.args  # every token group, in order: the base for the new argv
        self.flags = [a for a in parsed.args if a.is_flag and a.problem is None]
        self.loose = [a for a in parsed.args if not a.is_flag or a.problem is not None]
        self.added: dict[int, list[list[str]]] = {}  # group -> tokens inserted after it
        self.sources: effective.Effective | None = None
        self.dropped: list[Flag] = []
        self.drop_reasons: list[str] = []
        self.material: MaterialChoice | None = None  # what to do with found certificates

    def flag_hosts(self) -> list[str]:
        added = [tokens[1] for group in self.added.values() for tokens in group
                 if tokens[0] == "-H"]
        return [f.value or "" for f in self.flags if f.key == "hosts"] + added

    def shown(self, flag: Flag) -> str:
        """The option as written, or spelled out when it shares a token (``-DH x``)."""
        alone = sum(1 for a in self.args if a.group == flag.group) == 1
        value = None if flag.kind == "bool" and flag.value is None else flag.value
        return " ".join(flag.tokens if alone else dockerd_flags.spell(flag.name, value))

    def drop_flags(self, keys: set[str], why: str) -> None:
        self.drop_flag_objs([f for f in self.flags if f.key in keys], why)

    def drop_flag_objs(self, doomed: list[Flag], why: str) -> None:
        if not doomed:
            return
        ids = {id(f) for f in doomed}
        self.dropped.extend(doomed)
        shown = ", ".join(self.shown(f) for f in doomed)
        self.notes.append(f"command line: drop {shown} ({why})")
        self.drop_reasons.append(why)
        self.flags = [f for f in self.flags if id(f) not in ids]


def _current_exec_start(state: HostState) -> list[str] | None:
    unit = state.unit
    if unit.exists:
        if not unit.exec_start:
            raise DockwizError(
                f"{unit.path or 'docker.service'} has no usable ExecStart, so it cannot start "
                f"dockerd ({'; '.join(unit.problems) or 'none set'})",
                "reinstall the docker package (its unit sets ExecStart) or fix the drop-in "
                "that resets ExecStart without setting one; then run plan again",
            )
        return list(unit.exec_start)
    return None


def _check_unmanaged_flags(work: _Work) -> None:
    """No systemd unit: dockwiz cannot change the command line, so it must not need to."""
    process = work.state.process
    if work.argv is not None or process is None or not process.argv:
        return
    flags = dockerd_flags.parse_dockerd_args(process.argv)
    clash = systemd.conflicting_directives(flags, work.data)
    tcp = [h for h in flags.hosts if not _is_local_socket(h)]
    if work.intent.mode not in TCP_MODES and tcp:
        clash.append("hosts")
    if clash:
        raise DockwizError(
            f"dockerd runs with {', '.join(sorted(set(clash)))} on its command line and there is "
            "no docker.service unit through which dockwiz could change that",
            "remove those options from DOCKER_OPTS in /etc/default/docker (or the init script) "
            "and run plan again",
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
        endpoints_before=_endpoints_before(state),
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


def _check_sans_and_port(work: _Work, others: list[Listener]) -> None:
    intent = work.intent
    if intent.mode not in TCP_MODES:
        return
    host = work.listen_host
    explicit = intent.sans_dns or intent.sans_ip
    if explicit:
        from dockwiz import pki

        pki.validate_sans(intent.sans_dns, intent.sans_ip)  # a clear DockwizError if not
    if is_wildcard(host) and not explicit:
        raise DockwizError(
            f"listening on {host} (every interface) but no names or addresses for the certificate",
            "pass --san with each name and IP address clients will dial (Go clients need an IP "
            "SAN for every IP they use), or --listen a specific address",
        )
    if explicit and not is_wildcard(host):
        covered = (is_ip(host) and _ip_in(host, intent.sans_ip)) or (
            not is_ip(host) and host.lower() in {d.lower() for d in intent.sans_dns}
        )
        if not covered:
            raise DockwizError(
                f"the certificate names {', '.join([*intent.sans_dns, *intent.sans_ip])} do not "
                f"cover the listen address {host}: clients dialling it would fail verification",
                f"add --san {host}",
            )
    for lst in others:
        if lst.kind == "tcp" and lst.port == intent.listen_port and _same_bind(lst.host, host):
            raise DockwizError(
                f"port {intent.listen_port} on {lst.host} is already used by "
                f"{_port_holder_text(work.state, intent.listen_port)}",
                "stop that process or choose another port with --listen ADDR:PORT",
            )


def _port_holder_text(state: HostState, port: int) -> str:
    """'nc (pid 4242)': the process holding the port, looked up in the daemon's namespace."""
    from dockwiz import procnet

    holders = procnet.port_holders(port, state.process.pid) if state.process else []
    if not holders:
        return "another process"
    return ", ".join(f"{name} (pid {pid})" for pid, name in holders)


def _ip_in(host: str, ips: list[str]) -> bool:
    want = ipaddress.ip_address(strip_brackets(host))
    for ip in ips:
        try:
            if ipaddress.ip_address(strip_brackets(ip)) == want:
                return True
        except ValueError:
            continue
    return False


def _same_bind(a: str | None, b: str) -> bool:
    if a is None:
        return True
    return is_wildcard(a) or is_wildcard(b) or strip_brackets(a) == strip_brackets(b)


def _normalise_socket(url: str) -> str:
    return SOCKET_URL if url.startswith("fd://") else url


def _plan_tcp(work: _Work) -> None:
    """tls/mtls: one TCP endpoint, next to the sockets wherever they are; TLS in daemon.json."""
    intent = work.intent
    want = tcp_url(work.listen_host, intent.listen_port)
    host_flags = [f for f in work.flags if f.key == "hosts"]
    if any(_is_local_socket(f.value or "") for f in host_flags):
        _tcp_on_command_line(work, host_flags, want)
    else:
        _tcp_in_daemon_json(work, want)
    paths = _tls_paths(work)
    wanted: dict[str, Any] = {}
    if intent.mode == Mode.MTLS:
        # tlsverify: true turns TLS on by itself (DOMAIN §2); an existing "tls" is made true
        # so the file never reads as a contradiction, an absent one stays absent.
        if "tls" in work.data:
            wanted["tls"] = True
        wanted |= {"tlsverify": True, "tlscacert": paths["ca"]}
    else:
        wanted |= {"tls": True, "tlsverify": False}  # exactly this pair means TLS-only
    wanted |= {"tlscert": paths["cert"], "tlskey": paths["key"]}
    for key in TLS_KEYS:
        if key in wanted:
            if work.data.get(key) != wanted[key]:
                _set_key(work.data, key, wanted[key])
        else:
            _drop_key(work.data, key)
    work.drop_flags(set(TLS_KEYS), "TLS settings live in daemon.json")


def _tcp_on_command_line(work: _Work, host_flags: list[Flag], want: str) -> None:
    """The command line names the sockets: keep them (fd:// keeps socket activation), replace
    every other TCP -H by the planned one, and take ``hosts`` out of daemon.json."""
    keep = next((f for f in host_flags if f.value == want), None)
    doomed = [f for f in host_flags if not _is_local_socket(f.value or "") and f is not keep]
    work.drop_flag_objs(doomed, "the planned TCP listener replaces it")
    if keep is None:
        anchor = [f for f in work.flags if f.key == "hosts"][-1]
        work.added.setdefault(anchor.group, []).append(["-H", want])
        sockets = [f.value or "" for f in work.flags if f.key == "hosts"]
        why = (", so -H fd:// (socket activation) stays: systemd keeps the unix socket open "
               "through the restart and clients wait instead of failing"
               if any(h.startswith("fd://") for h in sockets) else "")
        work.notes.append(
            f"command line: add -H {want} next to {', '.join('-H ' + h for h in sockets)}{why}")
    if "hosts" in work.data:
        _drop_key(work.data, "hosts")
        work.notes.append(
            "daemon.json: 'hosts' removed; the command line names every listener (having both "
            "stops dockerd)"
        )


def _tcp_in_daemon_json(work: _Work, want: str) -> None:
    """No socket on the command line: ``hosts`` in daemon.json, every -H leaves the line."""
    file_hosts = work.data.get("hosts")
    sockets: list[str] = []
    if isinstance(file_hosts, list):
        sockets += [_normalise_socket(str(h)) for h in file_hosts if _is_local_socket(str(h))]
    if not sockets:
        sockets = [SOCKET_URL]
    hosts = [*dict.fromkeys(sockets), want]
    if file_hosts != hosts:
        _set_key(work.data, "hosts", hosts)
    work.drop_flags({"hosts"}, "hosts now live in daemon.json")


def _plan_local(work: _Work) -> None:
    """unix/ssh: no TCP anywhere, no TLS keys; sockets stay where they already are.

    If the command line keeps a socket (-H fd://, -H unix://...), a ``hosts`` list in
    daemon.json is dropped rather than moving the flags: the stock unit keeps socket activation
    and needs no drop-in. Otherwise daemon.json's own socket entries are kept.
    """
    tcp_flags = [f for f in work.flags if f.key == "hosts" and not _is_local_socket(f.value or "")]
    work.drop_flag_objs(tcp_flags, "no TCP listener in this mode")
    if "hosts" in work.data:
        file_hosts = work.data["hosts"]
        kept = [h for h in file_hosts or [] if _is_local_socket(str(h))]
        if work.flag_hosts():
            _drop_key(work.data, "hosts")
            work.notes.append(
                "daemon.json: 'hosts' removed; the command line's -H already names the socket "
                "(having both stops dockerd)"
            )
        elif not kept:
            _drop_key(work.data, "hosts")  # dockerd's default: unix:///var/run/docker.sock
        elif kept != file_hosts:
            _set_key(work.data, "hosts", kept)
    for key in TLS_KEYS:
        _drop_key(work.data, key)
    tls_flags = [f for f in work.flags if f.key in TLS_KEYS]
    work.drop_flag_objs(tls_flags, "TLS only served TCP")


def _plan_hardening(work: _Work) -> None:
    h = work.intent.hardening
    flag_value = {f.key: f for f in work.flags}

    def want(key: str, value: Any) -> None:
        current = work.data.get(key)
        if current is None and key in flag_value:
            flag = flag_value[key]
            current = _flag_bool(flag) if isinstance(value, bool) else flag.value
        if current != value:
            _set_key(work.data, key, value)

    if h.live_restore:
        want("live-restore", True)
    if h.icc_off:
        want("icc", False)
    if h.no_new_privileges:
        want("no-new-privileges", True)
    if h.userns_remap and not work.data.get("userns-remap") and "userns-remap" not in flag_value:
        _set_key(work.data, "userns-remap", "default")
    if h.userland_proxy_off:
        want("userland-proxy", False)
    if h.log_rotation:
        driver = work.data.get("log-driver") or (
            flag_value["log-driver"].value if "log-driver" in flag_value else None
        )
        if driver not in (None, *LOG_ROTATING_DRIVERS):
            work.warnings.append(
                f"log rotation skipped: log-driver {driver!r} does not take max-size/max-file"
            )
            return
        opts = work.data.get("log-opts")
        opts = dict(opts) if isinstance(opts, dict) else {}
        new = {**opts, "max-size": h.log_max_size, "max-file": str(h.log_max_file)}
        if new != opts:
            _set_key(work.data, "log-opts", new)


def _resolve_conflicts(work: _Work) -> None:
    """Drop every flag daemon.json will also carry: dockerd refuses to start on the pair.

    Our own key match first, then moby's exact rule (systemd.conflicting_directives) as the
    judge, so a flag/short-name subtlety can never leave a conflict behind.
    """
    why = "daemon.json sets it; a directive in both stops dockerd"
    doomed = [f for f in work.flags if f.key in work.data]
    if doomed:
        work.drop_flag_objs(doomed, why)
    argv = _new_argv(work)
    if argv is None:
        return
    left = set(systemd.conflicting_directives(dockerd_flags.parse_dockerd_args(argv), work.data))
    if left:
        keys = {f.name for f in work.flags if f.key in left or f.name in left}
        work.drop_flag_objs([f for f in work.flags if f.name in keys], why)


def _new_argv(work: _Work) -> list[str] | None:
    """The command line after the plan: the original tokens minus the dropped flags, in order."""
    if work.argv is None or work.binary is None:
        return None
    return [work.binary, *dockerd_flags.rebuild(work.args, [*work.flags, *work.loose], work.added)]


# -- certificates -----------------------------------------------------------------------------
def _tls_paths(work: _Work) -> dict[str, str]:
    d = work.intent.tls_dir.rstrip("/")
    return {"ca": f"{d}/ca.pem", "cert": f"{d}/server-cert.pem", "key": f"{d}/server-key.pem"}


def _cert_at(state: HostState, path: str) -> CertInfo | None:
    for info in state.certs:
        if info.path == path and info.exists:
            return info
    return None


def _server_sans(work: _Work) -> tuple[list[str], list[str]]:
    """The names a client may dial: the admin's, else the listen address plus loopback."""
    intent = work.intent
    dns = list(dict.fromkeys(intent.sans_dns))
    ips = list(dict.fromkeys(strip_brackets(i) for i in intent.sans_ip))
    host = work.listen_host
    if not is_wildcard(host):
        if is_ip(host):
            ips = ips if _ip_in(host, ips) else [*ips, host]
        elif host.lower() not in {d.lower() for d in dns}:
            dns.append(host)
    for name in ("localhost",):
        if name not in dns:
            dns.append(name)
    for ip in ("127.0.0.1", "::1"):
        if not _ip_in(ip, ips):
            ips.append(ip)
    return dns, ips


def _found_choice(work: _Work) -> MaterialChoice | None:
    """What to do with the certificates the tutorials left (issue 14 §2), or None if none."""
    from dockwiz.pki.discover import material_choice

    found = work.state.found_material
    if not found:
        return None
    intent = work.intent
    choice = material_choice(found, work.listen_host, tls_dir=intent.tls_dir.rstrip("/"),
                             ca_dir=intent.ca_dir.rstrip("/"))
    if choice.action != "none" and not intent.reuse_certs:
        return MaterialChoice(
            action="fresh",
            reason="new certificates were asked for (--no-reuse): the certificates found stay "
            "where they are, and clients holding certificates from them need new bundles",
        )
    return None if choice.action == "none" else choice  # nothing worth a word in the preview


def _found_cert(work: _Work, path: str | None) -> CertInfo | None:
    return next((f.cert for f in work.state.found_material if f.path == path), None)


def _days_left(info: CertInfo | None) -> int:
    """Whole days until ``info`` expires, less one (the leaf must end before its CA)."""
    from datetime import UTC, datetime

    if info is None or info.not_after is None:
        return 1 << 30
    return max(1, (info.not_after - datetime.now(UTC)).days - 1)


def _plan_certs(work: _Work) -> tuple[list[CertAction], str | None]:
    """CA, server (and client for mtls): reuse what is valid, renew or create the rest.

    With no CA of dockwiz's own yet, a sound CA found where the tutorials put it is kept (its
    files moved into dockwiz's places first, see ``Plan.material_moves``): the server and
    client certificates are then signed by it, so clients it already signed keep working."""
    from dockwiz import pki

    intent = work.intent
    if intent.mode not in TCP_MODES:
        return [], None
    state = work.state
    paths = _tls_paths(work)
    ca_dir = intent.ca_dir.rstrip("/")
    ca_cert, ca_key = f"{ca_dir}/ca.pem", f"{ca_dir}/ca-key.pem"
    ca_info = _cert_at(state, ca_cert)
    choice = _found_choice(work) if ca_info is None or not ca_info.exists else None
    work.material = choice
    kept = choice is not None and choice.keeps_ca
    ca_problems = pki.check_ca_cert(ca_info) if ca_info else ["no CA yet"]
    if ca_info is not None and ca_info.key_matches is None and not ca_problems:
        ca_problems = [] if ca_info.key_mode is not None else [f"the CA key {ca_key} is missing"]
    ca_ok = intent.reuse_certs and not ca_problems
    if kept:
        assert choice is not None
        found_ca = _found_cert(work, choice.ca_cert)
        ca_action = CertAction(
            role="ca", action="reuse", cert_path=ca_cert, key_path=ca_key,
            key_type=(found_ca.key_type if found_ca else None) or intent.key_type,
            days=pki.DEFAULT_CA_DAYS,
            reason=f"the existing CA {choice.ca_cert} is kept (moved here before anything is "
            f"issued); the daemon's copy is {paths['ca']}",
        )
    else:
        ca_action = CertAction(
            role="ca",
            action="reuse" if ca_ok else "create",
            cert_path=ca_cert,
            key_path=ca_key,
            key_type=ca_info.key_type or intent.key_type if ca_ok and ca_info else intent.key_type,
            days=pki.DEFAULT_CA_DAYS,
            reason=(
                f"the CA in {ca_dir} is valid; the daemon's copy is {paths['ca']}"
                if ca_ok
                else f"{'; '.join(ca_problems)}: a new CA in {ca_dir} (0700, never read by the "
                f"daemon); its certificate is copied to {paths['ca']}"
            ),
        )
    actions: list[CertAction] = [ca_action]
    dns, ips = _server_sans(work)
    server_days, client_days = intent.server_days, intent.client_days
    if kept:  # a leaf may not outlive the CA that signs it: cap at the kept CA's last day
        assert choice is not None
        left = _days_left(_found_cert(work, choice.ca_cert))
        server_days, client_days = min(server_days, left), min(client_days, left)
    server = _cert_at(state, paths["cert"])
    problems = pki.check_server_cert(server, work.listen_host, ca_info) if server else []
    if kept:
        assert choice is not None
        server = _found_cert(work, choice.server_cert) if choice.action == "reuse" else None
        if server is not None:
            server_action = "reuse"
            why = f"the existing {choice.server_cert}, kept: {choice.reason}"
        else:
            server_action = "create"
            why = f"signed by the kept CA {choice.ca_cert}" + (
                f" ({'; '.join(choice.problems)})" if choice.problems else "")
    elif server is None:
        server_action, why = "create", "no server certificate yet"
    elif not ca_ok:
        server_action, why = "create", "signed by the new CA"
    elif problems:
        server_action, why = "renew", "; ".join(problems)
    else:
        server_action, why = "reuse", f"valid and covers {work.listen_host}"
    if server_action != "reuse" and server is not None and intent.reuse_certs is False:
        why = "replacing on request (--no-reuse)"
    actions.append(
        CertAction(
            role="server", action=server_action, cert_path=paths["cert"], key_path=paths["key"],
            dns_names=dns if server_action != "reuse" or server is None else server.dns_names,
            ip_addresses=ips if server_action != "reuse" or server is None else server.ip_addresses,
            key_type=intent.key_type, days=server_days, reason=why,
        )
    )
    bundle: str | None = None
    if intent.mode == Mode.MTLS:
        bundle = f"{intent.clients_dir.rstrip('/')}/{intent.client_name}"
        ccert = f"{bundle}/cert.pem"
        client = _cert_at(state, ccert)
        cproblems = pki.check_client_cert(client, ca_info) if client else ["no client yet"]
        reuse = ca_ok and not cproblems and not kept
        actions.append(
            CertAction(
                role="client", action="reuse" if reuse else "create", cert_path=ccert,
                key_path=f"{bundle}/key.pem", dns_names=[], ip_addresses=[],
                key_type=intent.key_type, days=client_days,
                reason=(
                    f"client {intent.client_name!r} is valid"
                    if reuse
                    else f"client {intent.client_name!r} signed by the kept CA (bundle: ca.pem, "
                    f"cert.pem, key.pem, env.sh in {bundle})"
                    if kept
                    else f"client {intent.client_name!r}: {'; '.join(cproblems)} "
                    f"(bundle: ca.pem, cert.pem, key.pem, env.sh in {bundle})"
                    if ca_ok
                    else f"client {intent.client_name!r} signed by the new CA (bundle: ca.pem, "
                    f"cert.pem, key.pem, env.sh in {bundle})"
                ),
            )
        )
    return actions, bundle


def observe_material(host: Host, state: HostState, intent: Intent) -> HostState:
    """A copy of ``state`` that also knows dockwiz's own CA, server and client files.

    inspect records the certificates the daemon's config points at; whether dockwiz's CA key
    and client bundle exist is needed to decide reuse versus create. Reads only.
    """
    from dockwiz import pki

    ca_dir = intent.ca_dir.rstrip("/")
    tls = intent.tls_dir.rstrip("/")
    bundle = f"{intent.clients_dir.rstrip('/')}/{intent.client_name}"
    wanted: list[tuple[str, str, Literal["ca", "server", "client"]]] = [
        (f"{ca_dir}/ca.pem", f"{ca_dir}/ca-key.pem", "ca"),
        (f"{tls}/server-cert.pem", f"{tls}/server-key.pem", "server"),
        (f"{bundle}/cert.pem", f"{bundle}/key.pem", "client"),
    ]
    known = {c.path for c in state.certs if c.key_path or c.role == "ca"}
    extra = [
        pki.cert_info(host, cert, key, role=role)
        for cert, key, role in wanted
        if cert not in known or role == "ca"
    ]
    others = [c for c in state.certs if c.path not in {e.path for e in extra}]
    return state.model_copy(update={"certs": [*others, *extra]})


# -- files ------------------------------------------------------------------------------------
def _json_mode(old: int | None) -> int:
    """CIS 3.17: 0644 or stricter; a stricter mode the admin chose is kept."""
    return 0o644 if old is None else old & 0o644


def _file_changes(work: _Work) -> list[FileChange]:
    files: list[FileChange] = []
    jf = work.json
    path = work.state.daemon_json.path or DAEMON_JSON
    if work.data != jf.data:
        base = jf.repaired_text if jf.repaired_text is not None else jf.text
        # edited in place: untouched lines stay byte for byte, so the diff shows only the change
        after: str | None = (
            dj.edit_in_place(base, work.data) if base and not jf.empty else dj.render(work.data)
        )
        reason = "set what the mode needs; every other key, value and line kept"
    elif jf.repaired_text is not None:
        after = jf.repaired_text
        reason = "comments/trailing commas removed: dockerd reads strict JSON only"
    elif jf.exists and jf.empty and _major_below(work, 23):
        after = "{}\n"
        reason = "an empty file stops Docker before 23 ('EOF'): write {}"
    else:
        after = jf.text
        reason = "unchanged"
    if jf.exists or (after is not None and work.data):
        if jf.repaired_text is not None and work.data != jf.data:
            reason += "; comments/trailing commas removed (dockerd reads strict JSON only)"
        mode = _json_mode(jf.mode)
        files.append(
            FileChange(
                path=path, before=jf.text, after=after, mode=mode, role="daemon.json",
                reason=reason if after != jf.text else f"mode {diffs.octal(jf.mode)} -> "
                f"{mode:04o} (CIS 3.17)",
                mode_before=jf.mode,
            )
        )
    new_argv = _new_argv(work)
    if new_argv is not None and new_argv != work.argv:
        files.append(_dropin_change(work, new_argv))
    socket = _socket_dropin(work)
    if socket is not None:
        files.append(socket)
    return files


SOCKET_DROPIN_WHY = (
    "Written by dockwiz. docker.socket listens on the unix socket only: a TCP ListenStream is\n"
    "handed to dockerd by -H fd:// as a listener nobody planned (plain TCP unless TLS is on).\n"
    "TCP, where the mode has it, is dockerd's own -H listener, with TLS from daemon.json."
)


def _socket_dropin(work: _Work) -> FileChange | None:
    """Reset docker.socket's ListenStream to its unix sockets when it also has TCP ones.

    ListenStream accumulates over the unit and its drop-ins and an empty assignment resets
    it, so the reset must come last: the file is named to sort after every drop-in that sets
    ListenStream (``zz-dockwiz.conf``; after a vendor's ``zzz-tcp.conf``, ``zzz-tcp~dockwiz.conf``,
    since systemd compares plain file names and '~' sorts after '.').
    """
    if work.sources is None:
        return None
    streams = [s for s in work.sources.sources if s.via == "docker.socket"]
    tcp = [s for s in streams if s.kind == "tcp"]
    if not tcp:
        return None
    unix = [s.url.removeprefix("unix://") for s in streams if s.kind == "unix"]
    names = sorted(posixpath.basename(s.file or "") for s in streams
                   if s.file and ".socket.d/" in s.file)
    name = SOCKET_DROPIN_NAME
    if names and names[-1] >= name:
        name = names[-1].removesuffix(".conf") + "~dockwiz.conf"  # '~' sorts after '.'

    lines = "".join(f"ListenStream={u}\n" for u in dict.fromkeys(unix or [SOCKET_UNIT_PATH]))
    comments = "".join(f"# {line}\n" for line in SOCKET_DROPIN_WHY.splitlines())
    shown = ", ".join(f"{s.url} ({s.where})" for s in tcp)
    work.notes.append(
        f"docker.socket: TCP ListenStream {shown} removed by a drop-in; on systemd, "
        "'systemctl restart docker.socket' applies it (the daemon's restart alone does not "
        "rebind systemd's sockets)"
    )
    return FileChange(
        path=f"{SOCKET_DROPIN_DIR}/{name}", before=None,
        after=f"{comments}[Socket]\nListenStream=\n{lines}", mode=0o644, role="dropin",
        reason="reset docker.socket's ListenStream to the unix socket: socket activation "
        f"would hand dockerd plain TCP on {', '.join(s.url for s in tcp)}",
    )


def _major_below(work: _Work, major: int) -> bool:
    m = effective_major(work.state, work.intent)
    return m is not None and m < major


def _dropin_change(work: _Work, argv: list[str]) -> FileChange:
    unit = work.state.unit
    source = unit.exec_start_source or ""
    existing = {d.path: d for d in unit.dropins}
    why = "; ".join(dict.fromkeys(work.drop_reasons))
    target = _dropin_target(source, existing)
    if target != DROPIN_PATH:
        old = existing[source].text
        before = existing[target].text if target in existing else None
        where = ("this drop-in" if target == source else
                 f"{source}, which dockwiz does not edit: this same-named file in /etc masks it "
                 "(systemd's way to override a vendor drop-in) and keeps its other lines")
        return FileChange(
            path=target, before=before, after=rewrite_exec_start(old, argv), mode=0o644,
            role="dropin",
            reason=f"the ExecStart in force comes from {where}; ExecStart rewritten ({why})",
        )
    old_text = existing[target].text if target in existing else None
    return FileChange(
        path=target, before=old_text, after=render_dropin(argv), mode=0o644, role="dropin",
        reason=f"reset ExecStart ({why}); the packaged unit is never edited",
    )


def _dropin_target(source: str, existing: dict[str, Any]) -> str:
    """Which file gets the new ExecStart, so that it is the one systemd runs.

    systemd applies the drop-ins of every directory (/etc, /run, /lib, /usr/lib) in one list
    sorted by file name, a file in /etc masking a same-named one lower down; the last
    ``ExecStart=`` after the last reset wins. The ExecStart in force comes from ``source``, the
    last file that sets it, so:

    * the packaged unit: no drop-in sets ExecStart, ours can sit anywhere: ``dockwiz.conf``;
    * a drop-in in /etc (seed 002's override.conf): rewritten in place (a second file would
      leave the admin's line behind as a dead, misleading ExecStart);
    * a drop-in in /run, /lib or /usr/lib (a vendor's ``zzz-tcp.conf``): a file of the SAME
      name in /etc, holding its text with ExecStart rewritten. That masks the competitor
      entirely, systemd's documented way to override a vendor drop-in, and takes its exact
      place in the order, which was last. A "sorts later" name would only win until the next
      vendor file with a later name; the mask cannot be out-sorted.
    """
    if source in existing:
        name = posixpath.basename(source)
        etc_twin = f"{DROPIN_DIR}/{name}"
        if source == DROPIN_PATH:
            return DROPIN_PATH
        return etc_twin
    return DROPIN_PATH


DROPIN_WHY = (
    "Written by dockwiz. Options set in /etc/docker/daemon.json are not repeated here (dockerd\n"
    "refuses a directive given both as a flag and in the file). Every other flag of the\n"
    "packaged ExecStart is kept; the packaged unit is not edited."
)


def render_dropin(argv: list[str]) -> str:
    return systemd.render_dropin(argv, DROPIN_WHY)


def rewrite_exec_start(text: str, argv: list[str]) -> str:
    """Replace the ExecStart lines of a drop-in's [Service] section; keep every other line."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    section = ""
    inserted = False
    skipping = False
    for line in lines:
        stripped = line.strip()
        if skipping:
            skipping = stripped.endswith("\\")
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else ""
        if section == "[Service]" and key == "ExecStart" and not stripped.startswith(("#", ";")):
            skipping = stripped.endswith("\\")
            if not inserted:
                out.append("ExecStart=\n")
                out.append(f"ExecStart={systemd.render_exec(argv)}\n")
                inserted = True
            continue
        out.append(line)
    if not inserted:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out += ["[Service]\n", "ExecStart=\n", f"ExecStart={systemd.render_exec(argv)}\n"]
    return "".join(out)


# -- services ---------------------------------------------------------------------------------
def _staged_text(jf: _JsonFile, staged: dict[str, Any]) -> str:
    base = jf.repaired_text if jf.repaired_text is not None else jf.text
    return dj.edit_in_place(base, staged) if base and not jf.empty else dj.render(staged)


def _changed_keys(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    return {k for k in {*old, *new} if old.get(k) != new.get(k)}


def _service_actions(
    work: _Work, files: list[FileChange], certs: list[CertAction]
) -> list[ServiceAction]:
    state = work.state
    changed = [f for f in files if f.before != f.after]
    # dockerd reads its CA and server certificate once, at start: new ones need a restart
    new_material = any(c.role != "client" and c.action != "reuse" for c in certs) or bool(
        work.material and work.material.keeps_ca and work.material.moves
    )
    if not changed and not new_material:
        return []
    unit_changed = any(f.role == "dropin" for f in changed)
    keys = _changed_keys(work.json.data, work.data)
    json_text_changed = any(f.role == "daemon.json" for f in changed)
    restart = unit_changed or bool(keys - RELOADABLE_KEYS) or not state.daemon_running
    restart = restart or (json_text_changed and not keys)  # a repair: the daemon could not parse
    restart = restart or new_material
    actions: list[ServiceAction] = []
    if restart and _stage_live_restore(work, keys):
        staged = {**work.json.data, "live-restore": True}
        actions.append(
            ServiceAction(
                kind="reload",
                reason="switch live-restore on first (SIGHUP re-reads it), so the "
                f"{state.running_containers or 'running'} container(s) keep running through "
                "the restart",
                stage=FileChange(
                    path=state.daemon_json.path or DAEMON_JSON, before=work.json.text,
                    after=_staged_text(work.json, staged), mode=_json_mode(work.json.mode),
                    role="daemon.json", reason="live-restore only, before the restart",
                    mode_before=work.json.mode,
                ),
            )
        )
    if unit_changed:
        actions.append(
            ServiceAction(kind="daemon-reload", reason="a docker.service drop-in changed")
        )
    if restart:
        what = sorted(keys - RELOADABLE_KEYS) or (["ExecStart"] if unit_changed else [])
        what = what or (["the new certificates"] if new_material else [])
        why = (
            f"{', '.join(what)}: only read when dockerd starts"
            if state.daemon_running and what
            else "the daemon is not running: start it with the new configuration"
            if not state.daemon_running
            else "daemon.json was repaired"
        )
        actions.append(ServiceAction(kind="restart", reason=why))
    elif keys:
        actions.append(
            ServiceAction(
                kind="reload",
                reason=f"{', '.join(sorted(keys))}: dockerd re-reads these on SIGHUP, no restart",
            )
        )
    return actions


def _stage_live_restore(work: _Work, keys: set[str]) -> bool:
    state = work.state
    return (
        work.intent.hardening.live_restore
        and "live-restore" in keys
        and state.daemon_running
        and not state.live_restore
        and (state.running_containers is None or state.running_containers > 0)
        and work.json.repaired_text is None
        and not any(f.key == "live-restore" for f in work.args)
        and state.hosts_conflict is None
    )


# -- endpoints and the safety net -------------------------------------------------------------
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


# -- from a host ------------------------------------------------------------------------------
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
    plan = build_plan(state, intent, other_listeners=other_listeners(state),
                      sources=effective.derive(host))
    check_plan_result(host, plan)
    return state, plan


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


# -- persistence ------------------------------------------------------------------------------
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
