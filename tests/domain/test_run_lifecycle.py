"""The run lifecycle decides every change of a run: a table of (status, command) -> outcome,
and properties that hold for any facts and any command."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain import run_commands as c
from app.domain.run_decision import (
    KEEP,
    NOTHING,
    Decision,
    ReleaseDownstream,
    RetryPolicy,
    RunChanges,
    RunFacts,
    ScheduleRetry,
    SettleGroupRun,
    TellAgent,
    new_attempt,
)
from app.domain.run_lifecycle import INITIAL, MAX_DISPATCHES, check_initial, decide
from app.domain.states import RunStatus, can_transition, is_terminal
from app.errors import Conflict

S = RunStatus
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
POLICY = RetryPolicy(attempts=2, delay_seconds=10, exponential=False)


def facts(status: RunStatus, **more: object) -> RunFacts:
    return RunFacts(run_id=7, status=status, **more)  # type: ignore[arg-type]


def report(state: RunStatus, seq: int = 1, **more: object) -> c.AgentReport:
    return c.AgentReport(agent="a1", attempt=1, seq=seq, state=state, **more)  # type: ignore[arg-type]


ON_A1 = {"agent": "a1"}


@pytest.mark.parametrize(
    ("before", "command", "after"),
    [
        (facts(S.IDLE), c.Fire(late_ms=3), S.ACTIVE),
        (facts(S.IDLE), c.Skip("skipped: frozen (2026-03-02)"), S.SKIPPED),
        (facts(S.ACTIVE), c.Skip("upstream extract FAILED"), S.SKIPPED),
        (facts(S.ACTIVE), c.Dispatch("a1"), S.TRIGGER),
        (facts(S.ACTIVE), c.SpecChanged("ab" * 32), S.FAILED),
        (facts(S.TRIGGER, **ON_A1), c.SendFailed("a1"), S.ACTIVE),
        (facts(S.TRIGGER, **ON_A1, dispatches=1), c.DispatchExpired(30), S.ACTIVE),
        (facts(S.TRIGGER, **ON_A1, dispatches=MAX_DISPATCHES), c.DispatchExpired(30), S.FAILED),
        (facts(S.TRIGGER, **ON_A1), report(S.STARTED), S.STARTED),
        (facts(S.TRIGGER, **ON_A1), report(S.RUNNING), S.RUNNING),
        (facts(S.STARTED, **ON_A1), report(S.RUNNING), S.RUNNING),
        (facts(S.RUNNING, **ON_A1), report(S.PAUSED), S.PAUSED),
        (facts(S.PAUSED, **ON_A1), report(S.RUNNING), S.RUNNING),
        (facts(S.RUNNING, **ON_A1), report(S.SUCCESS, exit_code=0), S.SUCCESS),
        (facts(S.RUNNING, **ON_A1), report(S.FAILED, exit_code=2), S.FAILED),
        (facts(S.RUNNING, **ON_A1), report(S.TERMINATED), S.TERMINATED),
        (facts(S.RUNNING, **ON_A1), c.AgentLost("a1"), S.FAILED),
        (facts(S.IDLE), c.Kill("ops", "terminated by ops"), S.TERMINATED),
        (facts(S.ACTIVE), c.Kill("ops", "terminated by ops"), S.TERMINATED),
        (facts(S.PENDING_APPROVAL), c.Kill("ops", "terminated by ops"), S.REJECTED),
        (facts(S.TRIGGER, **ON_A1), c.Kill("ops", "terminated by ops"), S.TERMINATED),
        (facts(S.RUNNING, **ON_A1), c.Kill("ops", "terminated by ops"), None),
        (facts(S.RUNNING, **ON_A1), c.Pause(), None),
        (facts(S.PAUSED, **ON_A1), c.Resume(), None),
        (facts(S.PENDING_APPROVAL), c.Approve("approved by ops", "ab" * 32), S.ACTIVE),
        (facts(S.PENDING_APPROVAL), c.Reject("rejected by ops"), S.REJECTED),
        (facts(S.FAILED, retry=POLICY), c.Retry(), S.ACTIVE),
        (facts(S.FAILED, started=True), c.Rerun("ops"), S.ACTIVE),
        (facts(S.SKIPPED), c.Rerun("ops", upstream=3), S.ACTIVE),
        (facts(S.SUCCESS, started=True), c.Rerun("ops"), S.ACTIVE),
        (facts(S.FAILED), c.MarkSuccess("ops", "fixed by hand"), S.SUCCESS),
        (facts(S.SKIPPED), c.Release(3), S.ACTIVE),
        (facts(S.ACTIVE), c.ForcePastUpstreams("ops"), None),
    ],
)
def test_allowed_commands(before: RunFacts, command: c.Command, after: RunStatus | None) -> None:
    assert decide(before, command, NOW).status is after


@pytest.mark.parametrize(
    ("before", "command", "message"),
    [
        (facts(S.ACTIVE), c.Fire(late_ms=0), "run 7 cannot go from ACTIVE to ACTIVE"),
        (facts(S.FAILED), c.Fire(late_ms=0), "run 7 cannot go from FAILED to ACTIVE"),
        (facts(S.RUNNING), c.Skip("no"), "run 7 cannot go from RUNNING to SKIPPED"),
        (facts(S.IDLE), c.Dispatch("a1"), "run 7 cannot go from IDLE to TRIGGER"),
        (facts(S.SUCCESS), c.AgentLost("a1"), "run 7 cannot go from SUCCESS to FAILED"),
        (facts(S.SUCCESS), c.Kill("ops", ""), "run 7 already ended SUCCESS"),
        (facts(S.ACTIVE), c.Pause(), "run 7 is ACTIVE: only a RUNNING run can be paused"),
        (facts(S.RUNNING), c.Resume(), "run 7 is RUNNING: only a PAUSED run can be resumed"),
        (
            facts(S.ACTIVE),
            c.Approve("", "x"),
            "run 7 is ACTIVE: only a PENDING_APPROVAL run can be approved",
        ),
        (
            facts(S.REJECTED),
            c.Reject(""),
            "run 7 is REJECTED: only a PENDING_APPROVAL run can be rejected",
        ),
        (facts(S.RUNNING), c.Rerun("ops"), "run 7 is RUNNING: only a finished run can be re-run"),
        (
            facts(S.SUCCESS),
            c.MarkSuccess("ops", "x"),
            "run 7 is SUCCESS: only a FAILED run can be marked SUCCESS",
        ),
        (
            facts(S.TRIGGER),
            c.ForcePastUpstreams("ops"),
            "run 7 is TRIGGER: only an ACTIVE run can be forced",
        ),
        (facts(S.FAILED, attempt=3, retry=POLICY), c.Retry(), "it has no retry left"),
        (facts(S.FAILED), c.Retry(), "it has no retry left"),
    ],
)
def test_refused_commands(before: RunFacts, command: c.Command, message: str) -> None:
    with pytest.raises(Conflict, match=message):
        decide(before, command, NOW)


def test_a_run_that_starts_running_is_stamped_once() -> None:
    first = decide(facts(S.TRIGGER, **ON_A1), report(S.RUNNING), NOW)
    assert first.changes.started_at == NOW
    resumed = decide(facts(S.PAUSED, **ON_A1, started=True), report(S.RUNNING), NOW)
    assert resumed.changes.started_at is KEEP


def test_an_ending_is_stamped_and_settles_its_group_run() -> None:
    ended = decide(facts(S.RUNNING, **ON_A1), report(S.FAILED, exit_code=2, reason="exit 2"), NOW)
    assert ended.changes.finished_at == NOW
    assert ended.changes.exit_code == 2
    assert ended.changes.reason == "exit 2"
    assert ended.changes.agent_ended_attempt == 1
    assert ended.effects == (ScheduleRetry(), SettleGroupRun())


def test_a_replay_or_a_stale_attempt_changes_nothing() -> None:
    held = facts(S.RUNNING, **ON_A1, agent_seq=4)
    assert decide(held, report(S.SUCCESS, seq=4), NOW) == NOTHING
    assert decide(held, replace(report(S.SUCCESS, seq=5), attempt=2), NOW) == NOTHING
    assert decide(held, replace(report(S.SUCCESS, seq=5), agent="a2"), NOW) == NOTHING


def test_a_late_report_is_a_note() -> None:
    lost = facts(S.FAILED, **ON_A1)
    late = decide(lost, report(S.SUCCESS, seq=2, reason="exit code 0"), NOW)
    assert late == Decision(
        None, RunChanges(agent_seq=2), "agent reported SUCCESS late: exit code 0"
    )


def test_a_dispatch_counts_and_an_expiry_counts_old_runs_once() -> None:
    sent = decide(facts(S.ACTIVE, dispatches=1), c.Dispatch("a1"), NOW)
    assert (sent.changes.agent, sent.changes.dispatches, sent.changes.dispatched_at) == (
        "a1",
        2,
        NOW,
    )
    again = decide(facts(S.TRIGGER, **ON_A1, dispatches=0), c.DispatchExpired(30), NOW)
    assert again.detail == "agent a1 did not acknowledge within 30s; dispatching again"
    failed = decide(facts(S.TRIGGER, **ON_A1, dispatches=3), c.DispatchExpired(30), NOW)
    assert failed.changes.reason == "not accepted by an agent after 3 dispatches"


def test_a_retry_waits_by_the_policy() -> None:
    policy = RetryPolicy(attempts=3, delay_seconds=10, exponential=True)
    retry = decide(facts(S.FAILED, attempt=2, retry=policy), c.Retry(), NOW)
    assert retry.changes.attempt == 3
    assert retry.changes.not_before == NOW + timedelta(seconds=20)
    assert retry.detail == "retry: attempt 3 of 4 in 20s"


def test_kills_tell_the_agent_that_holds_the_run() -> None:
    on_agent = decide(facts(S.RUNNING, **ON_A1), c.Kill("ops", "x"), NOW)
    assert on_agent == Decision(None, detail=None, effects=(TellAgent("kill", "a1", 1),))
    starting = decide(facts(S.TRIGGER, **ON_A1), c.Kill("ops", "x"), NOW)
    assert starting.changes.reason == "terminated"
    assert TellAgent("kill", "a1", 1) in starting.effects
    pending = decide(facts(S.PENDING_APPROVAL), c.Kill("ops", "x"), NOW)
    assert pending.changes.reason == "killed by ops"
    assert not pending.tells()


def test_marking_success_releases_downstream() -> None:
    assert ReleaseDownstream() in decide(facts(S.FAILED), c.MarkSuccess("ops", "x"), NOW).effects


def test_new_runs_start_only_in_the_initial_statuses() -> None:
    assert set(INITIAL) == {S.IDLE, S.ACTIVE, S.PENDING_APPROVAL, S.SKIPPED}
    for status in S:
        if status in INITIAL:
            check_initial(status)
        else:
            with pytest.raises(Conflict, match=f"a new run cannot start {status}"):
                check_initial(status)


# ---- properties -------------------------------------------------------------------------
_agents = st.sampled_from(["a1", "a2"])
_facts = st.builds(
    RunFacts,
    run_id=st.just(7),
    status=st.sampled_from(list(S)),
    attempt=st.integers(1, 4),
    agent=st.none() | _agents,
    agent_seq=st.integers(0, 3),
    dispatches=st.integers(0, 4),
    started=st.booleans(),
    retry=st.none()
    | st.builds(
        RetryPolicy,
        attempts=st.integers(0, 3),
        delay_seconds=st.floats(0, 100),
        exponential=st.booleans(),
    ),
)
_commands = st.one_of(
    st.builds(c.Fire, late_ms=st.floats(0, 1000)),
    st.builds(c.Skip, reason=st.text(max_size=5)),
    st.builds(c.Dispatch, agent=_agents),
    st.builds(c.SendFailed, agent=_agents),
    st.builds(c.DispatchExpired, deadline_seconds=st.floats(1, 60)),
    st.builds(c.SpecChanged, approved=st.just("ab" * 32)),
    st.just(c.Retry()),
    st.builds(
        c.AgentReport,
        agent=_agents,
        attempt=st.integers(1, 4),
        seq=st.integers(0, 5),
        state=st.sampled_from([S.STARTED, S.RUNNING, S.PAUSED, S.SUCCESS, S.FAILED, S.TERMINATED]),
        exit_code=st.none() | st.integers(0, 3),
        reason=st.none() | st.text(max_size=5),
    ),
    st.builds(c.AgentLost, agent=_agents),
    st.builds(c.Kill, who=st.just("ops"), detail=st.just("x")),
    st.just(c.Pause()),
    st.just(c.Resume()),
    st.builds(c.Approve, detail=st.just("ok"), digest=st.just("ab" * 32)),
    st.builds(c.Reject, detail=st.just("no")),
    st.builds(c.Rerun, who=st.just("ops"), upstream=st.none() | st.just(3)),
    st.builds(c.MarkSuccess, who=st.just("ops"), why=st.just("x")),
    st.builds(c.Release, run_id=st.just(3)),
    st.builds(c.ForcePastUpstreams, who=st.just("ops")),
)
_RESET = {name: value for name, value in new_attempt(1).assigned().items() if name != "attempt"}


@given(_facts, _commands)
def test_every_move_is_an_allowed_edge_and_every_attempt_starts_clean(
    before: RunFacts, command: c.Command
) -> None:
    try:
        decision = decide(before, command, NOW)
    except Conflict:
        return
    target = decision.status
    if target is None:
        return
    assert can_transition(before.status, target)
    assert (decision.changes.finished_at == NOW) is is_terminal(target)
    assert (SettleGroupRun() in decision.effects) is is_terminal(target)
    changed = decision.changes.assigned()
    if "attempt" in changed:  # a new attempt, however it came: the same fields reset
        assert target is S.ACTIVE
        assert changed["attempt"] in (before.attempt, before.attempt + 1)
        assert {name: changed.get(name, KEEP) for name in _RESET} == _RESET
