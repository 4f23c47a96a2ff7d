"""``dockwiz plan``: compute the exact change for a mode and show it; writes nothing but --save."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dockwiz.commands._common import (
    add_host_args,
    add_output_args,
    host_from_args,
    print_json,
    use_color,
)
from dockwiz.diffs import plan_diff
from dockwiz.errors import DockwizError

if TYPE_CHECKING:
    from dockwiz.models.intent import Intent


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Compute the exact change that takes this host to MODE and show it as a unified diff "
        "(files, certificates, service actions). Nothing is written; --save keeps the plan "
        "for 'dockwiz apply'."
    )
    add_plan_args(parser, mode_required=True)
    parser.add_argument("--save", metavar="FILE", type=Path, help="save the plan for apply")
    add_host_args(parser)
    add_output_args(parser)
    parser.set_defaults(func=run)


def add_plan_args(parser: argparse.ArgumentParser, *, mode_required: bool) -> None:
    """The planning options, shared with 'dockwiz apply --mode ...' (same flags, same plan)."""
    target: argparse.ArgumentParser | argparse._ArgumentGroup = parser
    if not mode_required:
        target = parser.add_argument_group("plan here instead of a PLAN_FILE (as 'dockwiz plan')")
    target.add_argument("--mode", required=mode_required, choices=["unix", "tls", "mtls", "ssh"],
                        help="unix: local socket only; tls: TLS without client certs (loopback "
                        "only on Docker 27+); mtls: mutual TLS; ssh: no TCP, ssh://user@host")
    target.add_argument("--listen", metavar="ADDR:PORT",
                        help="TCP address for tls/mtls (default: the lab address for a lab, "
                        "else an address already configured, else 127.0.0.1; port 2376)")
    target.add_argument("--san", action="append", default=[], metavar="NAME_OR_IP",
                        help="a name or IP clients dial (repeatable); the listen address, "
                        "localhost, 127.0.0.1 and ::1 are added when none is given")
    target.add_argument("--docker-version", metavar="V",
                        help="plan for this Docker version instead of the installed one")
    target.add_argument("--hardening", default="", metavar="LIST",
                        help="comma-separated: live-restore, icc, no-new-privileges, "
                        "userns-remap, log-rotation")
    target.add_argument("--client-name", default="dockwiz-client", help="mtls client bundle name")
    target.add_argument("--key-type", default="ecdsa-p256",
                        help="ecdsa-p256 (default), ecdsa-p384, rsa-2048/3072/4096, ed25519")
    target.add_argument("--no-reuse", action="store_true",
                        help="issue new certificates even where valid ones exist")
    target.add_argument("--ssh-user", help="user shown in the ssh-mode docker context line")


def _lab_address(args: argparse.Namespace) -> str | None:
    if not getattr(args, "lab", None):
        return None
    from dockwiz.lab.lab import open_lab

    return open_lab(Path(args.lab)).info.address


def intent_from_args(args: argparse.Namespace) -> Intent:
    from dockwiz.addresses import parse_listen
    from dockwiz.models.intent import Hardening, Intent, Mode
    from dockwiz.pki import split_sans

    mode = Mode(args.mode)
    host: str | None = None
    port = 2376
    try:
        if args.listen:
            host, port = parse_listen(args.listen)
        elif mode in (Mode.MTLS, Mode.SSH):
            host = _lab_address(args)
        hardening = Hardening.from_keys(args.hardening.split(","))
    except ValueError as exc:
        raise DockwizError(str(exc), "see 'dockwiz plan --help'") from None
    dns, ips = split_sans(args.san)
    return Intent(
        mode=mode, listen_host=host, listen_port=port, sans_dns=dns, sans_ip=ips,
        key_type=args.key_type, client_name=args.client_name, reuse_certs=not args.no_reuse,
        hardening=hardening, docker_version=args.docker_version, ssh_user=args.ssh_user,
    )


def check_save_target(path: Path) -> None:
    """Refuse a --save path that cannot take a file, before any planning is done.

    A missing directory is not created: a typo in the path would otherwise scatter plans (which
    hold the host's full daemon configuration) into new directories; the fix is one mkdir.
    """
    if path.is_dir():
        raise DockwizError(
            f"--save {path} is a directory, not a file name",
            f"name the file to save into, e.g. --save {shlex.quote(str(path / 'mtls.plan'))}",
        )
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise DockwizError(
            f"cannot save the plan to {path}: the directory {parent} {what}",
            f"create it first (mkdir -p {shlex.quote(str(parent))}) or save elsewhere, "
            f"e.g. --save {shlex.quote('/root/' + path.name)}",
        )


def run(args: argparse.Namespace) -> int:
    from dockwiz.plan import plan_for_host, save_plan

    if args.save:
        check_save_target(args.save)
    intent = intent_from_args(args)
    host = host_from_args(args)
    _state, plan = plan_for_host(host, intent)
    if args.save:
        save_plan(plan, args.save)
    if args.json:
        print_json(plan)
    else:
        sys.stdout.write(plan_diff(plan, color=use_color(args)))
        if args.save:
            saved = shlex.quote(str(args.save))
            print(f"\nplan saved to {args.save}; apply it with: dockwiz apply {saved}")
    return 0
