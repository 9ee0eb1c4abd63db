"""Planning and firing with an injected clock: no sleeping, no wall time."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import select

from app.clock import FrozenClock
from app.db.engine import session_scope
from app.db.tables import Run, Task
from app.domain.states import RunStatus
from app.scheduler.firing import FIRE_BATCH, FireResult, fire_due, plan_next
from app.scheduler.planner import last_triggers, pending_triggers, plan_task, plan_tasks


def _task(engine: Engine, clock: FrozenClock, **fields: object) -> int:
    values: dict[str, object] = {
        "name": "report",
        "command": "echo report",
        "schedule": {"kind": "cron", "cron": "30 8 * * 1-5", "timezone": "Europe/Berlin"},
    }
    values.update(fields)
    with session_scope(engine) as session:
        task = Task(**values, created_at=clock.now(), updated_at=clock.now())  # type: ignore[arg-type]
        session.add(task)
        session.flush()
        plan_task(session, task, now=clock.now())
        return task.id or 0


def _fire(engine: Engine, now: datetime) -> tuple[FireResult, dict[int, datetime | None]]:
    """What the service does: fire in one transaction, plan what follows in another."""
    with session_scope(engine) as session:
        result = fire_due(session, now=now)
    with session_scope(engine) as session:
        return result, plan_next(session, result.task_ids, now=now)


def _runs(engine: Engine, tid: int) -> list[Run]:
    with session_scope(engine) as session:
        return list(session.exec(select(Run).where(Run.task_id == tid).order_by(Run.id)).all())


def test_the_next_occurrence_is_an_idle_run_at_the_local_wall_time(
    engine: Engine, clock: FrozenClock
) -> None:
    # Monday 2 March 2026, 08:00 UTC = 09:00 in Berlin: 08:30 Berlin today has passed.
    tid = _task(engine, clock)
    [idle] = _runs(engine, tid)
    assert idle.status == RunStatus.IDLE.value
    assert idle.trigger_time == datetime(2026, 3, 3, 7, 30, tzinfo=UTC)  # Tue 08:30 CET
    with session_scope(engine) as session:
        assert pending_triggers(session) == {tid: idle.trigger_time}


def test_firing_activates_the_due_occurrence_and_plans_the_next(
    engine: Engine, clock: FrozenClock
) -> None:
    tid = _task(engine, clock)
    clock.set(datetime(2026, 3, 3, 7, 29, 59, tzinfo=UTC))
    early, _ = _fire(engine, clock.now())
    assert early.activated == []
    clock.set(datetime(2026, 3, 3, 7, 30, 0, 4000, tzinfo=UTC))
    result, replanned = _fire(engine, clock.now())
    fired, planned = _runs(engine, tid)
    assert result.activated == [fired.id]
    assert fired.status == RunStatus.ACTIVE.value
    assert planned.status == RunStatus.IDLE.value
    assert planned.trigger_time == datetime(2026, 3, 4, 7, 30, tzinfo=UTC)
    assert replanned == {tid: planned.trigger_time}


def test_summer_time_moves_the_utc_instant(engine: Engine) -> None:
    clock = FrozenClock(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))  # Friday before the change
    tid = _task(engine, clock)
    [idle] = _runs(engine, tid)
    assert idle.trigger_time == datetime(2026, 3, 30, 6, 30, tzinfo=UTC)  # Mon 08:30 CEST


def test_an_occurrence_missed_beyond_the_grace_is_recorded_not_run(
    engine: Engine, clock: FrozenClock
) -> None:
    tid = _task(engine, clock, misfire_grace_seconds=600)
    clock.set(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))  # 90 minutes late: the server was down
    result, _ = _fire(engine, clock.now())
    missed, planned = _runs(engine, tid)
    assert result.skipped == [missed.id]
    assert missed.status == RunStatus.SKIPPED.value
    assert missed.reason == "missed: scheduler down"
    assert planned.trigger_time == datetime(2026, 3, 4, 7, 30, tzinfo=UTC)


def test_replanning_an_inactive_task_leaves_nothing_pending(
    engine: Engine, clock: FrozenClock
) -> None:
    tid = _task(engine, clock)
    with session_scope(engine) as session:
        task = session.get(Task, tid)
        assert task is not None
        task.active = False
        plan_task(session, task, now=clock.now())
    assert _runs(engine, tid) == []
    with session_scope(engine) as session:
        assert pending_triggers(session) == {}


def test_a_burst_is_fired_in_slices_and_replanned_in_one_pass(
    engine: Engine, clock: FrozenClock
) -> None:
    due = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    count = FIRE_BATCH + 20
    with session_scope(engine) as session:
        tasks = [
            Task(
                name=f"burst-{i}",
                command="true",
                schedule={"kind": "cron", "cron": "0 9 * * *"},
                created_at=clock.now(),
                updated_at=clock.now(),
            )
            for i in range(count)
        ]
        session.add_all(tasks)
        session.flush()
        planned = plan_tasks(session, tasks, now=clock.now())
        assert all(run is not None and run.trigger_time == due for run in planned.values())
        ids = [task.id or 0 for task in tasks]
    with session_scope(engine) as session:
        first = fire_due(session, now=due)
    with session_scope(engine) as session:
        second = fire_due(session, now=due)
    assert (first.handled, len(first.activated)) == (FIRE_BATCH, FIRE_BATCH)
    assert (second.handled, len(second.activated)) == (20, 20)
    assert sorted(first.task_ids + second.task_ids) == sorted(ids)
    with session_scope(engine) as session:
        following = plan_next(session, first.task_ids + second.task_ids, now=due)
    assert set(following.values()) == {datetime(2026, 3, 3, 9, 0, tzinfo=UTC)}
    with session_scope(engine) as session:
        assert len(pending_triggers(session)) == count
        taken = last_triggers(session, ids)
    assert taken == dict.fromkeys(ids, due)


def test_a_once_schedule_that_fired_has_no_next_occurrence(
    engine: Engine, clock: FrozenClock
) -> None:
    tid = _task(engine, clock, schedule={"kind": "once", "at": "2026-03-02T10:00:00"})
    with session_scope(engine) as session:
        result = fire_due(session, now=datetime(2026, 3, 2, 10, 0, 1, tzinfo=UTC))
        assert result.activated
    with session_scope(engine) as session:
        assert plan_next(session, [tid], now=datetime(2026, 3, 2, 10, 0, 1, tzinfo=UTC)) == {
            tid: None
        }
