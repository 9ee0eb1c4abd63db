"""Re-planning the schedules on an edited calendar without holding the database: the edit's
own transaction re-plans its groups and the tasks due soonest (one chunk), and the other
tasks follow in chunks of their own transactions, soonest first, so firing and dispatch take
the database between them. Each chunk announces its tasks (`task:<id>`) so the timers move.
Tasks are read as plain rows (db/task_rows.py), and only the next fire times that move are
written back; the plans that do not change stay as they are (plan_ledger.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from app.db.calendars import groups_affected, task_ids_affected
from app.db.engine import session_scope
from app.db.task_rows import store_next_fires, task_rows
from app.db.unit_of_work import record
from app.domain.events import DefinitionChanged
from app.domain.triggers import Forecast
from app.scheduler.group_planner import plan_group
from app.scheduler.planner import Calendars, pending_triggers, plan_tasks

CHUNK = 500  # tasks re-planned per transaction


def replan_in_edit(session: Session, name: str, now: datetime) -> list[int]:
    """Re-plan the groups on `name` and its tasks due soonest; returns the ids of the tasks
    left for `replan_rest` (soonest first)."""
    ids = task_ids_affected(session, name)
    due = pending_triggers(session)
    far = datetime.max.replace(tzinfo=now.tzinfo)
    ids.sort(key=lambda task_id: (due.get(task_id, far), task_id))
    calendars = Calendars(session)
    _replan_chunk(session, ids[:CHUNK], now, calendars)
    for group in groups_affected(session, name):
        plan_group(session, group, now=now, calendars=calendars)
    return ids[CHUNK:]


def replan_rest(engine: Engine, task_ids: Sequence[int], now: datetime) -> None:
    """Re-plan `task_ids`, a chunk a transaction; tasks of the same schedules share their
    forecast across the chunks."""
    forecasts: dict[tuple[str, datetime], Forecast | None] = {}
    for chunk in _chunks(task_ids):
        with session_scope(engine) as session:
            calendars = Calendars(session, forecasts=forecasts)
            for task_id in _replan_chunk(session, chunk, now, calendars):
                record(session, DefinitionChanged("task", task_id))


def _replan_chunk(
    session: Session, task_ids: Sequence[int], now: datetime, calendars: Calendars
) -> list[int]:
    """Plan the tasks of `task_ids` again; returns their ids."""
    tasks = task_rows(session, task_ids)
    before = [task.next_fire_time for task in tasks]
    plan_tasks(session, tasks, now=now, calendars=calendars)
    store_next_fires(session, tasks, before)
    return [task.id for task in tasks]


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
