"""dockerd's option table and the ONE parser of its command line, with pflag's exact rules.

Why one place: the command line was read three ways (the unit reader, the planner, inspect's
pidfile lookup) and they disagreed; ``-DH tcp://0.0.0.0:2375`` read as ``--debug=H`` by one of
them let a plan say "No changes" while plain TCP stayed open. Everything that reads or rewrites
dockerd's flags goes through :func:`parse_args` here.

The rules are spf13/pflag's ``FlagSet.Parse`` as dockerd (cobra, interspersed) uses it:

* ``--name=value``, ``--name value`` (the next token is taken whatever it looks like, even
  ``-D``), ``-H value``, ``-Hvalue``, ``-H=value``;
* boolean flags never take the next token: only ``--tls=false`` / ``-D=false`` set a value
  (Go's strconv.ParseBool spellings), ``--tlsverify /ca.pem`` is a flag and a stray argument;
* short flags combine: ``-DH tcp://x`` is ``-D -H tcp://x``, ``-Dl debug`` is ``-D -l debug``,
  ``-DHtcp://x`` is ``-D -H tcp://x``; a value flag takes the rest of the token or the next one;
* list flags (``-H``, ``--log-opt``...) accumulate; other flags: the last one wins;
* ``--`` ends the flags (everything after is an argument), ``-`` alone is an argument;
* unknown flags, missing values and bad booleans are reported (dockerd refuses to start), and
  so are arguments (dockerd takes none).

Every parsed :class:`Arg` keeps the exact tokens it was read from, so a planner can drop one
option and keep every other token byte for byte (:func:`rebuild`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

FlagKind = Literal["bool", "value", "list"]


@dataclass(frozen=True)
class DockerdFlag:
    """One dockerd command-line flag and the daemon.json key that sets the same option.

    ``since``/``until`` are the first/last release lines (major.minor) in which moby's
    cmd/dockerd defines the flag, from the last patch release of every minor line when this
    table was built: 20.10.27, 23.0.18, 24.0.9, 25.0.17, 26.0.2, 26.1.5, 27.0.3, 27.1.2,
    27.2.1, 27.3.1, 27.4.1, 27.5.1, 28.0.4, 28.1.1, 28.2.2, 28.3.3, 28.4.0, 28.5.2.
    """

    name: str
    kind: FlagKind
    short: str | None
    json_key: str
    since: str = "20.10"
    until: str | None = None


def _F(
    name: str, kind: FlagKind, short: str | None, key: str, since: str, until: str | None
) -> DockerdFlag:
    return DockerdFlag(name, kind, short, key, since, until)


DOCKERD_FLAGS: tuple[DockerdFlag, ...] = (
    _F("add-runtime", "list", None, "runtimes", "20.10", None),
    _F("allow-direct-routing", "bool", None, "allow-direct-routing", "28.2", None),
    _F("allow-nondistributable-artifacts", "list", None, "allow-nondistributable-artifacts",
       "20.10", None),
    _F("api-cors-header", "value", None, "api-cors-header", "20.10", None),
    _F("authorization-plugin", "list", None, "authorization-plugins", "20.10", None),
    _F("bip", "value", None, "bip", "20.10", None),
    _F("bip6", "value", None, "bip6", "28.0", None),
    _F("bridge", "value", "b", "bridge", "20.10", None),
    _F("cdi-spec-dir", "list", None, "cdi-spec-dirs", "25.0", None),
    _F("cgroup-parent", "value", None, "cgroup-parent", "20.10", None),
    _F("cluster-advertise", "value", None, "cluster-advertise", "20.10", "23.0"),
    _F("cluster-store", "value", None, "cluster-store", "20.10", "23.0"),
    _F("cluster-store-opt", "list", None, "cluster-store-opts", "20.10", "23.0"),
    _F("config-file", "value", None, "config-file", "20.10", None),
    _F("containerd", "value", None, "containerd", "20.10", None),
    _F("containerd-namespace", "value", None, "containerd-namespace", "20.10", None),
    _F("containerd-plugins-namespace", "value", None, "containerd-plugins-namespace",
       "20.10", None),
    _F("cpu-rt-period", "value", None, "cpu-rt-period", "20.10", None),
    _F("cpu-rt-runtime", "value", None, "cpu-rt-runtime", "20.10", None),
    _F("cri-containerd", "bool", None, "cri-containerd", "20.10", None),
    _F("data-root", "value", None, "data-root", "20.10", None),
    _F("debug", "bool", "D", "debug", "20.10", None),
    _F("default-address-pool", "list", None, "default-address-pools", "20.10", None),
    _F("default-cgroupns-mode", "value", None, "default-cgroupns-mode", "20.10", None),
    _F("default-gateway", "value", None, "default-gateway", "20.10", None),
    _F("default-gateway-v6", "value", None, "default-gateway-v6", "20.10", None),
    _F("default-ipc-mode", "value", None, "default-ipc-mode", "20.10", None),
    _F("default-network-opt", "list", None, "default-network-opts", "24.0", None),
    _F("default-runtime", "value", None, "default-runtime", "20.10", None),
    _F("default-shm-size", "value", None, "default-shm-size", "20.10", None),
    _F("default-ulimit", "list", None, "default-ulimits", "20.10", None),
    _F("dns", "list", None, "dns", "20.10", None),
    _F("dns-opt", "list", None, "dns-opts", "20.10", None),
    _F("dns-search", "list", None, "dns-search", "20.10", None),
    _F("exec-opt", "list", None, "exec-opts", "20.10", None),
    _F("exec-root", "value", None, "exec-root", "20.10", None),
    _F("experimental", "bool", None, "experimental", "20.10", None),
    _F("feature", "list", None, "features", "27.3", None),
    _F("fixed-cidr", "value", None, "fixed-cidr", "20.10", None),
    _F("fixed-cidr-v6", "value", None, "fixed-cidr-v6", "20.10", None),
    _F("graph", "value", "g", "graph", "20.10", "23.0"),
    _F("group", "value", "G", "group", "20.10", None),
    _F("host", "list", "H", "hosts", "20.10", None),
    _F("host-gateway-ip", "list", None, "host-gateway-ips", "20.10", None),
    _F("http-proxy", "value", None, "http-proxy", "23.0", None),
    _F("https-proxy", "value", None, "https-proxy", "23.0", None),
    _F("icc", "bool", None, "icc", "20.10", None),
    _F("identity", "value", None, "identity", "20.10", "20.10"),
    _F("init", "bool", None, "init", "20.10", None),
    _F("init-path", "value", None, "init-path", "20.10", None),
    _F("insecure-registry", "list", None, "insecure-registries", "20.10", None),
    _F("ip", "value", None, "ip", "20.10", None),
    _F("ip-forward", "bool", None, "ip-forward", "20.10", None),
    _F("ip-forward-no-drop", "bool", None, "ip-forward-no-drop", "28.0", None),
    _F("ip-masq", "bool", None, "ip-masq", "20.10", None),
    _F("ip6tables", "bool", None, "ip6tables", "20.10", None),
    _F("iptables", "bool", None, "iptables", "20.10", None),
    _F("ipv6", "bool", None, "ipv6", "20.10", None),
    _F("label", "list", None, "labels", "20.10", None),
    _F("live-restore", "bool", None, "live-restore", "20.10", None),
    _F("log-driver", "value", None, "log-driver", "20.10", None),
    _F("log-format", "value", None, "log-format", "25.0", None),
    _F("log-level", "value", "l", "log-level", "20.10", None),
    _F("log-opt", "list", None, "log-opts", "20.10", None),
    _F("max-concurrent-downloads", "value", None, "max-concurrent-downloads", "20.10", None),
    _F("max-concurrent-uploads", "value", None, "max-concurrent-uploads", "20.10", None),
    _F("max-download-attempts", "value", None, "max-download-attempts", "20.10", None),
    _F("metrics-addr", "value", None, "metrics-addr", "20.10", None),
    _F("mtu", "value", None, "mtu", "20.10", None),
    _F("network-control-plane-mtu", "value", None, "network-control-plane-mtu", "20.10", None),
    _F("network-diagnostic-port", "value", None, "network-diagnostic-port", "20.10", None),
    _F("no-new-privileges", "bool", None, "no-new-privileges", "20.10", None),
    _F("no-proxy", "value", None, "no-proxy", "23.0", None),
    _F("node-generic-resource", "list", None, "node-generic-resources", "20.10", None),
    _F("oom-score-adjust", "value", None, "oom-score-adjust", "20.10", "25.0"),
    _F("pidfile", "value", "p", "pidfile", "20.10", None),
    _F("raw-logs", "bool", None, "raw-logs", "20.10", None),
    _F("registry-mirror", "list", None, "registry-mirrors", "20.10", None),
    _F("restart", "bool", "r", "restart", "20.10", None),
    _F("rootless", "bool", None, "rootless", "20.10", None),
    _F("seccomp-profile", "value", None, "seccomp-profile", "20.10", None),
    _F("selinux-enabled", "bool", None, "selinux-enabled", "20.10", None),
    _F("shutdown-timeout", "value", None, "shutdown-timeout", "20.10", None),
    _F("storage-driver", "value", "s", "storage-driver", "20.10", None),
    _F("storage-opt", "list", None, "storage-opts", "20.10", None),
    _F("swarm-default-advertise-addr", "value", None, "swarm-default-advertise-addr",
       "20.10", None),
    _F("tls", "bool", None, "tls", "20.10", None),
    _F("tlscacert", "value", None, "tlscacert", "20.10", None),
    _F("tlscert", "value", None, "tlscert", "20.10", None),
    _F("tlskey", "value", None, "tlskey", "20.10", None),
    _F("tlsverify", "bool", None, "tlsverify", "20.10", None),
    _F("userland-proxy", "bool", None, "userland-proxy", "20.10", None),
    _F("userland-proxy-path", "value", None, "userland-proxy-path", "20.10", None),
    _F("userns-remap", "value", None, "userns-remap", "20.10", None),
    _F("validate", "bool", None, "validate", "23.0", None),
    _F("version", "bool", "v", "version", "20.10", None),
)

FLAGS_BY_NAME: dict[str, DockerdFlag] = {f.name: f for f in DOCKERD_FLAGS}
FLAGS_BY_SHORT: dict[str, DockerdFlag] = {f.short: f for f in DOCKERD_FLAGS if f.short}
FLAGS_BY_JSON_KEY: dict[str, DockerdFlag] = {f.json_key: f for f in DOCKERD_FLAGS}



GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def go_bool(value: str | None) -> bool | None:
    """strconv.ParseBool, with None (a bool flag given bare) meaning true."""
    if value is None or value in GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    return None


# --------------------------------------------------------------------------------------------
# the parser
# --------------------------------------------------------------------------------------------


class Arg(BaseModel):
    """One option as dockerd reads it, or one argument that is not an option.

    ``tokens`` are the argv tokens of the *group* the option was read from: ``-DH tcp://x``
    is one group (two tokens) holding two Args, debug and host.
    """

    name: str  # long flag name; "" for an argument, "--" for the end of flags; the spelling
    # of an unknown flag
    key: str = ""  # daemon.json key for the same option ("" when there is none)
    kind: FlagKind | None = None  # None: an argument, or a flag dockerd does not know
    value: str | None = None  # as written; None for a bool given bare
    tokens: list[str]
    index: int  # position of the group's first token in the parsed list
    group: int
    problem: str | None = None  # unknown flag, missing value, invalid boolean

    @property
    def is_flag(self) -> bool:
        return self.kind is not None

    @property
    def bool_value(self) -> bool | None:
        return go_bool(self.value) if self.kind == "bool" else None


class DockerdFlags(BaseModel):
    """dockerd's command line, read the way pflag reads it.

    ``options`` maps the long flag name to its value: bool for boolean flags, str for value
    flags (the last one wins), list[str] for repeatable flags (``host``, ``log-opt``...).
    ``order`` is the order in which options were first given. Anything in ``unknown``,
    ``positional`` or ``errors`` stops dockerd before it starts.
    """

    program: str | None = None
    args: list[Arg] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)
    order: list[str] = Field(default_factory=list)
    unknown: list[str] = Field(default_factory=list)
    positional: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)

    @property
    def flags(self) -> list[Arg]:
        """The known options, in command-line order."""
        return [a for a in self.args if a.is_flag]

    def values(self, name: str) -> list[str]:
        """Every value given for the long flag ``name`` (for a bool: "true"/"false")."""
        out: list[str] = []
        for a in self.flags:
            if a.name == name and a.problem is None:
                out.append(str(a.bool_value).lower() if a.kind == "bool" else a.value or "")
        return out


@dataclass
class _Reader:
    tokens: list[str]
    args: list[Arg]
    i: int = 0
    group: int = 0

    def add(self, name: str, value: str | None, start: int, *, problem: str | None = None,
            flag: DockerdFlag | None = None) -> None:
        self.args.append(Arg(
            name=flag.name if flag else name, key=flag.json_key if flag else "",
            kind=flag.kind if flag else None, value=value,
            tokens=self.tokens[start : self.i], index=start, group=self.group, problem=problem,
        ))

    def fix_group_tokens(self, start: int) -> None:
        """A group's Args all carry every token the group spans (known once it is read)."""
        for a in self.args:
            if a.group == self.group:
                a.tokens = self.tokens[start : self.i]


