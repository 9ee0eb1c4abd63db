"""Planning: the next occurrence of each schedule is an IDLE run, and the occurrences the
calendar closes on the way are recorded as SKIPPED runs with the reason (the run ledger).

The unique `occurrence_key` makes an occurrence impossible to record twice, whoever plans it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.db.calendars import calendar_spec
from app.db.runs import create_run, task_spec
from app.db.tables import Run, RunEvent, Task
from app.domain.calendars import CalendarSpec
from app.domain.schedules import Schedule, parse_schedule
from app.domain.states import RunStatus, TriggerKind
from app.domain.triggers import forecast

CALENDAR_SKIP = "skipped: calendar"


def occurrence_key(task_id: int, at: datetime) -> str:
    return f"t{task_id}@{at.isoformat()}"


@dataclass
class Calendars:
    """Calendar specs by name, loaded once per unit of work."""

    session: Session
    _cache: dict[str, CalendarSpec] = field(default_factory=dict)

    def for_schedule(self, schedule: Schedule) -> CalendarSpec | None:
        name = schedule.calendar
        if not name:
            return None
        if name not in self._cache:
            self._cache[name] = calendar_spec(self.session, name)
        return self._cache[name]


def _drop_future_plan(session: Session, task_id: int, now: datetime) -> None:
    """Forget what was planned ahead (the IDLE occurrence, calendar skips still to come)."""
    planned = select(Run.id).where(
        Run.task_id == task_id,
        Run.trigger_kind == TriggerKind.SCHEDULE.value,
        (col(Run.status) == RunStatus.IDLE.value)
        | ((col(Run.status) == RunStatus.SKIPPED.value) & (col(Run.trigger_time) > now)
           & col(Run.reason).startswith(CALENDAR_SKIP)),
    )
    ids = list(session.exec(planned).all())
    if ids:
        session.exec(delete(RunEvent).where(col(RunEvent.run_id).in_(ids)))
        session.exec(delete(Run).where(col(Run.id).in_(ids)))


def plan_task(session: Session, task: Task, *, now: datetime,
              calendars: Calendars | None = None) -> Run | None:
    """(Re)plan `task`: materialise its next occurrence and the calendar skips before it."""
    assert task.id is not None
    _drop_future_plan(session, task.id, now)
    task.next_fire_time = None
    if not task.active or not task.schedule or task.group_id is not None:
        return None
    schedule = parse_schedule(task.schedule)
    calendar = (calendars or Calendars(session)).for_schedule(schedule)
    after = max(now, last_trigger(session, task.id) or now)
    ahead = forecast(schedule, after, 1, calendar)
    for skipped in ahead.skipped:
        _record_calendar_skip(session, task, skipped.local.astimezone(UTC), skipped.reason, now)
    if not ahead.occurrences:
        return None
    upcoming = ahead.occurrences[0]
    task.next_fire_time = upcoming.at
    detail = f"planned for {upcoming.local.isoformat()}"
    if upcoming.note:
        detail += f" ({upcoming.note})"
    return create_run(
        session, at=now, status=RunStatus.IDLE, trigger_kind=TriggerKind.SCHEDULE,
        spec=task_spec(task), task=task, trigger_time=upcoming.at,
        occurrence_key=occurrence_key(task.id, upcoming.at), detail=detail,
    )


def _record_calendar_skip(session: Session, task: Task, at: datetime, why: str, now: datetime
                          ) -> None:
    key = occurrence_key(task.id or 0, at)
    if session.exec(select(Run.id).where(Run.occurrence_key == key)).first() is not None:
        return
    create_run(session, at=now, status=RunStatus.SKIPPED, trigger_kind=TriggerKind.SCHEDULE,
               spec=task_spec(task), task=task, trigger_time=at, occurrence_key=key,
               reason=f"{CALENDAR_SKIP} ({why})", detail=f"closed day: {why}")


def last_trigger(session: Session, task_id: int) -> datetime | None:
    """The latest scheduled occurrence already taken, so a re-plan never repeats it."""
    stmt = (
        select(Run.trigger_time)
        .where(Run.task_id == task_id, Run.trigger_kind == TriggerKind.SCHEDULE.value,
               Run.status != RunStatus.IDLE.value,
               ~col(Run.reason).startswith(CALENDAR_SKIP) | col(Run.reason).is_(None))
        .order_by(col(Run.trigger_time).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def pending_triggers(session: Session) -> dict[int, datetime]:
    """Task id -> trigger time of its IDLE occurrence: what the timer must wake up for."""
    stmt = select(Run.task_id, Run.trigger_time).where(
        Run.status == RunStatus.IDLE.value, col(Run.task_id).is_not(None)
    )
    return {int(tid): at for tid, at in session.exec(stmt).all() if tid is not None and at}
