"""``dockwiz certs init|server|client|show|renew``: the TLS material, headless.

This module is on the benchmarked path (``dockwiz certs init`` is timed as a whole process), so
it imports only the standard library at module level; the PKI core (``cryptography``) is
imported by the handlers, and nothing here needs rich or textual.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockwiz.addresses import is_ip
from dockwiz.commands._common import add_host_args, host_from_args
from dockwiz.docker_paths import CA_DIR, DAEMON_TLS_DIR

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.models.host_state import CertInfo
    from dockwiz.pki import ClientBundle, Issued

# argparse's choices, without importing cryptography on this benchmarked path; kept equal to
# pki.KEY_TYPES (checked by a test)
KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519")


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Issue and inspect the CA, server and client certificates for a TLS-secured daemon. "
        f"The CA key lives in {CA_DIR} (0700), never in the daemon's directory."
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = sub.add_parser(
        "init",
        help="create the CA and the daemon's server certificate (and client bundles)",
        description="Create the CA (10 years) and the server certificate for the daemon "
        "(SANs: detected names and addresses plus --san). An existing CA or server "
        "certificate is checked and kept; replace it only with --overwrite.",
    )
    _common(init, leaf=True)
    _san_args(init)
    init.add_argument("--ca-days", type=int, default=3650, help="CA validity (default 3650)")
    init.add_argument("--ca-name", default="dockwiz CA", help="the CA's common name")
    init.add_argument("--ca-only", action="store_true", help="create only the CA")
    init.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="NAME",
        help="also issue a client bundle NAME (repeatable)",
    )
    init.add_argument("--endpoint", help="tcp://HOST:PORT clients dial (for env.sh/context)")
    init.set_defaults(func=_cmd_init)

    server = sub.add_parser("server", help="issue the daemon's server certificate with the CA")
    _common(server, leaf=True)
    _san_args(server)
    server.set_defaults(func=_cmd_server)

    client = sub.add_parser("client", help="issue a client bundle (ca.pem cert.pem key.pem env.sh)")
    _common(client, leaf=True)
    client.add_argument("client_name", nargs="?", metavar="NAME", help="client name")
    client.add_argument("--name", dest="name_opt", metavar="NAME", help="client name")
    client.add_argument("--endpoint", help="tcp://HOST:PORT clients dial (default: from SANs)")
    client.set_defaults(func=_cmd_client)

    show = sub.add_parser("show", help="show and check the CA, server and client certificates")
    add_host_args(show)
    show.add_argument("--dir", default=DAEMON_TLS_DIR, help="the daemon's TLS directory")
    show.add_argument("--listen", default="", help="address clients dial, to check the SANs")
    show.add_argument("--json", action="store_true", help="print machine-readable JSON")
    show.set_defaults(func=_cmd_show)

    renew = sub.add_parser(
        "renew",
        help="re-issue the server (or a client) certificate with the same CA and names",
    )
    _common(renew, leaf=True, overwrite=False)
    renew.set_defaults(key_type=None)  # default: the key type of the certificate renewed
    renew.add_argument("--client", metavar="NAME", help="renew this client bundle instead")
    renew.add_argument("--san", action="append", default=[], help="add a SAN (repeatable)")
    renew.add_argument("--endpoint", help="new endpoint for a client bundle")
    renew.set_defaults(func=_cmd_renew)


def _common(p: argparse.ArgumentParser, *, leaf: bool, overwrite: bool = True) -> None:
    add_host_args(p)
    p.add_argument(
        "--key-type",
        choices=KEY_TYPES,
        default="ecdsa-p256",
        help="key algorithm (default ecdsa-p256, renew: as before; all are accepted by Go's TLS)",
    )
    if leaf:
        p.add_argument("--days", type=int, default=365, help="leaf validity (default 365)")
    p.add_argument("--dir", default=DAEMON_TLS_DIR, help="the daemon's TLS directory")
    p.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="passphrase of the CA key (init: encrypt the new CA key with it)",
    )
    if overwrite:
        p.add_argument("--overwrite", action="store_true", help="replace existing material")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _san_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--san",
        action="append",
        default=[],
        metavar="NAME|IP",
        help="a DNS name or IP clients dial (repeatable; DNS:/IP: prefixes accepted)",
    )
    p.add_argument(
        "--no-detect",
        action="store_true",
        help="only the --san values, not the detected host names and addresses",
    )
    p.add_argument("--cn", default=None, help="server common name (default: first DNS SAN)")
    p.add_argument("--dry-run", action="store_true", help="show the names and files, write nothing")


# -- helpers -----------------------------------------------------------------------------------
def _passphrase(args: argparse.Namespace) -> bytes | None:
    path = getattr(args, "passphrase_file", None)
    if not path:
        return None
    from dockwiz.errors import DockwizError
    from dockwiz.pki import read_local

    try:
        # this machine's file (not the host root's): links are fine, FIFOs and devices are not
        data = read_local(Path(path).resolve())[0].rstrip(b"\r\n")
    except OSError as exc:
        raise DockwizError(
            f"cannot read the passphrase file {path}: {exc.strerror or exc}",
            "give a regular file holding the passphrase",
        ) from exc
    if not data:
        raise DockwizError(f"the passphrase file {path} is empty", "put the passphrase in it")
    return data


def _host(args: argparse.Namespace) -> Host:
    """The Host, after the --dir given is checked (absolute, no '..': a one-line error)."""
    from dockwiz import pki

    args.dir = pki.check_tls_dir(args.dir)
    return host_from_args(args)


def _sans(host: Host, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    from dockwiz import pki

    dns, ips = pki.split_sans(args.san)  # validate the admin's input before anything else
    if not args.no_detect:
        auto_dns, auto_ips = pki.detect_sans(host)
        # the admin's names first: they give the CN and the clients' default endpoint
        dns, ips = list(dict.fromkeys([*dns, *auto_dns])), list(dict.fromkeys([*ips, *auto_ips]))
    return dns, ips


class _Report:
    """What the command did, printed as text or JSON at the end."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.data: dict[str, Any] = {"written": [], "kept": []}

    def line(self, text: str) -> None:
        if not self.as_json:
            print(text)

    def finish(self) -> int:
        if self.as_json:
            print(json.dumps(self.data, indent=2, default=str))
        return 0


