"""Policies moved by the injected clock: calendar skips, freezes, overlap, queue, misfires."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from run_moves import move
from sqlalchemy import Engine
from sqlmodel import col, select

from app.clock import FrozenClock
from app.db.engine import session_scope
from app.db.runs import create_run, task_spec
from app.db.tables import Calendar, Freeze, Run, Task
from app.domain.placement import AgentSlot
from app.domain.states import RunStatus, TriggerKind
from app.scheduler.dispatch import dispatch_pending
from app.scheduler.firing import fire_due, plan_next
from app.scheduler.planner import plan_task

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HOURLY = {"kind": "cron", "cron": "0 * * * *"}
DAILY_9 = {"kind": "times", "times": ["09:00"]}


def _task(engine: Engine, now: datetime, schedule: dict[str, object], **fields: object) -> int:
    with session_scope(engine) as session:
        task = Task(name="t", command="true", schedule=schedule, **fields)  # type: ignore[arg-type]
        session.add(task)
        session.flush()
        plan_task(session, task, now=now)
        return task.id or 0


def _runs(engine: Engine, tid: int) -> list[Run]:
    with session_scope(engine) as session:
        stmt = select(Run).where(Run.task_id == tid).order_by(col(Run.trigger_time), col(Run.id))
        return list(session.exec(stmt).all())


def _fire(engine: Engine, now: datetime) -> None:
    with session_scope(engine) as session:
        result = fire_due(session, now=now)
    with session_scope(engine) as session:
        plan_next(session, result.task_ids, now=now)


def test_a_closed_day_leaves_a_skipped_run_with_the_reason(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(Calendar(name="ops", extra_dates=["2026-03-03"], skip_weekends=True))
    tid = _task(engine, MONDAY, {**DAILY_9, "calendar": "ops"})
    skipped, planned = _runs(engine, tid)
    assert skipped.status == "SKIPPED"
    assert skipped.trigger_time == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert skipped.reason == "skipped: calendar (closed: extra date)"
    assert (planned.status, planned.trigger_time) == ("IDLE", datetime(2026, 3, 4, 9, tzinfo=UTC))


def test_replanning_drops_calendar_skips_still_ahead(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(Calendar(name="ops", extra_dates=["2026-03-03"]))
    tid = _task(engine, MONDAY, {**DAILY_9, "calendar": "ops"})
    with session_scope(engine) as session:
        calendar = session.exec(select(Calendar)).one()
        calendar.extra_dates = []
        session.flush()
        task = session.get(Task, tid)
        assert task is not None
        plan_task(session, task, now=MONDAY)
    [planned] = _runs(engine, tid)
    assert planned.trigger_time == datetime(2026, 3, 3, 9, tzinfo=UTC)


def test_a_frozen_date_skips_that_days_occurrence(engine: Engine) -> None:
    tid = _task(engine, MONDAY, DAILY_9)
    with session_scope(engine) as session:
        session.add(Freeze(task_id=tid, day=date(2026, 3, 3), reason="release day"))
    _fire(engine, datetime(2026, 3, 3, 9, 0, 1, tzinfo=UTC))
    frozen, planned = _runs(engine, tid)
    assert frozen.status == "SKIPPED"
    assert frozen.reason == "skipped: frozen (2026-03-03: release day)"
    assert planned.status == "IDLE"


def test_overlap_skip_while_the_previous_run_is_going(engine: Engine) -> None:
    tid = _task(engine, MONDAY, HOURLY, concurrency="skip")
    with session_scope(engine) as session:
        task = session.get(Task, tid)
        assert task is not None
        going = create_run(
            session,
            at=MONDAY,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec=task_spec(task),
            task=task,
        )
        move(session, going, RunStatus.TRIGGER, at=MONDAY, agent="a1")
        going_id = going.id
    _fire(engine, datetime(2026, 3, 2, 11, 0, tzinfo=UTC))
    fired = next(
        r for r in _runs(engine, tid) if r.trigger_kind == "schedule" and r.status != "IDLE"
    )
    assert fired.status == "SKIPPED"
    assert fired.reason == f"skipped: overlap (run {going_id} is TRIGGER)"


def test_queue_runs_one_at_a_time_oldest_first(engine: Engine) -> None:
    tid = _task(engine, MONDAY, HOURLY, concurrency="queue")
    with session_scope(engine) as session:
        task = session.get(Task, tid)
        assert task is not None
        ids = [
            create_run(
                session,
                at=MONDAY + timedelta(seconds=i),
                status=RunStatus.ACTIVE,
                trigger_kind=TriggerKind.MANUAL,
                spec=task_spec(task),
                task=task,
            ).id
            for i in range(2)
        ]
    agent = AgentSlot(name="a1", labels={}, max_runs=None, running=0, docker=False)
    with session_scope(engine) as session:
        sends = dispatch_pending(session, now=MONDAY + timedelta(seconds=5), agents=[agent])
    assert [message.run_id for _, message in sends] == [ids[0]]
    waiting = next(r for r in _runs(engine, tid) if r.id == ids[1])
    assert waiting.reason == "waiting for the previous run of this task to finish"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # Down from 10:30 to 13:20: the 11:00, 12:00 and 13:00 occurrences were missed.
        ("run_once", ["coalesced", "coalesced", "ACTIVE"]),
        ("skip", ["missed: scheduler down"] * 3),
        ("run_all", ["ACTIVE", "ACTIVE", "missed: scheduler down"]),
    ],
)
def test_misfire_policies_after_downtime(engine: Engine, policy: str, expected: list[str]) -> None:
    tid = _task(
        engine,
        datetime(2026, 3, 2, 10, 30, tzinfo=UTC),
        HOURLY,
        misfire=policy,
        misfire_grace_seconds=4 * 3600,
        misfire_max_replays=2,
    )
    clock = FrozenClock(datetime(2026, 3, 2, 13, 20, tzinfo=UTC))
    _fire(engine, clock.now())
    runs = [r for r in _runs(engine, tid) if r.status != "IDLE"]
    assert [r.trigger_time.hour for r in runs if r.trigger_time] == [11, 12, 13]
    assert [r.status if r.status == "ACTIVE" else r.reason for r in runs] == expected
    [planned] = [r for r in _runs(engine, tid) if r.status == "IDLE"]
    assert planned.trigger_time == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_occurrences_older_than_the_grace_are_missed_whatever_the_policy(engine: Engine) -> None:
    tid = _task(
        engine,
        datetime(2026, 3, 2, 10, 30, tzinfo=UTC),
        HOURLY,
        misfire="run_all",
        misfire_grace_seconds=3600 + 1800,
    )
    _fire(engine, datetime(2026, 3, 2, 13, 20, tzinfo=UTC))
    runs = [r for r in _runs(engine, tid) if r.status != "IDLE"]
    assert [r.status if r.status == "ACTIVE" else r.reason for r in runs] == [
        "missed: scheduler down",
        "ACTIVE",
        "ACTIVE",
    ]
