"""Certificates at apply time: issue what the plan's CertActions ask for, write the bundle.

Runs inside the transaction, after the journal recorded every directory the PKI writes into
(``cert_trees``), so a renewed leaf or a new key is undone by a rollback like any file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockwiz.apply.health import WILDCARDS
from dockwiz.errors import DockwizError
from dockwiz.host import Host

if TYPE_CHECKING:
    from dockwiz.models.plan import Plan


def cert_trees(plan: Plan) -> list[str]:
    """Directories the PKI may write into during this apply (recorded whole in the journal)."""
    trees: list[str] = []
    if not plan.certs:
        return trees

    def add(d: str | None) -> None:
        if d and d not in trees:
            trees.append(d)

    for c in plan.certs:
        if c.action != "reuse":
            add(str(Path(c.cert_path).parent))
            add(str(Path(c.key_path).parent))
        if c.trust_path:  # day two: the daemon's tlscacert is rewritten even when the CA stays
            add(str(Path(c.trust_path).parent))
    intent = plan.intent
    for attr in ("ca_dir", "tls_dir", "clients_dir"):
        add(getattr(intent, attr, None))
    # a tree inside another tree is covered by the outer one
    return [t for t in trees if not any(t != o and t.startswith(o + "/") for o in trees)]


def material_targets(plan: Plan) -> list[str]:
    """Every file the material moves change: each destination, and each source that goes.

    Journaled (backed up) before anything is written, so a rollback puts a moved CA key back
    where the admin had it, byte for byte, and removes the copies."""
    targets: list[str] = []
    for m in plan.material_moves:
        for path in (m.destination, *(() if m.keep_source else (m.source,))):
            if path not in targets:
                targets.append(path)
    return targets


def move_material(host: Host, plan: Plan) -> list[str]:
    """Carry out the plan's material moves, before any certificate is issued.

    Every destination is written atomically with its final mode (its directory made with the
    move's ``dir_mode`` when missing); only then are the sources that move removed, so an error
    half-way leaves every original in place. Returns one line per file for the step's detail.
    """
    from dockwiz.fsutil import atomic_write, ensure_dir
    from dockwiz.pki.storage import read_material

    uid, gid = (0, 0) if os.geteuid() == 0 else (None, None)
    done: list[str] = []
    for m in plan.material_moves:
        try:
            data, _ = read_material(host, m.source)
        except OSError as exc:
            raise DockwizError(
                f"cannot read {m.source} to {'copy' if m.keep_source else 'move'} it: "
                f"{exc.strerror or exc}", "plan again: the host changed since the plan",
            ) from exc
        local = host.writable(m.destination)
        ensure_dir(local.parent.parent, mode=0o755, uid=uid, gid=gid)
        ensure_dir(local.parent, mode=m.dir_mode, uid=uid, gid=gid)
        atomic_write(local, data, mode=m.mode, uid=uid, gid=gid)
        done.append(f"{'copied' if m.keep_source else 'moved'} {m.source} -> {m.destination} "
                    f"({m.mode:04o})")
    kept = {m.source for m in plan.material_moves if m.keep_source}
    for source in dict.fromkeys(m.source for m in plan.material_moves if not m.keep_source):
        if source not in kept:
            host.writable(source).unlink()
    return done


def issue_certificates(host: Host, plan: Plan) -> str | None:
    """Create or renew what the plan's CertActions ask for; return the client bundle's dir.

    Runs after the journal recorded every directory the PKI writes into, so overwriting a
    renewed leaf is safe: the old one is in the backups.
    """
    from dockwiz import pki
    from dockwiz.apply import reissue

    if reissue.is_day_two(plan):
        return reissue.carry_out(host, plan)
    by_role = {c.role: c for c in plan.certs}
    ca: pki.Issued | None = None
    ca_action = by_role.get("ca")
    if ca_action is not None and ca_action.action != "reuse":
        # named after the host and the day, so two hosts' CAs differ in every trust store
        ca = pki.issue_ca(pki.ca_common_name(host), key_type=_key_type(ca_action.key_type),
                          days=ca_action.days)
        pki.write_ca(host, ca, overwrite=ca_action.action == "renew")

    def the_ca() -> pki.Issued:
        nonlocal ca
        if ca is None:
            ca = pki.load_ca(host)
        return ca

    server = by_role.get("server")
    if server is not None and server.action != "reuse":
        issued = pki.issue_server(
            the_ca(), server.dns_names, server.ip_addresses,
            key_type=_key_type(server.key_type), days=server.days,
            common_name=pki.server_common_name(host, server.dns_names, server.ip_addresses))
        pki.write_server_material(host, the_ca(), issued,
                                  directory=str(Path(server.cert_path).parent), overwrite=True)
    client = by_role.get("client")
    if client is None:
        return plan.client_bundle
    if client.action == "reuse":
        return plan.client_bundle or str(Path(client.cert_path).parent)
    name = plan.intent.client_name
    issued = pki.issue_client(the_ca(), name, key_type=_key_type(client.key_type),
                              days=client.days)
    bundle = pki.write_client_bundle(host, the_ca(), issued, name, _bundle_endpoint(plan, server),
                                     overwrite=True)
    return bundle.dir


def _key_type(value: str) -> Any:
    from dockwiz import pki

    if value not in pki.KEY_TYPES:
        raise DockwizError(f"unknown key type {value!r} in the plan",
                           f"use one of {', '.join(pki.KEY_TYPES)}")
    return value


def _bundle_endpoint(plan: Plan, server: Any) -> str:
    """The address the client dials: the TCP endpoint, or a SAN if it listens on a wildcard."""
    from urllib.parse import urlsplit

    for e in plan.endpoints_after:
        if not e.url.startswith("tcp://"):
            continue
        parts = urlsplit(e.url)
        name = parts.hostname or ""
        if name in WILDCARDS and server is not None:
            sans = [*server.ip_addresses, *server.dns_names]
            name = sans[0] if sans else "localhost"
        shown = f"[{name}]" if ":" in name else name
        return f"tcp://{shown}:{parts.port or 2376}"
    return "tcp://localhost:2376"

