"""The wizard's step order, read from tui/flow.py alone (no app, no screens, no Textual run).

The Pilot tests walk these paths through the screens; here every branch is checked at once.
"""

from __future__ import annotations

import pytest

from dockwiz.models.intent import Intent, Mode
from dockwiz.models.plan import FileChange, Plan
from dockwiz.tui.flow import FIRST, STEPS, Step, next_step
from dockwiz.tui.session import DayTwo, WizardState


def wizard(mode: str, plan: Plan | None = None) -> WizardState:
    state = WizardState(plan=plan)
    state.choices.mode = mode
    return state


def walk(state: WizardState) -> list[Step]:
    """Every step a run visits, from the first one to the end."""
    path = [FIRST]
    while (step := next_step(path[-1], state)) is not None:
        path.append(step)
        assert len(path) <= len(STEPS), path
    return path


def changing_plan(mode: Mode) -> Plan:
    return Plan(
        intent=Intent(mode=mode),
        files=[FileChange(path="/etc/docker/daemon.json", before="{}\n", after='{"a": 1}\n',
                          role="daemon.json", reason="a change")],
    )


def test_the_step_bar_order() -> None:
    assert [s.value for s in STEPS] == [
        "Inspect", "Mode", "Certificates", "Hardening", "Preview", "Apply", "Verify",
    ]
    assert FIRST is Step.INSPECT


@pytest.mark.parametrize("mode", [Mode.TLS, Mode.MTLS])
def test_tcp_modes_visit_certificates(mode: Mode) -> None:
    assert walk(wizard(mode.value, changing_plan(mode))) == list(STEPS)


@pytest.mark.parametrize("mode", [Mode.UNIX, Mode.SSH])
def test_unix_and_ssh_skip_certificates(mode: Mode) -> None:
    path = walk(wizard(mode.value, changing_plan(mode)))
    assert path == [s for s in STEPS if s is not Step.CERTIFICATES]


def test_no_mode_chosen_yet_counts_as_unix() -> None:
    assert next_step(Step.MODE, WizardState()) is Step.HARDENING


def test_an_empty_plan_goes_from_preview_to_verify() -> None:
    empty = Plan(intent=Intent(mode=Mode.MTLS))
    assert empty.is_empty
    assert next_step(Step.PREVIEW, wizard("mtls", empty)) is Step.VERIFY
    assert Step.APPLY not in walk(wizard("mtls", empty))


def test_preview_leads_to_apply_while_there_is_a_change_or_no_plan_yet() -> None:
    assert next_step(Step.PREVIEW, wizard("mtls", changing_plan(Mode.MTLS))) is Step.APPLY
    assert next_step(Step.PREVIEW, wizard("mtls")) is Step.APPLY


def test_verify_is_the_end() -> None:
    assert next_step(Step.VERIFY, wizard("mtls")) is None


@pytest.mark.parametrize("choice", list(DayTwo))
def test_day_two_goes_from_mode_straight_to_preview(choice: DayTwo) -> None:
    """Renew, add or revoke a client: nothing to pick on Certificates or Hardening."""
    state = wizard("mtls", changing_plan(Mode.MTLS))
    state.choices.day_two = choice
    assert walk(state) == [Step.INSPECT, Step.MODE, Step.PREVIEW, Step.APPLY, Step.VERIFY]
    empty = wizard("mtls", Plan(intent=Intent(mode=Mode.MTLS)))  # renew: nothing due
    empty.choices.day_two = choice
    assert walk(empty) == [Step.INSPECT, Step.MODE, Step.PREVIEW, Step.VERIFY]
