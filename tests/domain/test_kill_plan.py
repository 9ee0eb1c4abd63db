"""One decision of what a kill means, whichever door it comes through (a run, a batch, a
group run)."""

from __future__ import annotations

import pytest

from app.domain.run_lifecycle import KillPlan, kill_plan
from app.domain.states import TERMINAL, RunStatus

S = RunStatus


@pytest.mark.parametrize(
    ("status", "on_an_agent", "plan"),
    [
        (S.IDLE, False, KillPlan(S.TERMINATED, tell_agent=False)),
        (S.ACTIVE, False, KillPlan(S.TERMINATED, tell_agent=False)),
        (S.PENDING_APPROVAL, False, KillPlan(S.REJECTED, tell_agent=False)),
        (S.TRIGGER, True, KillPlan(S.TERMINATED, tell_agent=True)),  # the start may be sent
        (S.STARTED, True, KillPlan(None, tell_agent=True)),
        (S.RUNNING, True, KillPlan(None, tell_agent=True)),
        (S.PAUSED, True, KillPlan(None, tell_agent=True)),
        (S.RUNNING, False, KillPlan(S.TERMINATED, tell_agent=False)),  # no agent to ask
    ],
)
def test_what_a_kill_does(status: RunStatus, on_an_agent: bool, plan: KillPlan) -> None:
    assert kill_plan(status, on_an_agent) == plan


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_an_ended_run_is_left_alone(status: RunStatus) -> None:
    assert kill_plan(status, True) == KillPlan(None, tell_agent=False)
