"""The files the plan writes: daemon.json edited in place, the service drop-in (and which
file wins systemd's ordering), the docker.socket drop-in."""

from __future__ import annotations

import posixpath
from typing import Any

from dockwiz import daemon_json as dj
from dockwiz import diffs, systemd
from dockwiz.docker_paths import DAEMON_JSON, DROPIN_DIR, DROPIN_PATH, SOCKET_UNIT_PATH
from dockwiz.models.plan import FileChange
from dockwiz.plan.listeners import _new_argv
from dockwiz.plan.work import SOCKET_DROPIN_DIR, SOCKET_DROPIN_NAME, _Work
from dockwiz.policy import (
    effective_major,
)


def _json_mode(old: int | None) -> int:
    """CIS 3.17: 0644 or stricter; a stricter mode the admin chose is kept."""
    return 0o644 if old is None else old & 0o644


def _file_changes(work: _Work) -> list[FileChange]:
    files: list[FileChange] = []
    jf = work.json
    path = work.state.daemon_json.path or DAEMON_JSON
    if work.data != jf.data:
        base = jf.repaired_text if jf.repaired_text is not None else jf.text
        # edited in place: untouched lines stay byte for byte, so the diff shows only the change
        after: str | None = (
            dj.edit_in_place(base, work.data) if base and not jf.empty else dj.render(work.data)
        )
        reason = "set what the mode needs; every other key, value and line kept"
    elif jf.repaired_text is not None:
        after = jf.repaired_text
        reason = "comments/trailing commas removed: dockerd reads strict JSON only"
    elif jf.exists and jf.empty and _major_below(work, 23):
        after = "{}\n"
        reason = "an empty file stops Docker before 23 ('EOF'): write {}"
    else:
        after = jf.text
        reason = "unchanged"
    if jf.exists or (after is not None and work.data):
        if jf.repaired_text is not None and work.data != jf.data:
            reason += "; comments/trailing commas removed (dockerd reads strict JSON only)"
        mode = _json_mode(jf.mode)
        files.append(
            FileChange(
                path=path, before=jf.text, after=after, mode=mode, role="daemon.json",
                reason=reason if after != jf.text else f"mode {diffs.octal(jf.mode)} -> "
                f"{mode:04o} (CIS 3.17)",
                mode_before=jf.mode,
            )
        )
    new_argv = _new_argv(work)
    if new_argv is not None and new_argv != work.argv:
        files.append(_dropin_change(work, new_argv))
    socket = _socket_dropin(work)
    if socket is not None:
        files.append(socket)
    return files


SOCKET_DROPIN_WHY = (
    "Written by dockwiz. docker.socket listens on the unix socket only: a TCP ListenStream is\n"
    "handed to dockerd by -H fd:// as a listener nobody planned (plain TCP unless TLS is on).\n"
    "TCP, where the mode has it, is dockerd's own -H listener, with TLS from daemon.json."
)


def _socket_dropin(work: _Work) -> FileChange | None:
    """Reset docker.socket's ListenStream to its unix sockets when it also has TCP ones.

    ListenStream accumulates over the unit and its drop-ins and an empty assignment resets
    it, so the reset must come last: the file is named to sort after every drop-in that sets
    ListenStream (``zz-dockwiz.conf``; after a vendor's ``zzz-tcp.conf``, ``zzz-tcp~dockwiz.conf``,
    since systemd compares plain file names and '~' sorts after '.').
    """
    if work.sources is None:
        return None
    streams = [s for s in work.sources.sources if s.via == "docker.socket"]
    tcp = [s for s in streams if s.kind == "tcp"]
    if not tcp:
        return None
    unix = [s.url.removeprefix("unix://") for s in streams if s.kind == "unix"]
    names = sorted(posixpath.basename(s.file or "") for s in streams
                   if s.file and ".socket.d/" in s.file)
    name = SOCKET_DROPIN_NAME
    if names and names[-1] >= name:
        name = names[-1].removesuffix(".conf") + "~dockwiz.conf"  # '~' sorts after '.'

    lines = "".join(f"ListenStream={u}\n" for u in dict.fromkeys(unix or [SOCKET_UNIT_PATH]))
    comments = "".join(f"# {line}\n" for line in SOCKET_DROPIN_WHY.splitlines())
    shown = ", ".join(f"{s.url} ({s.where})" for s in tcp)
    work.notes.append(
        f"docker.socket: TCP ListenStream {shown} removed by a drop-in; on systemd, "
        "'systemctl restart docker.socket' applies it (the daemon's restart alone does not "
        "rebind systemd's sockets)"
    )
    return FileChange(
        path=f"{SOCKET_DROPIN_DIR}/{name}", before=None,
        after=f"{comments}[Socket]\nListenStream=\n{lines}", mode=0o644, role="dropin",
        reason="reset docker.socket's ListenStream to the unix socket: socket activation "
        f"would hand dockerd plain TCP on {', '.join(s.url for s in tcp)}",
    )


