"""Starting states as sandbox roots, and a faithful stand-in for apply's file and cert steps.

Plans are built from what ``inspect_host`` sees in a temp root (the same path the CLI takes),
with the Docker version pinned so the goldens do not depend on this machine's dockerd.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockwiz import inspect as inspect_mod
from dockwiz import pki
from dockwiz.effective import derive, write_changes
from dockwiz.host import Host
from dockwiz.lab.scenarios import (
    DEBIAN_DOCKER_SERVICE,
    DEBIAN_DOCKER_SOCKET,
    HOSTS_DROPIN,
    SEED_001_DAEMON_JSON,
    SEED_003_DAEMON_JSON,
    SEED_004_DAEMON_JSON,
)
from dockwiz.models.host_state import DockerVersion, HostState
from dockwiz.models.intent import Intent
from dockwiz.models.plan import Plan
from dockwiz.plan import build_plan, check_plan_result, observe_material

UNIT = "/lib/systemd/system/docker.service"

# The starting states are the labs' own (Debian 12's packaged units, the seeds' files): one copy,
# so a test root and a lab can never drift apart; a change there that moves a golden is seen.
DROPIN_DIR = "/etc/systemd/system/docker.service.d"

SEED_002_OVERRIDE = """\
[Service]
ExecStart=
ExecStart=/usr/bin/dockerd -D -H unix:///var/run/docker.sock --tlsverify \
--tlscert=/home/user/.docker/server-cert.pem --tlscacert=/home/user/.docker/ca.pem \
--tlskey=/home/user/.docker/server-key.pem -H tcp://0.0.0.0:2376
"""

# name -> (daemon.json text or None, {drop-in name: text})
SEEDS: dict[str, tuple[str | None, dict[str, str]]] = {
    "stock": ("{}\n", {}),
    "seed004-insecure-tcp": (SEED_004_DAEMON_JSON, {"override.conf": HOSTS_DROPIN}),
    "seed002-override-flags": (None, {"override.conf": SEED_002_OVERRIDE}),
    "seed001-commented-json": (SEED_001_DAEMON_JSON, {}),
    "seed003-tlsverify-no-ca": (SEED_003_DAEMON_JSON, {"override.conf": HOSTS_DROPIN}),
}


def write(root: Path, host_path: str, text: str, mode: int = 0o644) -> None:
    local = root / host_path.lstrip("/")
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(text)
    os.chmod(local, mode)


def make_root(root: Path, daemon_json: str | None, dropins: dict[str, str],
              unit: str = DEBIAN_DOCKER_SERVICE) -> Path:
    write(root, UNIT, unit)
    write(root, "/lib/systemd/system/docker.socket", DEBIAN_DOCKER_SOCKET)
    if daemon_json is not None:
        write(root, "/etc/docker/daemon.json", daemon_json)
    for name, text in dropins.items():
        write(root, f"{DROPIN_DIR}/{name}", text)
    return root


_PINNED: dict[str, str | None] = {}


def pin_version(monkeypatch: pytest.MonkeyPatch, version: str | None) -> None:
    """Plan as if dockerd were ``version``; also skips the ~0.2 s ``dockerd --version`` run.

    The version is set on the HostState after inspect (the source of truth for the goldens);
    inspect's own version probe is stubbed where it can be, purely for speed.
    """
    monkeypatch.setitem(_PINNED, "version", version)
    if hasattr(inspect_mod, "BinaryVersion"):
        monkeypatch.setattr(inspect_mod.BinaryVersion, "__init__", _no_probe)
        monkeypatch.setattr(inspect_mod.BinaryVersion, "get", lambda self, notes: version)
    elif hasattr(inspect_mod, "binary_version"):
        monkeypatch.setattr(inspect_mod, "binary_version", lambda *a, **k: version)


def _no_probe(self: object, host: Host, dockerd: str | None) -> None:
    return None


def observe(root: Path, intent: Intent) -> HostState:
    host = Host(root)
    state = inspect_mod.inspect_host(host)
    if "version" in _PINNED:
        state = state.model_copy(update={"version": DockerVersion(binary=_PINNED["version"])})
    return observe_material(host, state, intent)


def plan_for(root: Path, intent: Intent) -> Plan:
    """As plan_for_host does: with the host's effective sources, and the result re-derived."""
    plan = build_plan(observe(root, intent), intent, sources=derive(Host(root)))
    check_plan_result(Host(root), plan)
    return plan


def apply_files(root: Path, plan: Plan) -> None:
    """What apply does to files: write each after-text with its mode, delete on None."""
    write_changes(root, plan.files)


def apply_certs(root: Path, plan: Plan) -> None:
    """What apply's PKI step does: issue exactly the certs the plan creates or renews."""
    host = Host(root)
    by_role = {c.role: c for c in plan.certs}
    if not by_role:
        return
    intent = plan.intent
    ca_action = by_role["ca"]
    if ca_action.action == "reuse":
        ca = pki.load_ca(host)
    else:
        ca = pki.issue_ca(key_type="ecdsa-p256")
        pki.write_ca(host, ca, overwrite=True)
    server = by_role["server"]
    if server.action != "reuse":
        leaf = pki.issue_server(ca, server.dns_names, server.ip_addresses)
        pki.write_server_material(host, ca, leaf, intent.tls_dir, overwrite=True)
    client = by_role.get("client")
    if client is not None and client.action != "reuse":
        issued = pki.issue_client(ca, intent.client_name)
        pki.write_client_bundle(
            host, ca, issued, intent.client_name, "tcp://127.0.0.1:2376", overwrite=True
        )
