"""A calendar edit keeps the rows a task's new plan writes identically (its IDLE occurrence
and the skips already recorded, same ids, same events) and replaces only those that change:
a task whose next fire is untouched writes nothing, one that moves gets a new plan and its
skip. Anything planning writes that differs (here the task's command) replaces the row."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import col, select

from app.db.engine import session_scope
from app.db.tables import Calendar, Run, RunEvent, Task, User
from app.models.calendar_schemas import CalendarUpdate
from app.scheduler.planner import plan_tasks
from app.services.actor import Actor
from app.services.calendars import update_calendar

ADMIN = Actor(User(id=1, username="admin", role="superadmin", password_hash="x", instances=["*"]))
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday: the first plans
EDIT = datetime(2026, 3, 2, 8, 10, tzinfo=UTC)  # the calendar edits: a row written then shows it
MONDAY_9 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TUESDAY_9 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
NEXT_TUESDAY_9 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _seed(engine: Engine) -> tuple[int, int]:
    """Task `daily` (weekdays at 9:00 UTC: next Monday 9:00) and `tuesdays` (Tuesday 9:00)."""
    with session_scope(engine) as session:
        session.add(Calendar(name="plant", skip_weekends=True, created_at=NOW))
        tasks = [
            Task(
                name=name,
                command="true",
                schedule={"kind": "cron", "cron": cron, "timezone": "UTC", "calendar": "plant"},
                version=1,  # as recorded when it was created (kept by the commit's recorder)
                created_at=NOW,
                updated_at=NOW,
            )
            for name, cron in (("daily", "0 9 * * 1-5"), ("tuesdays", "0 9 * * 2"))
        ]
        session.add_all(tasks)
        session.flush()
        plan_tasks(session, tasks, now=NOW)
        return tasks[0].id or 0, tasks[1].id or 0


def _rows(engine: Engine, task_id: int) -> list[tuple[int, str, datetime, datetime, list[str]]]:
    """(id, status, trigger time, written at, its events' details) of each run of the task, in
    time order (SQLite may give a new row a forgotten one's id: the instant tells them apart)."""
    with session_scope(engine) as session:
        runs = session.exec(
            select(Run).where(Run.task_id == task_id).order_by(col(Run.trigger_time))
        ).all()
        found = []
        for run in runs:
            events = session.exec(select(RunEvent.detail).where(RunEvent.run_id == run.id)).all()
            assert run.id is not None and run.trigger_time and run.created_at
            found.append((run.id, str(run.status), run.trigger_time, run.created_at, list(events)))
        return found


def _close(engine: Engine, *days: date) -> None:
    update_calendar(
        engine, actor=ADMIN, now=EDIT, name="plant", body=CalendarUpdate(extra_dates=list(days))
    )


def test_an_edit_keeps_unchanged_plans_and_replaces_the_moved_ones(engine: Engine) -> None:
    daily, tuesdays = _seed(engine)
    (daily_plan,) = _rows(engine, daily)
    (tuesday_plan,) = _rows(engine, tuesdays)
    assert (daily_plan[2], tuesday_plan[2]) == (MONDAY_9, TUESDAY_9)

    _close(engine, date(2026, 3, 3))  # Tuesday closed: `daily` keeps Monday 9:00

    assert _rows(engine, daily) == [daily_plan]  # the same row, the same single event
    skip, plan = _rows(engine, tuesdays)
    assert (skip[1], skip[2]) == ("SKIPPED", TUESDAY_9)
    assert skip[3:] == (EDIT, ["closed day: closed: extra date"])
    assert (plan[1], plan[2], plan[3]) == ("IDLE", NEXT_TUESDAY_9, EDIT)  # moved: planned again

    # Wednesday closed too: nothing changes for either task, every row stays.
    _close(engine, date(2026, 3, 3), date(2026, 3, 4))
    assert _rows(engine, daily) == [daily_plan]
    assert _rows(engine, tuesdays) == [skip, plan]


def test_a_plan_written_differently_is_replaced_even_at_the_same_time(engine: Engine) -> None:
    daily, _ = _seed(engine)
    (before,) = _rows(engine, daily)
    with session_scope(engine) as session:  # planned again as it is: kept, its id returned
        task = session.get(Task, daily)
        assert task is not None
        planned = plan_tasks(session, [task], now=EDIT)[daily]
    assert planned is not None and planned.id == before[0]
    assert _rows(engine, daily) == [before]

    with session_scope(engine) as session:
        task = session.get(Task, daily)
        assert task is not None
        task.command = "echo changed"  # its new version comes at commit: only the spec tells
        planned = plan_tasks(session, [task], now=EDIT)[daily]
    (after,) = _rows(engine, daily)
    assert planned is not None and planned.id == after[0]
    assert (after[2], after[3], before[3]) == (MONDAY_9, EDIT, NOW)  # written again
    with session_scope(engine) as session:
        run = session.get(Run, after[0])
        assert run is not None and run.spec["command"] == "echo changed"