def _describe(issued: Issued) -> dict[str, Any]:
    from dockwiz import pki

    return {
        "subject": issued.cert.subject.rfc4514_string(),
        "key_type": issued.key_type,
        "not_after": issued.not_after.isoformat(),
        "serial": f"{issued.cert.serial_number:x}",
        "sans": pki.sans_of(issued.cert),
    }


# -- actions -----------------------------------------------------------------------------------
def _cmd_init(args: argparse.Namespace) -> int:
    """Everything is decided and issued in memory first, then written in one all-or-nothing
    step: a bad --client name or an existing file leaves the host untouched."""
    from dockwiz import pki

    host = _host(args)
    passphrase = _passphrase(args)
    choice = pki.decide_init(
        host, args.dir, args.client, overwrite=args.overwrite, ca_only=args.ca_only
    )
    new_ca, server_exists, server_needed = (
        choice.new_ca, choice.server_exists, choice.server_needed
    )
    new_clients = choice.new_clients
    dns, ips = ([], []) if args.ca_only else _sans(host, args)
    endpoint = pki.normalize_endpoint(args.endpoint) if args.endpoint else None
    report = _Report(args.json)

    if args.dry_run:
        return _dry_run(args, new_ca, server_needed, dns, ips, new_clients)
    wanted = int(new_ca) + int(server_needed) + len(new_clients)
    keys = iter(pki.generate_keys([args.key_type] * wanted))
    if new_ca:
        ca = pki.issue_ca(args.ca_name, args.key_type, args.ca_days, key=next(keys))
    else:
        ca = pki.load_ca(host, passphrase)
        report.data["kept"].append(pki.CA_DIR)
        report.line(
            f"kept the existing CA {ca.common_name!r} (valid until {ca.not_after:%Y-%m-%d})"
        )
    report.data["ca"] = _describe(ca)

    server = None
    if server_needed:
        server = pki.issue_server(ca, dns, ips, args.key_type, args.days, args.cn, key=next(keys))
    elif not args.ca_only:
        pki.check_kept_server(host, ca, args.dir)
        report.data["kept"].append(args.dir)
        report.line(f"kept the existing server certificate in {args.dir} (checks passed)")
    for directory in pki.check_kept_clients(host, ca, choice.kept_clients):
        report.data["kept"].append(directory)
        report.line(f"kept the existing client bundle {directory.rsplit('/', 1)[-1]!r}")
    url = endpoint or pki.default_endpoint(host, args.dir, server.cert if server else None)
    clients = [
        (name, pki.issue_client(ca, name, args.key_type, args.days, key=next(keys)), url)
        for name in new_clients
    ]

    written, bundles = pki.write_material(
        host,
        ca,
        store_ca=new_ca,
        passphrase=passphrase,
        server=server,
        directory=args.dir,
        clients=clients,
        overwrite=args.overwrite,
    )
    report.data["written"] += written
    if new_ca:
        report.line(f"created CA {ca.common_name!r} ({ca.key_type}) in {pki.CA_DIR}")
        if args.ca_only and server_exists:
            report.line(
                f"  note: the server certificate in {args.dir} is from the old CA: "
                "run 'dockwiz certs server --overwrite'"
            )
    if server is not None:
        _report_server(report, server, args.dir, args.days)
    for bundle in bundles:
        _report_bundle(report, bundle)
    return report.finish()


