"""The hand-off: what the admin takes away after an apply, as plain text, built in one place.

The wizard prints it on the normal screen once Textual has given the terminal back, ``dockwiz
apply`` and ``dockwiz verify`` end with it, and apply saves it as ``README.txt`` in the client
bundle. It says what changed (the transaction), where the bundle is *on this machine* and, on a
lab, inside ``dockwiz lab shell`` (the lab's /etc/dockwiz is mounted there), how to use it
(``. env.sh``, the ``docker context create`` line, one test command) and how to undo it. Every
path it prints works where it says it does: a lab's daemon is only reachable inside the lab's
network namespace, so the commands for a lab are the ones to type in ``lab shell``.

Plain strings only (no rich, no Textual): the core builds it, the front ends print it.
"""

from __future__ import annotations

import contextlib
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockwiz.host import Host
    from dockwiz.models.results import ApplyResult, Handoff, VerifyReport

README_NAME = "README.txt"


@dataclass(frozen=True)
class Place:
    """Where the command ran: this machine ("/"), a sandbox root, a lab, a throwaway lab."""

    root: str = "/"
    lab_dir: str | None = None
    throwaway: bool = False

    @classmethod
    def of(cls, host: Host, *, throwaway: bool = False) -> Place:
        lab = getattr(host, "lab", None)
        lab_dir = str(lab.dir) if lab is not None else None
        return cls(root=str(host.root), lab_dir=lab_dir, throwaway=throwaway and bool(lab_dir))

    def local(self, host_path: str) -> str:
        """``host_path`` as a path on this machine (under the root for a sandbox or a lab)."""
        if self.root == "/":
            return host_path
        return str(Path(self.root).joinpath(*PurePosixPath(host_path).parts[1:]))

    def host_args(self) -> str:
        """The options that make a dockwiz command act on the same host."""
        if self.lab_dir:
            return f" --lab {shlex.quote(self.lab_dir)}"
        if self.root != "/":
            return f" --root {shlex.quote(self.root)}"
        return ""


@dataclass(frozen=True)
class Bundle:
    """A client bundle as the hand-off shows it, read back from the files apply wrote."""

    host_dir: str
    local_dir: str
    name: str
    endpoint: str | None
    context_command: str | None


def read_bundle(place: Place, host_dir: str) -> Bundle:
    """The bundle's endpoint and context line as written in its env.sh and context.txt."""
    local = place.local(host_dir)
    endpoint = context = None
    with contextlib.suppress(OSError):
        for line in Path(local, "env.sh").read_text(encoding="utf-8").splitlines():
            if line.startswith("export DOCKER_HOST="):
                endpoint = line.split("=", 1)[1].strip("'\"")
    with contextlib.suppress(OSError):
        context = Path(local, "context.txt").read_text(encoding="utf-8").strip() or None
    return Bundle(host_dir=host_dir, local_dir=local, name=PurePosixPath(host_dir).name,
                  endpoint=endpoint, context_command=context)


def handoff_lines(
    place: Place, *, txid: str | None, bundle: Bundle | None, endpoint: str | None = None
) -> list[str]:
    """The hand-off, line by line; commands stand alone on their own line, never wrapped."""
    lines: list[str] = []
    where = bundle.endpoint if bundle is not None and bundle.endpoint else endpoint
    if txid:
        head = f"dockwiz: applied transaction {txid}"
        lines.append(head + (f"; the daemon answers on {where}" if where else ""))
    elif where:
        lines.append(f"dockwiz: the daemon answers on {where}")
    if bundle is not None:
        lines += _bundle_lines(place, bundle)
    if txid:
        lines += ["", "Undo this change (puts every file back and restarts the daemon):",
                  f"  dockwiz rollback{place.host_args()}"]
    if place.throwaway and place.lab_dir:
        lines += [
            "",
            f"This was a throwaway lab: the lab and its client bundle in {place.lab_dir} are "
            "removed now, as the wizard exits.",
            "To keep a lab and its bundle, start one of your own and run the wizard on it:",
            "  dockwiz lab up --dir DIR && dockwiz --lab DIR",
        ]
    return lines


