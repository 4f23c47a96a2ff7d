"""Where the daemon listens after the plan: the TCP listener of a tls/mtls mode, every TCP
source the mode forbids removed, the hosts conflict resolved, hardening keys."""

from __future__ import annotations

import ipaddress
from typing import Any

from dockwiz import dockerd_flags, systemd
from dockwiz.docker_paths import SOCKET_URL
from dockwiz.errors import DockwizError
from dockwiz.models.host_state import HostState, Listener
from dockwiz.models.intent import TCP_MODES, Mode
from dockwiz.plan.work import (
    LOG_ROTATING_DRIVERS,
    TLS_KEYS,
    Flag,
    _drop_key,
    _flag_bool,
    _is_local_socket,
    _set_key,
    _tls_paths,
    _Work,
    tcp_url,
)
from dockwiz.policy import (
    is_ip,
    is_wildcard,
    strip_brackets,
)


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
