"""What tasks and groups show alike: forecasts of their schedule, their frozen dates."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.clock import ensure_aware
from app.db.tables import Freeze, Task, TaskGroup
from app.domain.timing import timing_forecast
from app.errors import InvalidInput
from app.models.schemas import ForecastItem, ForecastPublic, FreezePublic, SkippedItem
from app.scheduler.planner import Calendars


def forecast_start(after: datetime | None, now: datetime) -> datetime:
    if after is None:
        return now
    if after.tzinfo is None:
        raise InvalidInput("after", "must carry a UTC offset, e.g. 2026-01-01T00:00:00+00:00")
    return ensure_aware(after)


def forecast_public(
    session: Session,
    owner: Task | TaskGroup,
    start: datetime,
    count: int,
    *,
    task: int | None = None,
) -> ForecastPublic:
    """The next `count` fire times of a task's or group's schedules, and what they skip on the
    way (closed days, DST drops, blackouts), each with its reason. `task`: the task asked
    about when `owner` is its group."""
    calendars = Calendars(session)
    timing = calendars.timing(owner)
    if isinstance(owner, TaskGroup):
        keys = {"task": task, "group": owner.id}
    else:
        keys = {"task": owner.id, "group": None}
    if timing is None:
        return ForecastPublic(**keys, timezone="UTC", occurrences=[], skipped=[])
    result = timing_forecast(timing, start, count, calendars.for_schedule)
    return ForecastPublic(
        **keys,
        timezone=timing.schedules[0].timezone,
        occurrences=[ForecastItem(at=o.at, local=o.local, note=o.note) for o in result.occurrences],
        skipped=[
            SkippedItem(local=s.local, reason=s.reason, kind=s.kind, at=s.at)
            for s in result.skipped
        ],
    )


def freeze_public(row: Freeze) -> FreezePublic:
    return FreezePublic(date=row.day, reason=row.reason, created_by=row.created_by)
