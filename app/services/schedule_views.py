"""What tasks and groups show alike: forecasts of their schedule, their frozen dates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from app.clock import ensure_aware
from app.db.tables import Freeze
from app.domain.schedules import parse_schedule
from app.domain.triggers import forecast
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
    session: Session, key: int, schedule: dict[str, Any] | None, start: datetime, count: int
) -> ForecastPublic:
    """The next `count` fire times of a stored schedule, and what it skips on the way."""
    if not schedule:
        return ForecastPublic(task=key, timezone="UTC", occurrences=[], skipped=[])
    parsed = parse_schedule(schedule)
    result = forecast(parsed, start, count, Calendars(session).for_schedule(parsed))
    return ForecastPublic(
        task=key,
        timezone=parsed.timezone,
        occurrences=[ForecastItem(at=o.at, local=o.local, note=o.note) for o in result.occurrences],
        skipped=[SkippedItem(local=s.local, reason=s.reason) for s in result.skipped],
    )


def freeze_public(row: Freeze) -> FreezePublic:
    return FreezePublic(date=row.day, reason=row.reason, created_by=row.created_by)
