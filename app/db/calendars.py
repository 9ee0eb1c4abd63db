"""Calendar rows and their conversion to the pure CalendarSpec."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from app.db.tables import Calendar
from app.domain.calendars import CalendarSpec
from app.errors import NotFound


def to_spec(row: Calendar) -> CalendarSpec:
    return CalendarSpec(
        name=row.name,
        country=row.country,
        subdivision=row.subdivision,
        skip_weekends=row.skip_weekends,
        extra_dates=frozenset(date.fromisoformat(d) for d in row.extra_dates),
        working_dates=frozenset(date.fromisoformat(d) for d in row.working_dates),
    )


def calendar_spec(session: Session, name: str) -> CalendarSpec:
    row = session.exec(select(Calendar).where(Calendar.name == name)).first()
    if row is None:
        raise NotFound("calendar", name)
    return to_spec(row)
