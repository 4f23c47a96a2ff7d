"""The lab's network namespace: a 10.77.x.y/32 address that exists only inside it.

Kept apart from the lab's life cycle: these are the only calls that change this machine's
network configuration (``ip netns``), and each is undone by ``delete_netns``.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from pathlib import Path

from dockwiz.errors import DockwizError
from dockwiz.host import CommandResult, run_command

NETNS_DIR = Path("/var/run/netns")
NETNS_PREFIX = "dwlab-"
LAB_NET = ipaddress.IPv4Network("10.77.0.0/16")


def list_labs() -> list[str]:
    """Network namespaces of labs on this machine (any lab dir, any process)."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(NETNS_PREFIX))


def ip(*args: str) -> CommandResult:
    return run_command(["ip", *args], timeout=10)


def used_addresses() -> set[str]:
    used: set[str] = set()
    for name in list_labs():
        out = ip("-n", name, "-o", "-4", "addr", "show", "dev", "lo").stdout
        used.update(m.group(1) for m in re.finditer(r"inet (10\.77\.\d+\.\d+)/", out))
    return used


def create_netns() -> tuple[str, str]:
    """A fresh namespace with loopback up and a unique lab address; retried on name races."""
    for _ in range(20):
        name = f"{NETNS_PREFIX}{secrets.token_hex(3)}"
        used = used_addresses()
        address = pick_address(used)
        made = ip("netns", "add", name)
        if not made.ok:
            if "File exists" in made.stderr:
                continue
            raise DockwizError(f"ip netns add {name} failed: {made.stderr.strip()}")
        for args in (("link", "set", "lo", "up"), ("addr", "add", f"{address}/32", "dev", "lo")):
            step = ip("-n", name, *args)
            if not step.ok:
                delete_netns(name)
                raise DockwizError(f"setting up namespace {name} failed: {step.stderr.strip()}")
        return name, address
    raise DockwizError("could not create a lab network namespace (20 name collisions)")


def pick_address(used: set[str]) -> str:
    for _ in range(1000):
        n = secrets.randbelow(LAB_NET.num_addresses - 512) + 256
        candidate = str(LAB_NET.network_address + n)
        if candidate not in used and not candidate.endswith((".0", ".255")):
            return candidate
    raise DockwizError("no free lab address in 10.77.0.0/16", "remove old labs: dockwiz lab list")


def delete_netns(name: str) -> None:
    if (NETNS_DIR / name).exists():
        ip("netns", "delete", name)