def _major_below(work: _Work, major: int) -> bool:
    m = effective_major(work.state, work.intent)
    return m is not None and m < major


def _dropin_change(work: _Work, argv: list[str]) -> FileChange:
    unit = work.state.unit
    source = unit.exec_start_source or ""
    existing = {d.path: d for d in unit.dropins}
    why = "; ".join(dict.fromkeys(work.drop_reasons))
    target = _dropin_target(source, existing)
    if target != DROPIN_PATH:
        old = existing[source].text
        before = existing[target].text if target in existing else None
        where = ("this drop-in" if target == source else
                 f"{source}, which dockwiz does not edit: this same-named file in /etc masks it "
                 "(systemd's way to override a vendor drop-in) and keeps its other lines")
        return FileChange(
            path=target, before=before, after=rewrite_exec_start(old, argv), mode=0o644,
            role="dropin",
            reason=f"the ExecStart in force comes from {where}; ExecStart rewritten ({why})",
        )
    old_text = existing[target].text if target in existing else None
    return FileChange(
        path=target, before=old_text, after=render_dropin(argv), mode=0o644, role="dropin",
        reason=f"reset ExecStart ({why}); the packaged unit is never edited",
    )


def _dropin_target(source: str, existing: dict[str, Any]) -> str:
    """Which file gets the new ExecStart, so that it is the one systemd runs.

    systemd applies the drop-ins of every directory (/etc, /run, /lib, /usr/lib) in one list
    sorted by file name, a file in /etc masking a same-named one lower down; the last
    ``ExecStart=`` after the last reset wins. The ExecStart in force comes from ``source``, the
    last file that sets it, so:

    * the packaged unit: no drop-in sets ExecStart, ours can sit anywhere: ``dockwiz.conf``;
    * a drop-in in /etc (seed 002's override.conf): rewritten in place (a second file would
      leave the admin's line behind as a dead, misleading ExecStart);
    * a drop-in in /run, /lib or /usr/lib (a vendor's ``zzz-tcp.conf``): a file of the SAME
      name in /etc, holding its text with ExecStart rewritten. That masks the competitor
      entirely, systemd's documented way to override a vendor drop-in, and takes its exact
      place in the order, which was last. A "sorts later" name would only win until the next
      vendor file with a later name; the mask cannot be out-sorted.
    """
    if source in existing:
        name = posixpath.basename(source)
        etc_twin = f"{DROPIN_DIR}/{name}"
        if source == DROPIN_PATH:
            return DROPIN_PATH
        return etc_twin
    return DROPIN_PATH


DROPIN_WHY = (
    "Written by dockwiz. Options set in /etc/docker/daemon.json are not repeated here (dockerd\n"
    "refuses a directive given both as a flag and in the file). Every other flag of the\n"
    "packaged ExecStart is kept; the packaged unit is not edited."
)


def render_dropin(argv: list[str]) -> str:
    return systemd.render_dropin(argv, DROPIN_WHY)


def rewrite_exec_start(text: str, argv: list[str]) -> str:
    """Replace the ExecStart lines of a drop-in's [Service] section; keep every other line."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    section = ""
    inserted = False
    skipping = False
    for line in lines:
        stripped = line.strip()
        if skipping:
            skipping = stripped.endswith("\\")
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else ""
        if section == "[Service]" and key == "ExecStart" and not stripped.startswith(("#", ";")):
            skipping = stripped.endswith("\\")
            if not inserted:
                out.append("ExecStart=\n")
                out.append(f"ExecStart={systemd.render_exec(argv)}\n")
                inserted = True
            continue
        out.append(line)
    if not inserted:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out += ["[Service]\n", "ExecStart=\n", f"ExecStart={systemd.render_exec(argv)}\n"]
    return "".join(out)