def _report_server(report: _Report, server: Issued, directory: str, days: int) -> None:
    from dockwiz import pki

    report.data["server"] = _describe(server)
    ca_path, cert_path, key_path = pki.server_paths(directory)
    sans = pki.sans_of(server.cert)
    report.line(f"issued server certificate ({server.key_type}, {days} days) in {directory}")
    report.line(f"  DNS names: {', '.join(s for s in sans if not is_ip(s)) or '-'}")
    report.line(f"  IPs:       {', '.join(s for s in sans if is_ip(s)) or '-'}")
    report.line("  clients must dial one of these; add more with: dockwiz certs renew --san NAME")
    report.line(
        f'  daemon.json: "tlsverify": true, "tlscacert": "{ca_path}", '
        f'"tlscert": "{cert_path}", "tlskey": "{key_path}"'
    )


def _report_bundle(report: _Report, bundle: ClientBundle) -> None:
    report.data.setdefault("clients", []).append(bundle.model_dump())
    report.line(f"issued client bundle {bundle.name!r} in {bundle.dir} (copy it to the client)")
    report.line(f"  . {bundle.dir}/env.sh   # or: {bundle.context_command}")


def _write_server(
    host: Host, args: argparse.Namespace, ca: Issued, dns: list[str], ips: list[str]
) -> int:
    from dockwiz import pki

    report = _Report(args.json)
    server = pki.issue_server(ca, dns, ips, args.key_type, args.days, args.cn)
    written, _ = pki.write_material(
        host, ca, store_ca=False, server=server, directory=args.dir, overwrite=args.overwrite
    )
    report.data["written"] += written
    _report_server(report, server, args.dir, args.days)
    return report.finish()


def _write_client(
    host: Host, args: argparse.Namespace, ca: Issued, name: str, endpoint: str | None
) -> int:
    from dockwiz import pki

    report = _Report(args.json)
    client = pki.issue_client(ca, name, args.key_type, args.days)
    url = endpoint or pki.default_endpoint(host, args.dir)
    written, bundles = pki.write_material(
        host, ca, store_ca=False, clients=[(name, client, url)], overwrite=args.overwrite
    )
    report.data["written"] += written
    _report_bundle(report, bundles[0])
    return report.finish()


def _dry_run(
    args: argparse.Namespace,
    new_ca: bool,
    server: bool,
    dns: list[str],
    ips: list[str],
    clients: list[str],
) -> int:
    """What init/server would do, for the admin to confirm the SANs before anything is made."""
    from dockwiz import pki

    plan: dict[str, Any] = {
        "ca": "create" if new_ca else "keep",
        "server": {"dns_names": dns, "ip_addresses": ips} if server else None,
        "clients": clients,
        "key_type": args.key_type,
        "files": ([f"{pki.CA_DIR}/ca.pem", f"{pki.CA_DIR}/ca-key.pem"] if new_ca else [])
        + (list(pki.server_paths(args.dir)) if server else [])
        + [f"{pki.CLIENTS_DIR}/{c}/" for c in clients],
    }
    if args.json:
        print(json.dumps(plan, indent=2))
        return 0
    print(f"dry run ({args.key_type}); nothing written")
    print(f"  CA: {plan['ca']} ({pki.CA_DIR})")
    if server:
        print(f"  server DNS names: {', '.join(dns) or '-'}")
        print(f"  server IPs:       {', '.join(ips) or '-'}")
    for name in clients:
        print(f"  client bundle: {pki.CLIENTS_DIR}/{name}/")
    print("  files: " + ", ".join(plan["files"]))
    return 0


def _cmd_server(args: argparse.Namespace) -> int:
    from dockwiz import pki

    host = _host(args)
    dns, ips = _sans(host, args)
    if args.dry_run:
        return _dry_run(args, False, True, dns, ips, [])
    return _write_server(host, args, pki.load_ca(host, _passphrase(args)), dns, ips)


