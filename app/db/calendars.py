"""Calendar rows, their conversion to the pure CalendarSpec, and who uses them."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from app.db.tables import Calendar, Task, TaskGroup
from app.domain.calendars import CalendarSpec
from app.errors import InvalidInput, NotFound


def to_spec(row: Calendar) -> CalendarSpec:
    return CalendarSpec(
        name=row.name,
        country=row.country,
        subdivision=row.subdivision,
        skip_weekends=row.skip_weekends,
        extra_dates=frozenset(date.fromisoformat(d) for d in row.extra_dates),
        working_dates=frozenset(date.fromisoformat(d) for d in row.working_dates),
    )


def get_calendar(session: Session, name: str) -> Calendar:
    row = session.exec(select(Calendar).where(Calendar.name == name)).first()
    if row is None:
        raise NotFound("calendar", name)
    return row


def calendar_spec(session: Session, name: str) -> CalendarSpec:
    return to_spec(get_calendar(session, name))


def tasks_using(session: Session, name: str) -> list[Task]:
    """Tasks whose own schedule names the calendar (schedules are JSON: filtered here)."""
    rows = session.exec(select(Task).where(col(Task.schedule).is_not(None))).all()
    return [t for t in rows if _names(name, t.schedule, t.schedules)]


def groups_using(session: Session, name: str) -> list[TaskGroup]:
    rows = session.exec(select(TaskGroup).where(col(TaskGroup.schedule).is_not(None))).all()
    return [g for g in rows if _names(name, g.schedule, g.schedules)]


def _names(name: str, schedule: dict[str, Any] | None, extra: list[dict[str, Any]]) -> bool:
    """Whether the main schedule or one of the extra ones names calendar `name`."""
    return any((item or {}).get("calendar") == name for item in (schedule, *extra))


def check_calendar_reference(session: Session, schedule: dict[str, object] | None) -> None:
    """A schedule may name only a calendar that exists."""
    name = (schedule or {}).get("calendar")
    if name and session.exec(select(Calendar.id).where(Calendar.name == name)).first() is None:
        raise InvalidInput("schedule.calendar", f"unknown calendar {name!r}")