def parse_args(tokens: list[str]) -> DockerdFlags:
    """Parse dockerd's arguments (without the program). Never raises."""
    flags = DockerdFlags()
    r = _Reader(list(tokens), flags.args)
    while r.i < len(r.tokens):
        start = r.i
        tok = r.tokens[r.i]
        r.i += 1
        if tok == "--":  # the end of the flags: every later token is an argument
            r.add("--", None, start)
            r.group += 1
            for pos in range(r.i, len(r.tokens)):
                r.i = pos + 1
                r.add("", r.tokens[pos], pos)
                r.group += 1
            break
        elif len(tok) < 2 or tok[0] != "-":
            r.add("", tok, start)
        elif tok.startswith("--"):
            _long(r, tok, start)
        else:
            _shorts(r, tok, start)
        r.fix_group_tokens(start)
        r.group += 1
    _summarise(flags)
    return flags


def parse_dockerd_args(argv: list[str]) -> DockerdFlags:
    """Parse dockerd's argv (argv[0] is the program). Never raises."""
    flags = parse_args(list(argv[1:]))
    flags.program = argv[0] if argv else None
    return flags


def _long(r: _Reader, tok: str, start: int) -> None:
    body = tok[2:]
    if body[:1] in ("-", "="):
        r.add(tok, None, start, problem=f"bad flag syntax: {tok}")
        return
    name, eq, value = body.partition("=")
    flag = FLAGS_BY_NAME.get(name)
    if flag is None:
        r.add(f"--{name}", value if eq else None, start, problem=f"unknown flag: --{name}")
        return
    if eq:
        r.add(name, value, start, flag=flag)
    elif flag.kind == "bool":
        r.add(name, None, start, flag=flag)
    elif r.i < len(r.tokens):
        r.i += 1
        r.add(name, r.tokens[r.i - 1], start, flag=flag)
    else:
        r.add(name, None, start, flag=flag, problem=f"flag needs an argument: --{name}")


