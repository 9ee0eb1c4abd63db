"""A calendar edit re-plans every task on the calendar, over several chunks (bulk rows, no
ORM runs, forecasts shared by tasks of the same schedule): each task ends with one IDLE run
at its next open occurrence (with its event and its admission fields), a SKIPPED run with
the reason for each closed occurrence before it, and its next fire time; opening the days
again forgets those skips."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from app.db.calendars import calendar_spec
from app.db.engine import session_scope
from app.db.tables import Calendar, Run, RunEvent, Task, User
from app.domain.timing import timing_forecast, timing_of
from app.models.calendar_schemas import CalendarUpdate
from app.scheduler import calendar_replan
from app.scheduler.planner import plan_tasks
from app.services.actor import Actor
from app.services.calendars import update_calendar

ADMIN = Actor(User(id=1, username="admin", role="superadmin", password_hash="x", instances=["*"]))
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
CLOSED = [date(2026, 3, 2), date(2026, 3, 3)]  # Monday and Tuesday
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]


def _schedules() -> list[dict[str, Any]]:
    """Weekday crons in four zones, each schedule twice (two tasks share a forecast)."""
    found = []
    for n in range(12):
        cron = f"{15 * (n % 4)} {7 + n % 6} * * 1-5"
        schedule = {"kind": "cron", "cron": cron, "timezone": ZONES[n % 4], "calendar": "plant"}
        found += [schedule, dict(schedule)]
    return found


def _seed(engine: Engine) -> dict[int, dict[str, Any]]:
    with session_scope(engine) as session:
        session.add(Calendar(name="plant", skip_weekends=True, created_at=NOW))
        tasks = [
            Task(
                name=f"t{n}",
                command="true",
                schedule=schedule,
                priority=5 if n == 0 else None,
                pool="line" if n == 0 else None,
                created_at=NOW,
                updated_at=NOW,
            )
            for n, schedule in enumerate(_schedules())
        ]
        session.add_all(tasks)
        session.flush()
        plan_tasks(session, tasks, now=NOW)
        return {task.id or 0: dict(task.schedule or {}) for task in tasks}


def _expected(engine: Engine, schedule: dict[str, Any]) -> tuple[datetime, list[datetime]]:
    """The next fire and the skipped instants, from the domain's forecast of the calendar."""
    with session_scope(engine) as session:
        spec = calendar_spec(session, "plant")
    timing = timing_of(schedule)
    assert timing is not None
    ahead = timing_forecast(timing, NOW, 1, lambda _schedule: spec)
    skipped = [(s.at or s.local).astimezone(UTC) for s in ahead.skipped]
    return ahead.occurrences[0].at, skipped


def _ledger(engine: Engine, task_id: int) -> tuple[list[Run], list[Run], Task]:
    with session_scope(engine) as session:
        runs = session.exec(
            select(Run).where(Run.task_id == task_id).order_by(col(Run.trigger_time))
        ).all()
        task = session.get(Task, task_id)
        assert task is not None
        for row in [*runs, task]:
            session.expunge(row)
    return [r for r in runs if r.status == "IDLE"], [r for r in runs if r.status == "SKIPPED"], task


def _events(engine: Engine, run_id: int) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        stmt = select(RunEvent).where(RunEvent.run_id == run_id)
        return [(e.status, e.detail) for e in session.exec(stmt).all()]


def test_a_calendar_edit_replans_every_task_with_its_skips_and_next_fire(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calendar_replan, "CHUNK", 5)  # 24 tasks: the edit's chunk and 4 more
    schedules = _seed(engine)
    with session_scope(engine) as session:
        before = set(session.exec(select(Run.id).where(Run.status == "IDLE")).all())

    update_calendar(
        engine, actor=ADMIN, now=NOW, name="plant", body=CalendarUpdate(extra_dates=CLOSED)
    )

    keys: set[str] = set()
    for task_id, schedule in schedules.items():
        next_fire, skipped = _expected(engine, schedule)
        assert next_fire.astimezone(ZoneInfo(schedule["timezone"])).date() == date(2026, 3, 4)
        assert skipped, f"task {task_id}: no closed occurrence before {next_fire}"
        idle, skips, task = _ledger(engine, task_id)
        assert [r.trigger_time for r in idle] == [next_fire]
        assert task.next_fire_time == next_fire
        assert [r.trigger_time for r in skips] == skipped
        assert {r.reason for r in skips} == {"skipped: calendar (closed: extra date)"}
        for run in skips:
            assert run.finished_at == NOW
            assert _events(engine, run.id or 0) == [("SKIPPED", "closed day: closed: extra date")]
        (plan,) = idle
        assert plan.id not in before  # planned again, the old plan forgotten
        assert plan.occurrence_key == f"t{task_id}@{next_fire.isoformat()}"
        assert plan.business_date is not None and plan.spec["task_name"] == task.name
        assert _events(engine, plan.id or 0)[0][0] == "IDLE"
        keys.update(r.occurrence_key or "" for r in [*idle, *skips])
    assert len(keys) == sum(1 + len(_expected(engine, s)[1]) for s in schedules.values())

    first = min(schedules)  # the task with a priority and a pool: copied onto its runs
    idle, skips, _ = _ledger(engine, first)
    for run in [*idle, *skips]:
        assert (run.priority, run.queue_rank, run.spec["pool"]) == (5, -5, "line")
    with session_scope(engine) as session:  # no event left of a forgotten plan
        orphans = session.exec(
            select(RunEvent.id).where(col(RunEvent.run_id).not_in(select(Run.id)))
        ).all()
        assert orphans == []

    # Opened again: the skips recorded ahead are forgotten, each task back on Monday/Tuesday.
    update_calendar(engine, actor=ADMIN, now=NOW, name="plant", body=CalendarUpdate(extra_dates=[]))
    for task_id in schedules:
        idle, skips, task = _ledger(engine, task_id)
        assert skips == []
        assert [r.trigger_time for r in idle] == [task.next_fire_time]
        assert task.next_fire_time is not None
        assert task.next_fire_time.astimezone(UTC).date() <= date(2026, 3, 3)
