"""What dockerd knows of daemon.json's keys: which exist in which release (dockerd_flags's
option table), and the types of the keys that matter for security."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from dockwiz.dockerd_flags import (
    DOCKERD_FLAGS,
)

# The named options whose daemon.json key differs from the flag name only exist in some
# releases (e.g. "host-gateway-ips" replaced the single "host-gateway-ip" in 28.x).
_NAMED_KEY_SINCE: dict[str, str] = {"host-gateway-ips": "28.0"}


# moby daemon/config: flatOptions are maps kept as one key; every other object in daemon.json
# is flattened (its members are checked as keys of their own: "proxies": {"http-proxy": ...}).
FLAT_OPTIONS: frozenset[str] = frozenset(
    {"cluster-store-opts", "default-network-opts", "log-opts", "runtimes", "default-ulimits",
     "features", "builder"}
)


# skipValidateOptions: keys that never count as unknown.
SKIP_VALIDATE: frozenset[str] = frozenset(
    {"features", "builder", "deprecated-key-path", "allow-nondistributable-artifacts"}
)


# skipDuplicates: keys that may be given both as flag and in the file (they are merged).
SKIP_DUPLICATES: frozenset[str] = frozenset({"runtimes"})


def _version_key(version: str) -> tuple[int, int]:
    parts = re.findall(r"\d+", version)
    major = int(parts[0]) if parts else 0
    minor = int(parts[1]) if len(parts) > 1 else 0
    return (major, minor)


def _in_range(version: str | None, since: str, until: str | None) -> bool:
    if version is None:
        return True
    v = max(_version_key(version), (20, 10))  # older releases: judged as the oldest we know
    return _version_key(since) <= v and (until is None or v <= _version_key(until))


def known_keys(version: str | None = None) -> frozenset[str]:
    """Keys dockerd accepts in daemon.json: every flag name, every named option, the skips.

    dockerd's check is ``flags.Lookup(key)`` (so a flag's own name, even ``host``, passes) or
    the name of a NamedOption flag value (``hosts``, ``log-opts``...). ``version`` ('20.10',
    '27.3.1') narrows to one release; None accepts what any release 20.10 through 28 accepts.
    """
    keys: set[str] = set(SKIP_VALIDATE)
    for flag in DOCKERD_FLAGS:
        if not _in_range(version, flag.since, flag.until):
            continue
        keys.add(flag.name)
        if _in_range(version, _NAMED_KEY_SINCE.get(flag.json_key, flag.since), flag.until):
            keys.add(flag.json_key)
    return frozenset(keys)


KNOWN_KEYS: frozenset[str] = known_keys()


def flattened_items(data: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The (key, value) pairs dockerd validates: moby's ``configValuesSet``."""
    for key, value in data.items():
        if isinstance(value, dict) and key not in FLAT_OPTIONS:
            yield from value.items()
        else:
            yield key, value


def unknown_keys(data: dict[str, Any], version: str | None = None) -> list[str]:
    """Keys that make dockerd refuse to start with "the following directives don't match any
    configuration option", in file order."""
    known = known_keys(version)
    seen: list[str] = []
    for key, _ in flattened_items(data):
        if key not in known and key not in seen:
            seen.append(key)
    return seen


def unknown_keys_message(keys: list[str]) -> str:
    """dockerd's own wording, so the admin can match it against the journal."""
    return "the following directives don't match any configuration option: " + ", ".join(keys)


_BOOL_KEYS = frozenset(
    {"tls", "tlsverify", "icc", "live-restore", "no-new-privileges", "debug", "experimental",
     "ip-forward", "ip-masq", "iptables", "ip6tables", "ipv6", "userland-proxy",
     "selinux-enabled", "raw-logs", "init", "rootless"}
)


_STR_KEYS = frozenset(
    {"tlscacert", "tlscert", "tlskey", "data-root", "exec-root", "pidfile", "userns-remap",
     "log-driver", "log-level", "storage-driver", "containerd", "group", "cgroup-parent",
     "default-runtime", "seccomp-profile", "bip", "fixed-cidr", "fixed-cidr-v6",
     "default-cgroupns-mode", "default-ipc-mode", "metrics-addr", "init-path",
     "userland-proxy-path", "swarm-default-advertise-addr", "containerd-namespace",
     "containerd-plugins-namespace", "default-shm-size", "bridge"}
)


_INT_KEYS = frozenset(
    {"mtu", "max-concurrent-downloads", "max-concurrent-uploads", "max-download-attempts",
     "shutdown-timeout", "network-control-plane-mtu"}
)


_STR_LIST_KEYS = frozenset(
    {"hosts", "labels", "dns", "dns-opts", "dns-search", "exec-opts", "storage-opts",
     "registry-mirrors", "insecure-registries", "authorization-plugins",
     "node-generic-resources", "cdi-spec-dirs"}
)


_STR_MAP_KEYS = frozenset({"log-opts"})


_GO_INT_MIN, _GO_INT_MAX = -(2**63), 2**63 - 1  # Go's int on 64-bit Linux


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _type_problem(key: str, value: Any) -> str | None:
    """Go's decoder leaves a field alone on null, so null is always accepted."""
    if value is None:
        return None
    if key in _BOOL_KEYS and not isinstance(value, bool):
        hint = f" (write {str(value).lower()} without quotes)" if value in ("true", "false") else ""
        return f"{key}: must be true or false, found {_json_type(value)}{hint}"
    if key in _STR_KEYS and not isinstance(value, str):
        return f"{key}: must be a string, found {_json_type(value)}"
    if key in _INT_KEYS and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{key}: must be a whole number, found {_json_type(value)}"
    if key in _INT_KEYS and not _GO_INT_MIN <= value <= _GO_INT_MAX:
        return f"{key}: {value} does not fit dockerd's 64-bit whole number"
    if key in _STR_LIST_KEYS:
        if not isinstance(value, list):
            return f"{key}: must be a list of strings, found {_json_type(value)}"
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            return f"{key}: every entry must be a string, found {_json_type(bad[0])}"
    if key in _STR_MAP_KEYS:
        if not isinstance(value, dict):
            return f"{key}: must be an object of strings, found {_json_type(value)}"
        for k, v in value.items():
            if not isinstance(v, str):
                return f'{key}: "{k}" must be a string (e.g. "{v}"), found {_json_type(v)}'
    return None


def type_problems(data: dict[str, Any]) -> list[str]:
    """Values dockerd's decoder rejects ("json: cannot unmarshal ... into Go struct field")."""
    problems: list[str] = []
    for key, value in data.items():
        problem = _type_problem(key, value)
        if problem:
            problems.append(problem)
    return problems