def _shorts(r: _Reader, tok: str, start: int) -> None:
    """pflag's parseShortArg: letters until one takes a value (the rest, or the next token)."""
    chars = tok[1:]
    while chars:
        c = chars[0]
        flag = FLAGS_BY_SHORT.get(c)
        if flag is None:
            shown = f"-{c}" if len(tok) > 2 else tok
            r.add(shown, None, start, problem=f"unknown shorthand flag: {c!r} in {tok}")
            return
        if len(chars) > 2 and chars[1] == "=":
            r.add(flag.name, chars[2:], start, flag=flag)  # '-f=arg'
            return
        if flag.kind == "bool":
            r.add(flag.name, None, start, flag=flag)  # '-f', more letters may follow
            chars = chars[1:]
            continue
        if len(chars) > 1:
            r.add(flag.name, chars[1:], start, flag=flag)  # '-farg' (so '-H=' is host '=')
            return
        if r.i < len(r.tokens):
            r.i += 1
            r.add(flag.name, r.tokens[r.i - 1], start, flag=flag)  # '-f arg'
        else:
            r.add(flag.name, None, start, flag=flag,
                  problem=f"flag needs an argument: {c!r} in {tok}")
        return


def _summarise(flags: DockerdFlags) -> None:
    for a in flags.args:
        if a.kind is None:
            if a.problem:
                flags.unknown.append(a.name)
            elif a.name != "--":
                flags.positional.append(a.value or "")
            continue
        if a.problem:
            flags.errors.append(a.problem)
            continue
        if a.kind == "bool":
            b = a.bool_value
            if b is None:
                a.problem = f"invalid boolean {a.value!r} for --{a.name}"
                flags.errors.append(a.problem)
                continue
            value: Any = b
        else:
            value = a.value
        if a.name not in flags.order:
            flags.order.append(a.name)
        if a.kind == "list":
            flags.options.setdefault(a.name, []).append(value)
            if a.name == "host":
                flags.hosts.append(str(value))
        else:
            flags.options[a.name] = value


