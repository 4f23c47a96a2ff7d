"""What has to happen to the daemon: daemon-reload, reload (SIGHUP-reloadable keys) or
restart, and live-restore staged first when containers run."""

from __future__ import annotations

from typing import Any

from dockwiz import daemon_json as dj
from dockwiz.docker_paths import DAEMON_JSON
from dockwiz.models.plan import CertAction, FileChange, ServiceAction
from dockwiz.plan.files import _json_mode
from dockwiz.plan.work import RELOADABLE_KEYS, _JsonFile, _Work


def _staged_text(jf: _JsonFile, staged: dict[str, Any]) -> str:
    base = jf.repaired_text if jf.repaired_text is not None else jf.text
    return dj.edit_in_place(base, staged) if base and not jf.empty else dj.render(staged)


def _changed_keys(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    return {k for k in {*old, *new} if old.get(k) != new.get(k)}


def _service_actions(
    work: _Work, files: list[FileChange], certs: list[CertAction]
) -> list[ServiceAction]:
    state = work.state
    changed = [f for f in files if f.before != f.after]
    # dockerd reads its CA and server certificate once, at start: new ones need a restart
    new_material = any(c.role != "client" and c.action != "reuse" for c in certs) or bool(
        work.material and work.material.keeps_ca and work.material.moves
    )
    if not changed and not new_material:
        return []
    unit_changed = any(f.role == "dropin" for f in changed)
    keys = _changed_keys(work.json.data, work.data)
    json_text_changed = any(f.role == "daemon.json" for f in changed)
    restart = unit_changed or bool(keys - RELOADABLE_KEYS) or not state.daemon_running
    restart = restart or (json_text_changed and not keys)  # a repair: the daemon could not parse
    restart = restart or new_material
    actions: list[ServiceAction] = []
    if restart and _stage_live_restore(work, keys):
        staged = {**work.json.data, "live-restore": True}
        actions.append(
            ServiceAction(
                kind="reload",
                reason="switch live-restore on first (SIGHUP re-reads it), so the "
                f"{state.running_containers or 'running'} container(s) keep running through "
                "the restart",
                stage=FileChange(
                    path=state.daemon_json.path or DAEMON_JSON, before=work.json.text,
                    after=_staged_text(work.json, staged), mode=_json_mode(work.json.mode),
                    role="daemon.json", reason="live-restore only, before the restart",
                    mode_before=work.json.mode,
                ),
            )
        )
    if unit_changed:
        actions.append(
            ServiceAction(kind="daemon-reload", reason="a docker.service drop-in changed")
        )
    if restart:
        what = sorted(keys - RELOADABLE_KEYS) or (["ExecStart"] if unit_changed else [])
        what = what or (["the new certificates"] if new_material else [])
        why = (
            f"{', '.join(what)}: only read when dockerd starts"
            if state.daemon_running and what
            else "the daemon is not running: start it with the new configuration"
            if not state.daemon_running
            else "daemon.json was repaired"
        )
        actions.append(ServiceAction(kind="restart", reason=why))
    elif keys:
        actions.append(
            ServiceAction(
                kind="reload",
                reason=f"{', '.join(sorted(keys))}: dockerd re-reads these on SIGHUP, no restart",
            )
        )
    return actions


def _stage_live_restore(work: _Work, keys: set[str]) -> bool:
    state = work.state
    return (
        work.intent.hardening.live_restore
        and "live-restore" in keys
        and state.daemon_running
        and not state.live_restore
        and (state.running_containers is None or state.running_containers > 0)
        and work.json.repaired_text is None
        and not any(f.key == "live-restore" for f in work.args)
        and state.hosts_conflict is None
    )
