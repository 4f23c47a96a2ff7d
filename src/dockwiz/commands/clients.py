"""``dockwiz clients list|add|revoke``: who can reach the daemon, and changing that safely.

``add`` writes a bundle from the CA the daemon trusts (no restart) and proves it gets in;
``revoke`` is a new CA, a new server certificate and new bundles for everyone else in one
transaction (dockerd checks no revocation list), proven by a negative probe with the revoked
bundle. Both go through :func:`dockwiz.commands.renew.run_day_two`.
"""

from __future__ import annotations

import argparse

from dockwiz.commands._common import add_host_args, add_output_args, host_from_args, print_json
from dockwiz.commands.renew import _refuse_pending, add_apply_args, run_day_two


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    del name
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION",
                                help="list, add or revoke")
    texts = {
        "list": "every client bundle: name, fingerprint, expiry, bundle path, whether the "
                "current CA signed it (and the revoked ones)",
        "add": "a new client bundle from the CA the daemon trusts; no restart, and the apply's "
               "health wait proves the new bundle gets in",
        "revoke": "lock a client out: dockerd checks no revocation list, so a new CA, a new "
                  "server certificate and new bundles for every other client, as ONE "
                  "transaction; the revoked bundle is proven refused",
    }
    listing, add, revoke = (sub.add_parser(n, help=t.split(":")[0].split(";")[0],
                                           description=t) for n, t in texts.items())
    add.add_argument("name", metavar="NAME", help="the client's name (letters, digits, . _ -)")
    add.add_argument("--days", type=int, help="validity (default 365)")
    add.add_argument("--key-type", help="ecdsa-p256 (default), ecdsa-p384, rsa-2048..4096, "
                     "ed25519")
    add.add_argument("--endpoint", help="the address the bundle dials (default: from the "
                     "server certificate)")
    revoke.add_argument("name", metavar="NAME", help="the client to lock out (clients list)")
    for p in (listing, add, revoke):
        add_host_args(p)
        add_output_args(p)
    for p in (add, revoke):
        add_apply_args(p)
    listing.set_defaults(func=run_list)
    add.set_defaults(func=run_add)
    revoke.set_defaults(func=run_revoke)


def run_list(args: argparse.Namespace) -> int:
    from dockwiz.lifecycle import list_clients

    clients = list_clients(host_from_args(args))
    if args.json:
        print_json([c.model_dump(mode="json") for c in clients])
        return 0
    if not clients:
        print("no client bundles (add one: dockwiz clients add NAME)")
    for c in clients:
        state = ("revoked" if c.revoked else "current CA" if c.signed_by_current_ca
                 else "trusted (old CA)" if c.trusted_by_daemon else "NOT trusted")
        expires = f"{c.not_after:%Y-%m-%d} ({c.days_left:.0f} d)" if c.not_after else "?"
        fp = (c.fingerprint or "?")[:23]
        print(f"{c.name:<20} {state:<17} expires {expires:<18} sha256 {fp}  {c.bundle}")
        if c.error:
            print(f"  error: {c.error}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from dockwiz.lifecycle import plan_add_client

    host = host_from_args(args)
    _refuse_pending(host)
    plan = plan_add_client(host, args.name, days=args.days, key_type=args.key_type,
                           endpoint=args.endpoint)
    return run_day_two(args, host, plan, "clients add")


def run_revoke(args: argparse.Namespace) -> int:
    from dockwiz.lifecycle import plan_revoke

    host = host_from_args(args)
    _refuse_pending(host)
    return run_day_two(args, host, plan_revoke(host, args.name), "clients revoke")
