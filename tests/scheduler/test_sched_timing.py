"""Firing with several schedules, a blackout and DST drops, stepped on an injected clock:
what fires, what the ledger records as skipped and why."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import select

from app.clock import FrozenClock
from app.db.engine import session_scope
from app.db.tables import Run, Task
from app.domain.states import RunStatus
from app.scheduler.firing import fire_due, plan_next
from app.scheduler.planner import plan_task

LONDON = "Europe/London"


def _task(engine: Engine, clock: FrozenClock, **fields: object) -> int:
    with session_scope(engine) as session:
        task = Task(name="t", command="true", created_at=clock.now(), **fields)  # type: ignore[arg-type]
        session.add(task)
        session.flush()
        plan_task(session, task, now=clock.now())
        return task.id or 0


def _step(engine: Engine, clock: FrozenClock, moment: datetime) -> list[int]:
    """One pass of the firing loop at `moment`: fire what is due, plan what follows."""
    clock.set(moment)
    with session_scope(engine) as session:
        result = fire_due(session, now=moment)
    with session_scope(engine) as session:
        plan_next(session, result.task_ids, now=moment)
    return result.activated


def _ledger(engine: Engine, tid: int) -> list[tuple[str, str, str | None]]:
    with session_scope(engine) as session:
        runs = session.exec(select(Run).where(Run.task_id == tid)).all()
        return sorted(
            (
                r.trigger_time.astimezone(UTC).isoformat() if r.trigger_time else "",
                r.status,
                r.reason,
            )
            for r in runs
        )


def test_several_schedules_fire_merged_and_a_blackout_is_skipped_with_its_name(
    engine: Engine,
) -> None:
    clock = FrozenClock(datetime(2026, 6, 1, 6, 0, tzinfo=UTC))  # 07:00 in London
    tid = _task(
        engine,
        clock,
        schedule={"kind": "cron", "cron": "0 8 * * *", "timezone": LONDON},
        schedules=[
            {"kind": "times", "times": ["08:00", "12:00"], "timezone": LONDON},
            {"kind": "cron", "cron": "0 7 * * *", "timezone": "UTC"},  # 08:00 London again
        ],
        blackouts=[{"name": "audit", "start_date": "2026-06-02", "end_date": "2026-06-02"}],
    )
    assert _step(engine, clock, datetime(2026, 6, 1, 6, 59, 59, tzinfo=UTC)) == []
    assert len(_step(engine, clock, datetime(2026, 6, 1, 7, 0, tzinfo=UTC))) == 1
    assert len(_step(engine, clock, datetime(2026, 6, 1, 11, 0, tzinfo=UTC))) == 1
    active = RunStatus.ACTIVE.value
    assert _ledger(engine, tid) == [
        ("2026-06-01T07:00:00+00:00", active, None),  # three schedules name it: one run
        ("2026-06-01T11:00:00+00:00", active, None),
        ("2026-06-02T07:00:00+00:00", RunStatus.SKIPPED.value, "blackout: audit"),
        ("2026-06-02T11:00:00+00:00", RunStatus.SKIPPED.value, "blackout: audit"),
        ("2026-06-03T07:00:00+00:00", RunStatus.IDLE.value, None),
    ]
    with session_scope(engine) as session:
        task = session.get(Task, tid)
        assert task is not None
        assert task.next_fire_time == datetime(2026, 6, 3, 7, 0, tzinfo=UTC)


def test_an_hourly_task_keeps_every_real_hour_and_records_the_dropped_one(
    engine: Engine,
) -> None:
    clock = FrozenClock(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))  # 00:30 GMT, before the gap
    tid = _task(engine, clock, schedule={"kind": "cron", "cron": "0 * * * *", "timezone": LONDON})
    for hour in (1, 2):
        assert len(_step(engine, clock, datetime(2026, 3, 29, hour, 0, tzinfo=UTC))) == 1
    gap = "DST gap: 01:00 does not exist on 2026-03-29; the interval runs on in elapsed time"
    assert _ledger(engine, tid) == [
        ("2026-03-29T01:00:00+00:00", RunStatus.ACTIVE.value, None),  # 02:00 BST
        ("2026-03-29T01:00:00+00:00", RunStatus.SKIPPED.value, f"skipped: dst ({gap})"),
        ("2026-03-29T02:00:00+00:00", RunStatus.ACTIVE.value, None),
        ("2026-03-29T03:00:00+00:00", RunStatus.IDLE.value, None),
    ]


def test_a_fixed_time_task_skips_the_second_pass_of_a_repeated_time(engine: Engine) -> None:
    clock = FrozenClock(datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    tid = _task(engine, clock, schedule={"kind": "times", "times": ["01:30"], "timezone": LONDON})
    assert len(_step(engine, clock, datetime(2026, 10, 25, 0, 30, tzinfo=UTC))) == 1
    second = "DST fold: 01:30 occurs twice, second pass not fired (dst_fold: first)"
    assert _ledger(engine, tid) == [
        ("2026-10-25T00:30:00+00:00", RunStatus.ACTIVE.value, None),  # 01:30 BST
        ("2026-10-25T01:30:00+00:00", RunStatus.SKIPPED.value, f"skipped: dst ({second})"),
        ("2026-10-26T01:30:00+00:00", RunStatus.IDLE.value, None),
    ]
