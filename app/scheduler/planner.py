"""Planning: the next occurrence of each schedule is an IDLE run, and the occurrences skipped
on the way are recorded as SKIPPED runs with the reason (the run ledger): closed by the
calendar (`skipped: calendar (...)`), dropped by a DST rule (`skipped: dst (...)`), or in a
blackout window (`blackout: NAME`).

The unique `occurrence_key` makes an occurrence impossible to record twice, whoever plans it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from app.db.calendars import calendar_spec
from app.db.run_admission import admission_of, task_admission
from app.db.runs import insert_runs, run_values, settle_rows, task_spec
from app.db.tables import Run, Task, TaskGroup
from app.db.task_rows import TaskFields
from app.domain.calendars import CalendarSpec
from app.domain.schedules import Schedule
from app.domain.states import RunStatus, TriggerKind
from app.domain.timing import Timing, timing_forecast, timing_of
from app.domain.triggers import Forecast, SkippedOccurrence
from app.scheduler.plan_ledger import (
    CALENDAR_SKIP,
    DST_SKIP,
    planned_ahead,
    planned_skip,
)

__all__ = ["planned_skip"]  # where the other planners and views have it from

# A plan records at most this many skips before the next fire (a blackout over a
# per-minute task would otherwise write thousands of rows at once).
MAX_SKIPS_PER_PLAN = 500


def occurrence_key(task_id: int, at: datetime) -> str:
    return f"t{task_id}@{at.isoformat()}"


@dataclass
class Calendars:
    """Calendar specs by name, loaded once per unit of work, and the forecasts made with
    them: tasks with the same schedules planned from the same instant share one (a calendar
    edit re-plans thousands of tasks on a few hundred distinct crons). `forecasts` may be
    shared by the units of work of one re-plan (calendar_replan.py)."""

    session: Session
    _cache: dict[str, CalendarSpec] = field(default_factory=dict)
    forecasts: dict[tuple[str, datetime], Forecast | None] = field(default_factory=dict)

    def timing(self, owner: TaskFields | TaskGroup) -> Timing | None:
        """The owner's schedules and blackouts, or None when it has no schedule."""
        return timing_of(owner.schedule, owner.schedules, owner.blackouts)

    def next_one(self, owner: TaskFields | TaskGroup, after: datetime) -> Forecast | None:
        """The owner's next occurrence after `after` and the skips before it (None: no
        schedule), remembered by its schedules' text and `after`."""
        text = json.dumps(
            [owner.schedule, owner.schedules, owner.blackouts], sort_keys=True, default=str
        )
        key = (text, after)
        if key not in self.forecasts:
            timing = self.timing(owner)
            self.forecasts[key] = (
                None if timing is None else timing_forecast(timing, after, 1, self.for_schedule)
            )
        return self.forecasts[key]

    def for_schedule(self, schedule: Schedule) -> CalendarSpec | None:
        name = schedule.calendar
        if not name:
            return None
        if name not in self._cache:
            self._cache[name] = calendar_spec(self.session, name)
        return self._cache[name]


@dataclass(frozen=True)
class Planned:
    """A task's next occurrence, stored as an IDLE run (`id`)."""

    id: int
    trigger_time: datetime
    occurrence_key: str


def plan_task(
    session: Session, task: Task, *, now: datetime, calendars: Calendars | None = None
) -> Planned | None:
    """(Re)plan `task`: materialise its next occurrence and the calendar skips before it."""
    return plan_tasks(session, [task], now=now, calendars=calendars).get(task.id or 0)


def plan_tasks(
    session: Session,
    tasks: Sequence[TaskFields],
    *,
    now: datetime,
    calendars: Calendars | None = None,
) -> dict[int, Planned | None]:
    """`plan_task` for many tasks at once, with a few queries for all of them and one INSERT
    of plain rows (no ORM run objects: a burst of a thousand fired tasks, or a calendar edit
    over twenty thousand, is re-planned in one pass). What was planned ahead and is planned
    again identically stays as it is (plan_ledger.py); the rest is forgotten and written
    again. Returns task id -> its IDLE run."""
    ids = [task.id for task in tasks if task.id is not None]
    assert len(ids) == len(tasks), "plan_tasks needs stored tasks"
    ahead = planned_ahead(session, ids, now)
    calendars = calendars or Calendars(session)
    taken = last_triggers(session, ids)
    planned: dict[int, Planned | None] = {}
    admitted: dict[int | None, tuple[dict[str, Any], int] | None] = {}
    idle: list[tuple[dict[str, Any], str]] = []
    skips: dict[str, tuple[dict[str, Any], str]] = {}  # by occurrence key: each once
    for task in tasks:
        task_id = task.id or 0
        task.next_fire_time = None
        planned[task_id] = None
        if not task.active or not task.schedule or task.group_id is not None:
            continue
        after = max(now, taken.get(task_id) or now)
        forecast = calendars.next_one(task, after)
        if forecast is None:
            continue
        admitted[task_id] = admission_of(task_admission(task, None))  # no group: its own
        spec = task_spec(task)  # shared by its plan and its skips (run_values copies it)
        for skipped in forecast.skipped[:MAX_SKIPS_PER_PLAN]:
            values, detail = _skip(task, spec, skipped, now)
            skips.setdefault(values["occurrence_key"], (values, detail))
        if not forecast.occurrences:
            continue
        upcoming = forecast.occurrences[0]
        task.next_fire_time = upcoming.at
        detail = f"planned for {upcoming.local.isoformat()}"
        if upcoming.note:
            detail += f" ({upcoming.note})"
        run = run_values(
            at=now,
            status=RunStatus.IDLE,
            trigger_kind=TriggerKind.SCHEDULE,
            spec=spec,
            task=task,
            trigger_time=upcoming.at,
            occurrence_key=occurrence_key(task_id, upcoming.at),
        )
        idle.append((run, detail))
    wanted = [*skips.values(), *idle]
    settle_rows(session, [values for values, _ in wanted], admitted)
    kept = ahead.keep(session, wanted)
    ahead.forget(session)  # before the INSERT: a forgotten row may hold a key planned again
    recorded = _unrecorded(session, [row for key, row in skips.items() if key not in kept])
    fresh = [(run, detail) for run, detail in idle if run["occurrence_key"] not in kept]
    new_ids = insert_runs(session, recorded + fresh, settled=True)  # one INSERT for them all
    stored = dict(kept)
    for (run, _), run_id in zip(fresh, new_ids[len(recorded) :], strict=True):
        stored[run["occurrence_key"]] = run_id
    for run, _ in idle:
        key = run["occurrence_key"]
        planned[run["task_id"]] = Planned(stored[key], run["trigger_time"], key)
    return planned


