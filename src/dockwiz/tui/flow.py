"""The wizard's step order and its branches: the one place that knows what comes next.

Screens say which step they are and ask the app to advance; the app asks ``next_step`` and
shows the step it names. So a new step, or a new branch, is a change here and nowhere else.
The branch that shapes the flow: TCP modes (tls, mtls) visit Certificates, unix and ssh skip
it. Day two on a host already secured (renew, add or revoke a client) has no mode to shape:
Mode leads straight to Preview. An empty plan has nothing to apply, so Preview then leads
straight to Verify.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockwiz.tui.session import WizardState


class Step(StrEnum):
    """A step of the wizard, named as the step bar shows it."""

    INSPECT = "Inspect"
    MODE = "Mode"
    CERTIFICATES = "Certificates"
    HARDENING = "Hardening"
    PREVIEW = "Preview"
    APPLY = "Apply"
    VERIFY = "Verify"


STEPS: tuple[Step, ...] = tuple(Step)
"""Every step in order, as the step bar lists them (a run may skip some)."""

FIRST = Step.INSPECT


def next_step(current: Step, wizard: WizardState) -> Step | None:
    """The step after ``current`` for these choices; None after the last one."""
    from dockwiz.models.intent import TCP_MODES  # pydantic: not before the first paint

    if current is Step.MODE and wizard.choices.day_two is not None:
        return Step.PREVIEW
    if current is Step.MODE and wizard.mode() not in TCP_MODES:
        return Step.HARDENING
    if current is Step.PREVIEW and wizard.plan is not None and wizard.plan.is_empty:
        return Step.VERIFY
    index = STEPS.index(current) + 1
    return STEPS[index] if index < len(STEPS) else None