def _cmd_client(args: argparse.Namespace) -> int:
    from dockwiz import pki
    from dockwiz.errors import DockwizError

    name = args.name_opt or args.client_name
    if not name:
        raise DockwizError("which client?", "give a name: dockwiz certs client laptop")
    pki.validate_client_name(name)
    endpoint = pki.normalize_endpoint(args.endpoint) if args.endpoint else None
    host = _host(args)
    return _write_client(host, args, pki.load_ca(host, _passphrase(args)), name, endpoint)


def _cmd_renew(args: argparse.Namespace) -> int:
    """A new leaf (new key, new serial, fresh validity) with the same CA and the same names:
    clients that trust the CA keep working."""
    from dockwiz import pki
    from dockwiz.errors import DockwizError

    host = _host(args)
    ca = pki.load_ca(host, _passphrase(args))
    args.overwrite = True
    if args.client:
        pki.validate_client_name(args.client)
        if not pki.client_exists(host, args.client):
            raise DockwizError(
                f"there is no client bundle {args.client!r}",
                f"issue it with 'dockwiz certs client {args.client}'",
            )
        endpoint = args.endpoint or pki.bundle_endpoint(host, args.client)
        old = pki.cert_info(host, f"{pki.client_dir(args.client)}/cert.pem")
        args.key_type = args.key_type or _same_key_type(old.key_type)
        return _write_client(host, args, ca, args.client, endpoint)
    _, cert_path, _ = pki.server_paths(args.dir)
    old = pki.cert_info(host, cert_path)
    if old.error:
        raise DockwizError(old.error, "issue it with 'dockwiz certs server'")
    args.key_type = args.key_type or _same_key_type(old.key_type)
    extra_dns, extra_ips = pki.split_sans(args.san)
    dns = list(dict.fromkeys([*old.dns_names, *extra_dns]))
    ips = list(dict.fromkeys([*old.ip_addresses, *extra_ips]))
    args.cn = None
    return _write_server(host, args, ca, dns, ips)


def _same_key_type(key_type: str | None) -> str:
    return key_type if key_type in KEY_TYPES else "ecdsa-p256"


def _cmd_show(args: argparse.Namespace) -> int:
    from dockwiz import pki

    host = _host(args)
    infos = list(pki.iter_material(host, args.dir))
    ca_info = next((i for i in infos if i.role == "ca" and not i.error), None)
    rows: list[dict[str, Any]] = []
    for info in infos:
        if info.role == "server":
            problems = pki.check_server_cert(info, args.listen, ca_info)
        elif info.role == "client":
            problems = pki.check_client_cert(info, ca_info)
        else:
            problems = pki.check_ca_cert(info) if info.exists else []
        problems += _lint(host, info)
        rows.append({"cert": info.model_dump(mode="json"), "problems": problems})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            _print_row(row)
    bad = any(r["problems"] for r in rows if r["cert"]["exists"])
    return 1 if bad else 0


def _lint(host: Host, info: CertInfo) -> list[str]:
    """Extension-level gaps (keyUsage, basicConstraints, key ids...) not in CertInfo."""
    from dockwiz import pki
    from dockwiz.errors import DockwizError

    if info.error or not info.exists or info.role == "unknown":
        return []
    try:
        cert = pki.load_certificate(pki.read_material(host, info.path)[0], info.path)
    except (OSError, DockwizError):
        return []
    covered = ("no extendedKeyUsage", "extendedKeyUsage", "no subjectAltName", "basicConstraints")
    return [p for p in pki.lint_certificate(cert, info.role) if not p.startswith(covered)]


def _print_row(row: dict[str, Any]) -> None:
    cert = row["cert"]
    head = f"{cert['role']:<7}{cert['path']}"
    if not cert["exists"]:
        print(f"{head}: not present")
        return
    print(head)
    if cert["subject"]:
        print(f"  subject  {cert['subject']}  ({cert['key_type']})")
        print(f"  valid    {cert['not_before']} .. {cert['not_after']}")
    if cert["dns_names"] or cert["ip_addresses"]:
        print(f"  SANs     {', '.join(cert['dns_names'] + cert['ip_addresses'])}")
    if cert["ext_key_usage"]:
        print(f"  EKU      {', '.join(cert['ext_key_usage'])}")
    for problem in row["problems"]:
        print(f"  PROBLEM  {problem}")
    if not row["problems"]:
        print("  ok")
    sys.stdout.flush()
