"""Holiday calendars; an edit re-plans every schedule that uses the calendar.

Calendars are global (schedules and exports name them): everyone reads them, and only an
admin of every instance (`*`) creates, changes or deletes one, since an edit moves the runs
of every instance whose schedules use it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.calendars import get_calendar, groups_using, tasks_using, to_spec
from app.db.engine import session_scope
from app.db.tables import Calendar
from app.db.unit_of_work import record
from app.domain.calendars import validate_calendar_fields
from app.domain.events import DefinitionChanged
from app.domain.roles import Role
from app.errors import Conflict, Forbidden, InvalidInput
from app.models.schemas import CalendarCreate, CalendarPublic, CalendarUpdate, ClosedDay
from app.scheduler.planner import plan_tasks
from app.services.actor import Actor


def _public(session: Session, row: Calendar) -> CalendarPublic:
    users = [t.name for t in tasks_using(session, row.name)]
    users += [f"group {g.name}" for g in groups_using(session, row.name)]
    return CalendarPublic(
        name=row.name,
        description=row.description,
        country=row.country,
        subdivision=row.subdivision,
        skip_weekends=row.skip_weekends,
        extra_dates=[date.fromisoformat(d) for d in row.extra_dates],
        working_dates=[date.fromisoformat(d) for d in row.working_dates],
        used_by=sorted(users),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _require_unscoped(actor: Actor) -> None:
    actor.require(Role.ADMIN)
    if not actor.scope.everything:
        raise Forbidden(
            "calendars are shared by every instance: only an admin of every instance changes them"
        )


def _validate(country: str | None, subdivision: str | None) -> None:
    try:
        validate_calendar_fields(country, subdivision)
    except ValueError as exc:
        field, _, problem = str(exc).partition(": ")
        raise InvalidInput(field, problem) from exc


def _replan_users(session: Session, name: str, now: datetime) -> None:
    plan_tasks(session, list(tasks_using(session, name)), now=now)


def list_calendars(session: Session, *, actor: Actor) -> list[CalendarPublic]:
    rows = session.exec(select(Calendar).order_by(col(Calendar.name))).all()
    return [_public(session, r) for r in rows]


def read_calendar(session: Session, *, actor: Actor, name: str) -> CalendarPublic:
    return _public(session, get_calendar(session, name))


def create_calendar(
    engine: Engine, *, actor: Actor, now: datetime, body: CalendarCreate
) -> CalendarPublic:
    _require_unscoped(actor)
    _validate(body.country, body.subdivision)
    with session_scope(engine) as session:
        if session.exec(select(Calendar.id).where(Calendar.name == body.name)).first():
            raise Conflict(f"name: a calendar named {body.name!r} already exists")
        row = Calendar(
            name=body.name,
            description=body.description,
            country=body.country,
            subdivision=body.subdivision,
            skip_weekends=body.skip_weekends,
            extra_dates=sorted({d.isoformat() for d in body.extra_dates}),
            working_dates=sorted({d.isoformat() for d in body.working_dates}),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        public = _public(session, row)
        actor.audit(
            session,
            at=now,
            action="calendar.create",
            target_kind="calendar",
            target_id=row.name,
            after=public,
        )
        return public


def update_calendar(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    name: str,
    body: CalendarUpdate,
) -> CalendarPublic:
    _require_unscoped(actor)
    with session_scope(engine) as session:
        row = get_calendar(session, name)
        before = _public(session, row)
        fields = body.model_fields_set
        country = body.country if "country" in fields else row.country
        subdivision = body.subdivision if "subdivision" in fields else row.subdivision
        _validate(country, subdivision)
        row.country, row.subdivision = country, subdivision
        if body.description is not None:
            row.description = body.description
        if body.skip_weekends is not None:
            row.skip_weekends = body.skip_weekends
        if body.extra_dates is not None:
            row.extra_dates = sorted({d.isoformat() for d in body.extra_dates})
        if body.working_dates is not None:
            row.working_dates = sorted({d.isoformat() for d in body.working_dates})
        row.updated_at = now
        session.flush()
        _replan_users(session, name, now)
        public = _public(session, row)
        actor.audit(
            session,
            at=now,
            action="calendar.update",
            target_kind="calendar",
            target_id=name,
            before=before,
            after=public,
        )
        record(session, DefinitionChanged("calendar", name))
    return public


def delete_calendar(engine: Engine, *, actor: Actor, now: datetime, name: str) -> None:
    _require_unscoped(actor)
    with session_scope(engine) as session:
        row = get_calendar(session, name)
        before = _public(session, row)
        if before.used_by:
            raise Conflict(f"calendar {name!r} is used by: {', '.join(before.used_by)}")
        actor.audit(
            session,
            at=now,
            action="calendar.delete",
            target_kind="calendar",
            target_id=name,
            before=before,
        )
        session.delete(row)


def closed_days(session: Session, *, actor: Actor, name: str, year: int) -> list[ClosedDay]:
    """Every closed day of a year with its reason (holiday name, weekend, closed date)."""
    spec = to_spec(get_calendar(session, name))
    day, end, result = date(year, 1, 1), date(year, 12, 31), []
    while day <= end:
        reason = spec.closed_reason(day)
        if reason is not None:
            result.append(ClosedDay(date=day, reason=reason))
        day += timedelta(days=1)
    return result
