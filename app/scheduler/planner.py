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

from sqlalchemy import ColumnElement, delete, func, or_
from sqlmodel import Session, col, select

from app.db.calendars import calendar_spec
from app.db.runs import insert_runs, run_values, task_spec
from app.db.tables import Run, RunEvent, Task, TaskGroup
from app.domain.calendars import CalendarSpec
from app.domain.schedules import Schedule
from app.domain.states import RunStatus, TriggerKind
from app.domain.timing import Timing, timing_forecast, timing_of
from app.domain.triggers import Forecast, SkippedOccurrence

CALENDAR_SKIP = "skipped: calendar"
DST_SKIP = "skipped: dst"
BLACKOUT_SKIP = "blackout:"
# Skips recorded ahead when planning: re-planning forgets and records them again.
PLANNED_SKIPS = (CALENDAR_SKIP, DST_SKIP, BLACKOUT_SKIP)
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

    def timing(self, owner: Task | TaskGroup) -> Timing | None:
        """The owner's schedules and blackouts, or None when it has no schedule."""
        return timing_of(owner.schedule, owner.schedules, owner.blackouts)

    def next_one(self, owner: Task | TaskGroup, after: datetime) -> Forecast | None:
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


def _drop_future_plans(session: Session, task_ids: Sequence[int], now: datetime) -> None:
    """Forget what was planned ahead (the IDLE occurrence, calendar skips still to come)."""
    for chunk in _chunks(task_ids):
        planned = select(Run.id).where(
            col(Run.task_id).in_(chunk),
            Run.trigger_kind == TriggerKind.SCHEDULE,
            (col(Run.status) == RunStatus.IDLE)
            | (
                (col(Run.status) == RunStatus.SKIPPED)
                & (col(Run.trigger_time) > now)
                & _planned_skip()
            ),
        )
        ids = list(session.exec(planned).all())
        if ids:
            session.exec(delete(RunEvent).where(col(RunEvent.run_id).in_(ids)))
            session.exec(delete(Run).where(col(Run.id).in_(ids)))


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
    session: Session, tasks: Sequence[Task], *, now: datetime, calendars: Calendars | None = None
) -> dict[int, Planned | None]:
    """`plan_task` for many tasks at once, with a few queries for all of them and one INSERT
    of plain rows (no ORM run objects: a burst of a thousand fired tasks, or a calendar edit
    over twenty thousand, is re-planned in one pass). Returns task id -> its IDLE run."""
    ids = [task.id for task in tasks if task.id is not None]
    assert len(ids) == len(tasks), "plan_tasks needs stored tasks"
    _drop_future_plans(session, ids, now)
    calendars = calendars or Calendars(session)
    taken = last_triggers(session, ids)
    planned: dict[int, Planned | None] = {}
    idle: list[tuple[dict[str, Any], str]] = []
    skips: list[_Skip] = []
    for task in tasks:
        task_id = task.id or 0
        task.next_fire_time = None
        planned[task_id] = None
        if not task.active or not task.schedule or task.group_id is not None:
            continue
        after = max(now, taken.get(task_id) or now)
        ahead = calendars.next_one(task, after)
        if ahead is None:
            continue
        spec = task_spec(task)  # shared by its plan and its skips (run_values copies it)
        skips.extend(_skip(task, spec, s) for s in ahead.skipped[:MAX_SKIPS_PER_PLAN])
        if not ahead.occurrences:
            continue
        upcoming = ahead.occurrences[0]
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
    recorded = _skip_runs(session, skips, now)
    ids = insert_runs(session, recorded + idle)  # one INSERT for the skips and the plans
    for (run, _), run_id in zip(idle, ids[len(recorded) :], strict=True):
        planned[run["task_id"]] = Planned(run_id, run["trigger_time"], run["occurrence_key"])
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


def planned_skip(reason: Any) -> ColumnElement[bool]:
    """Whether a reason column says the row is a skip recorded ahead by planning."""
    return or_(*(reason.startswith(prefix) for prefix in PLANNED_SKIPS))


@dataclass(frozen=True)
class _Skip:
    task: Task
    spec: dict[str, Any]
    key: str
    at: datetime
    reason: str
    detail: str


def _skip(task: Task, spec: dict[str, Any], skipped: SkippedOccurrence) -> _Skip:
    at = (skipped.at or skipped.local).astimezone(UTC)
    at, key, reason, detail = skip_entry(skipped, occurrence_key(task.id or 0, at))
    return _Skip(task, spec, key, at, reason, detail)


def _skip_runs(
    session: Session, skips: Sequence[_Skip], now: datetime
) -> list[tuple[dict[str, Any], str]]:
    """The SKIPPED runs of `skips` not recorded yet (keys looked up a chunk at a time, where
    a query a skip made a calendar edit over thousands of tasks take minutes)."""
    keys = [skip.key for skip in skips]
    taken: set[str] = set()
    for start in range(0, len(keys), 500):
        stmt = select(Run.occurrence_key).where(
            col(Run.occurrence_key).in_(keys[start : start + 500])
        )
        taken.update(key for key in session.exec(stmt).all() if key)
    runs: list[tuple[dict[str, Any], str]] = []
    for skip in skips:
        if skip.key in taken:
            continue
        taken.add(skip.key)
        run = run_values(
            at=now,
            status=RunStatus.SKIPPED,
            trigger_kind=TriggerKind.SCHEDULE,
            spec=skip.spec,
            task=skip.task,
            trigger_time=skip.at,
            occurrence_key=skip.key,
            reason=skip.reason,
        )
        runs.append((run, skip.detail))
    return runs


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