def _planned_skip() -> ColumnElement[bool]:
    return planned_skip(col(Run.reason))


def skip_entry(skipped: SkippedOccurrence, key: str) -> tuple[datetime, str, str, str]:
    """How a skipped occurrence is recorded, for a task run or a group run alike: its
    instant, its occurrence key (from `key`, the owner's key at that instant), its reason
    and the event detail."""
    at = (skipped.at or skipped.local).astimezone(UTC)
    if skipped.kind == "calendar":
        return at, key, f"{CALENDAR_SKIP} ({skipped.reason})", f"closed day: {skipped.reason}"
    if skipped.kind == "dst":
        # A wall time dropped in a gap lies on the instant of the fire after the gap.
        key += f" dst {skipped.local.replace(tzinfo=None).isoformat()}"
        return at, key, f"{DST_SKIP} ({skipped.reason})", skipped.reason
    return at, key, skipped.reason, f"in a blackout window: {skipped.reason}"


def _skip(
    task: TaskFields, spec: dict[str, Any], skipped: SkippedOccurrence, now: datetime
) -> tuple[dict[str, Any], str]:
    """A skipped occurrence as the column values of its SKIPPED run and its event detail."""
    at = (skipped.at or skipped.local).astimezone(UTC)
    at, key, reason, detail = skip_entry(skipped, occurrence_key(task.id or 0, at))
    run = run_values(
        at=now,
        status=RunStatus.SKIPPED,
        trigger_kind=TriggerKind.SCHEDULE,
        spec=spec,
        task=task,
        trigger_time=at,
        occurrence_key=key,
        reason=reason,
    )
    return run, detail


def _unrecorded(
    session: Session, skips: Sequence[tuple[dict[str, Any], str]]
) -> list[tuple[dict[str, Any], str]]:
    """The skips whose occurrence is not recorded yet (keys looked up a chunk at a time, where
    a query a skip made a calendar edit over thousands of tasks take minutes)."""
    keys = [values["occurrence_key"] for values, _ in skips]
    taken: set[str] = set()
    for start in range(0, len(keys), 500):
        stmt = select(Run.occurrence_key).where(
            col(Run.occurrence_key).in_(keys[start : start + 500])
        )
        taken.update(key for key in session.exec(stmt).all() if key)
    return [(values, detail) for values, detail in skips if values["occurrence_key"] not in taken]


def last_triggers(session: Session, task_ids: Sequence[int]) -> dict[int, datetime]:
    """Task id -> the latest scheduled occurrence already taken, so a re-plan never repeats
    it (tasks with none are left out)."""
    found: dict[int, datetime] = {}
    for chunk in _chunks(task_ids):
        stmt = (
            select(Run.task_id, func.max(Run.trigger_time))
            .where(
                col(Run.task_id).in_(chunk),
                Run.trigger_kind == TriggerKind.SCHEDULE,
                Run.status != RunStatus.IDLE,
                ~_planned_skip() | col(Run.reason).is_(None),
            )
            .group_by(col(Run.task_id))
        )
        for task_id, at in session.exec(stmt).all():
            if task_id is not None and at is not None:
                found[task_id] = at
    return found


def _chunks(ids: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    """Keeps IN lists within every database's limit on bound parameters."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def pending_triggers(session: Session) -> dict[int, datetime]:
    """Task id -> trigger time of its IDLE occurrence: what the timer must wake up for."""
    stmt = select(Run.task_id, Run.trigger_time).where(
        Run.status == RunStatus.IDLE, col(Run.task_id).is_not(None)
    )
    return {int(tid): at for tid, at in session.exec(stmt).all() if tid is not None and at}
