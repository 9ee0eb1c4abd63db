"""Agent reports are applied once; failures retry per policy; lost agents fail their runs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from app.clock import FrozenClock
from app.db.engine import session_scope
from app.db.run_commands import apply
from app.db.runs import create_run, get_run, run_events, task_spec
from app.db.tables import Task
from app.domain import run_commands as c
from app.domain.states import RunStatus, TriggerKind
from app.protocol.frames import StateChange
from app.scheduler.lifecycle import apply_state, expire_dispatches, fail_runs_of_lost_agent


def _dispatched(engine: Engine, clock: FrozenClock, *, retries: int = 0) -> int:
    with session_scope(engine) as session:
        task = Task(name="t", command="false", retry_attempts=retries, retry_delay_seconds=30)
        session.add(task)
        session.flush()
        run = create_run(
            session,
            at=clock.now(),
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec=task_spec(task),
            task=task,
        )
        apply(session, run, c.Dispatch("a1"), now=clock.now())
        return run.id or 0


def _report(
    engine: Engine,
    clock: FrozenClock,
    run_id: int,
    seq: int,
    status: str,
    attempt: int = 1,
    **extra: object,
) -> bool:
    change = StateChange(
        run_id=run_id, attempt=attempt, seq=seq, status=status, at=clock.now(), **extra
    )  # type: ignore[arg-type]
    with session_scope(engine) as session:
        return apply_state(session, change, agent="a1", now=clock.now())


def test_a_replayed_report_is_applied_once(engine: Engine, clock: FrozenClock) -> None:
    run_id = _dispatched(engine, clock)
    _report(engine, clock, run_id, 1, "STARTED")
    _report(engine, clock, run_id, 2, "RUNNING")
    _report(engine, clock, run_id, 1, "STARTED")  # replay after a reconnect
    _report(engine, clock, run_id, 2, "RUNNING")
    assert _report(engine, clock, run_id, 3, "SUCCESS", exit_code=0)
    with session_scope(engine) as session:
        statuses = [e.status for e in run_events(session, run_id)]
        assert get_run(session, run_id).exit_code == 0
    assert statuses == ["ACTIVE", "TRIGGER", "STARTED", "RUNNING", "SUCCESS"]


def test_a_failure_with_retries_left_starts_the_next_attempt_after_the_delay(
    engine: Engine, clock: FrozenClock
) -> None:
    run_id = _dispatched(engine, clock, retries=1)
    _report(engine, clock, run_id, 1, "STARTED")
    _report(engine, clock, run_id, 2, "FAILED", exit_code=1, reason="exit code 1")
    with session_scope(engine) as session:
        run = get_run(session, run_id)
        events = run_events(session, run_id)
    assert run.status == RunStatus.ACTIVE.value
    assert run.attempt == 2
    assert run.not_before == clock.now() + timedelta(seconds=30)
    assert [(e.attempt, e.status) for e in events][-2:] == [(1, "FAILED"), (2, "ACTIVE")]


def test_runs_of_a_lost_agent_fail_with_the_reason(engine: Engine, clock: FrozenClock) -> None:
    run_id = _dispatched(engine, clock)
    _report(engine, clock, run_id, 1, "STARTED")
    _report(engine, clock, run_id, 2, "RUNNING")
    with session_scope(engine) as session:
        assert fail_runs_of_lost_agent(session, "a1", now=clock.now()) == [run_id]
    with session_scope(engine) as session:
        run = get_run(session, run_id)
    assert (run.status, run.reason) == ("FAILED", "agent lost")
    # The agent comes back and reports the end: kept on the timeline, status unchanged.
    _report(engine, clock, run_id, 3, "SUCCESS", exit_code=0)
    with session_scope(engine) as session:
        assert get_run(session, run_id).status == "FAILED"
        assert "agent reported SUCCESS late" in run_events(session, run_id)[-1].detail


def test_an_unacknowledged_dispatch_goes_back_to_active(engine: Engine, clock: FrozenClock) -> None:
    run_id = _dispatched(engine, clock)
    with session_scope(engine) as session:
        assert expire_dispatches(session, now=clock.now(), deadline_seconds=30) == []
    clock.advance(timedelta(seconds=31))
    with session_scope(engine) as session:
        assert expire_dispatches(session, now=clock.now(), deadline_seconds=30) == [run_id]
    with session_scope(engine) as session:
        run = get_run(session, run_id)
    assert run.status == RunStatus.ACTIVE.value and run.agent is None
