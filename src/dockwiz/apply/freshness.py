"""Is a plan still about this host? Its "before" must be what is on disk now, and its intent
must still pass the policy against the host as it is now.

A plan saved with ``plan --save`` and applied later would otherwise silently overwrite an edit
the admin made in between (the plan's "after" was computed from the old "before"), and a plan
made for another Docker version could dodge the v27 rule. Both are refused with the file (or
rule) that changed and the way out: plan again.
"""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING

from dockwiz.errors import DockwizError
from dockwiz.host import Host

if TYPE_CHECKING:
    from dockwiz.models.plan import FileChange, Plan


def _current(host: Host, change: FileChange) -> tuple[list[str] | None, int | None]:
    """The file's text now, as bytes decoded and as read with universal newlines (the two
    ways a plan's "before" may have been read), and its mode."""
    local = host.resolve(change.path)
    try:
        st = local.stat()
        raw = local.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None, None
    return [raw, raw.replace("\r\n", "\n").replace("\r", "\n")], stat.S_IMODE(st.st_mode)


def stale_files(host: Host, plan: Plan) -> list[str]:
    """Targets whose bytes (or mode) are not the plan's "before" any more, each with what
    changed."""
    stale: list[str] = []
    for change in plan.files:
        text, mode = _current(host, change)
        if (text is None) != (change.before is None) or (
            text is not None and change.before not in text
        ):
            what = ("was created" if change.before is None else
                    "was removed" if text is None else "was edited")
            stale.append(f"{change.path} {what} after the plan was made")
        elif change.mode_before is not None and mode is not None and mode != change.mode_before:
            stale.append(f"{change.path} changed mode to {mode:04o} after the plan was made")
    return stale


def check_fresh(host: Host, plan: Plan) -> None:
    """Refuse a plan whose "before" is not the host's now (it would undo the admin's edit)."""
    stale = stale_files(host, plan)
    if stale:
        raise DockwizError(
            "the plan is stale: " + "; ".join(stale),
            "plan again ('dockwiz plan ... --save FILE' or 'dockwiz apply --mode ...'): applying "
            "it would overwrite that change",
        )


def check_policy(host: Host, plan: Plan) -> None:
    """The plan's intent against the host as it is now: the v27 rule and every blocking rule."""
    from dockwiz.inspect import inspect_host
    from dockwiz.policy import check_intent

    state = inspect_host(host)
    intent = plan.intent
    if state.version.major is not None:  # the live daemon's version wins over the plan's guess
        intent = intent.model_copy(update={"docker_version": None})
    blocking = [v for v in check_intent(state, intent) if v.blocking]
    if blocking:
        raise DockwizError(
            "the plan breaks the policy on this host as it is now: "
            + "; ".join(v.message for v in blocking),
            "; ".join(w for v in blocking for w in v.way_out[:1]) or "plan again",
        )