# --------------------------------------------------------------------------------------------
# spelling and rebuilding
# --------------------------------------------------------------------------------------------


def spell(name: str, value: str | None = None) -> list[str]:
    """The canonical tokens for one option: ``--name`` or ``--name=value`` (one token, so a
    value starting with '-' can never be read as a flag)."""
    return [f"--{name}"] if value is None else [f"--{name}={value}"]


def rebuild(args: list[Arg], keep: list[Arg], after: dict[int, list[list[str]]] | None = None,
            ) -> list[str]:
    """The tokens of ``args`` keeping only the options in ``keep``.

    A group whose options are all kept keeps its tokens byte for byte; a group losing some of
    its options (``-DH tcp://x`` losing the host) is re-spelled canonically (``--debug``).
    ``after`` maps a group number to extra token lists inserted right after that group
    (group -1: at the very start).
    """
    kept = {id(a) for a in keep}
    extra = after or {}
    out: list[str] = [t for tokens in extra.get(-1, []) for t in tokens]
    by_group: dict[int, list[Arg]] = {}
    for a in args:
        by_group.setdefault(a.group, []).append(a)
    for group, members in by_group.items():
        survivors = [a for a in members if id(a) in kept]
        if len(survivors) == len(members):
            out += members[0].tokens
        else:
            for a in survivors:
                out += spell(a.name, a.value) if a.is_flag else a.tokens
        for tokens in extra.get(group, []):
            out += tokens
    return out
