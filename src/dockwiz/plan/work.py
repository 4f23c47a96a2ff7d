"""What the planner works on: the parsed command line, daemon.json as read, the endpoints
before, and the working state (``_Work``) every step of the plan reads and changes."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

from dockwiz import daemon_json as dj
from dockwiz import dockerd_flags, effective, systemd
from dockwiz.docker_paths import SOCKET_URL
from dockwiz.errors import DockwizError
from dockwiz.models.host_state import HostState, MaterialChoice
from dockwiz.models.intent import TCP_MODES, Intent
from dockwiz.models.plan import Endpoint
from dockwiz.policy import (
    resolve_listen_host,
    strip_brackets,
)

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


def endpoints_before(state: HostState) -> list[Endpoint]:
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


def _tls_paths(work: _Work) -> dict[str, str]:
    d = work.intent.tls_dir.rstrip("/")
    return {"ca": f"{d}/ca.pem", "cert": f"{d}/server-cert.pem", "key": f"{d}/server-key.pem"}