def _bundle_lines(place: Place, bundle: Bundle) -> list[str]:
    files = "ca.pem, cert.pem, key.pem, env.sh, context.txt, README.txt"
    lines = ["", f"Client bundle '{bundle.name}' ({files}; keep key.pem secret):",
             f"  on this machine: {bundle.local_dir}"]
    if place.lab_dir:
        shell = f"dockwiz lab shell --dir {shlex.quote(place.lab_dir)}"
        lines += [f"  inside the lab:  {bundle.host_dir}  ({shell})", "",
                  "The lab's daemon is reachable only inside the lab: run these in the lab shell:"]
    elif place.root != "/":
        lines += ["", "On the host this root belongs to, the bundle is at "
                  f"{bundle.host_dir}; there:"]
    else:
        lines += ["", "Copy the directory to the client (keep its mode 0700); to use it here:"]
    lines.append(f"  . {bundle.host_dir}/env.sh && docker version")
    if bundle.context_command:
        lines += ["or, as a docker context:", f"  {bundle.context_command}",
                  f"  docker --context {shlex.quote(bundle.name)} version"]
    return lines


def handoff_text(place: Place, *, txid: str | None, bundle: Bundle | None,
                 endpoint: str | None = None) -> str:
    return "\n".join(handoff_lines(place, txid=txid, bundle=bundle, endpoint=endpoint)) + "\n"


def after_apply(host: Host, result: ApplyResult, place: Place | None = None, *,
                save: bool = True) -> str:
    """The hand-off for a successful apply; saved as README.txt in the bundle unless told
    not to (the wizard saves it right after the apply, while the terminal may be gone)."""
    place = place or Place.of(host)
    bundle = read_bundle(place, result.client_bundle) if result.client_bundle else None
    text = handoff_text(place, txid=result.txid, bundle=bundle)
    if bundle is not None and save:
        save_readme(host, bundle, handoff_text(Place(place.root, place.lab_dir), txid=result.txid,
                                               bundle=bundle))
    return text


def after_verify(host: Host, report: VerifyReport, place: Place | None = None) -> str | None:
    """The hand-off verify ends with: the bundle it proved, and how to use it."""
    handoff = report.handoff
    if handoff is None or not report.passed:
        return None
    if handoff.ssh_config is not None:  # ssh mode: no bundle, a context and an ssh_config
        return ssh_handoff_text(handoff)
    place = place or Place.of(host)
    bundle = read_bundle(place, handoff.bundle_dir)
    if bundle.endpoint is None or bundle.context_command is None:
        bundle = Bundle(host_dir=bundle.host_dir, local_dir=bundle.local_dir, name=bundle.name,
                        endpoint=bundle.endpoint or handoff.endpoint,
                        context_command=bundle.context_command or handoff.context_create)
    return handoff_text(place, txid=None, bundle=bundle)


def ssh_handoff_text(handoff: Handoff) -> str:
    """ssh mode's hand-off: the context line and the client's ssh_config entry (ControlMaster,
    so the many sessions compose and docker-py open share one connection)."""
    lines = [
        "Client hand-off (ssh)",
        f"  endpoint: {handoff.endpoint}",
        f"  context:  {handoff.context_create}",
        "  ssh_config (on the client):",
        *(f"    {line}" for line in (handoff.ssh_config or "").splitlines()),
    ]
    return "\n".join(lines) + "\n"


def save_readme(host: Host, bundle: Bundle, text: str) -> None:
    """README.txt beside the bundle's files; rollback removes it with the tree apply made."""
    from dockwiz.pki.bundles import write_bundle_file

    with contextlib.suppress(OSError):
        write_bundle_file(host, bundle.host_dir, README_NAME, text)
