"""Holiday calendars; an edit re-plans every schedule that uses the calendar.

Calendars are global (schedules and exports name them): everyone reads them, and only an
admin of every instance (`*`) creates, changes or deletes one, since an edit moves the runs
of every instance whose schedules use it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.calendars import (
    all_calendars,
    calendar_spec,
    calendars_using,
    check_combination,
    get_calendar,
    groups_using,
    references,
    tasks_using,
)
from app.db.engine import session_scope
from app.db.tables import Calendar
from app.db.unit_of_work import record
from app.domain.calendars import validate_calendar_fields
from app.domain.events import DefinitionChanged
from app.domain.roles import Role
from app.errors import Conflict, Forbidden, InvalidInput
from app.models.calendar_schemas import (
    CalendarCreate,
    CalendarPreview,
    CalendarPublic,
    CalendarUpdate,
    ClosedDay,
    PreviewDay,
)
from app.scheduler.calendar_replan import replan_in_edit, replan_rest
from app.services.actor import Actor


def _public(session: Session, row: Calendar, used_by: list[str] | None = None) -> CalendarPublic:
    """The calendar as the API shows it; `used_by` where the caller has it already."""
    users = _users(session, row.name) if used_by is None else used_by
    return CalendarPublic(
        name=row.name,
        description=row.description,
        country=row.country,
        subdivision=row.subdivision,
        categories=list(row.categories),
        skip_weekends=row.skip_weekends,
        extra_dates=[date.fromisoformat(d) for d in row.extra_dates],
        working_dates=[date.fromisoformat(d) for d in row.working_dates],
        include=list(row.include_calendars),
        exclude=list(row.exclude_calendars),
        used_by=sorted(users),
        managed_by=row.managed_by,
        managed_file=row.managed_file,
        managed_commit=row.managed_commit,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _users(session: Session, name: str) -> list[str]:
    users = tasks_using(session, name)
    users += [f"group {group}" for group in groups_using(session, name)]
    users += [f"calendar {other}" for other in calendars_using(session, name)]
    return users


def _require_unscoped(actor: Actor) -> None:
    actor.require(Role.ADMIN)
    if not actor.scope.everything:
        raise Forbidden(
            "calendars are shared by every instance: only an admin of every instance changes them"
        )


def _validate(country: str | None, subdivision: str | None, categories: list[str]) -> None:
    try:
        validate_calendar_fields(country, subdivision, categories)
    except ValueError as exc:
        field, _, problem = str(exc).partition(": ")
        raise InvalidInput(field, problem) from exc


def _check_combination(session: Session, name: str, include: list[str], exclude: list[str]) -> None:
    graph = references(all_calendars(session))
    graph.pop(name, None)
    check_combination(graph, name, include, exclude)


def list_calendars(session: Session, *, actor: Actor) -> list[CalendarPublic]:
    rows = session.exec(select(Calendar).order_by(col(Calendar.name))).all()
    return [_public(session, r) for r in rows]


def read_calendar(session: Session, *, actor: Actor, name: str) -> CalendarPublic:
    return _public(session, get_calendar(session, name))


def create_calendar(
    engine: Engine, *, actor: Actor, now: datetime, body: CalendarCreate
) -> CalendarPublic:
    _require_unscoped(actor)
    _validate(body.country, body.subdivision, body.categories)
    with session_scope(engine) as session:
        if session.exec(select(Calendar.id).where(Calendar.name == body.name)).first():
            raise Conflict(f"name: a calendar named {body.name!r} already exists")
        _check_combination(session, body.name, body.include, body.exclude)
        row = Calendar(
            name=body.name,
            description=body.description,
            country=body.country,
            subdivision=body.subdivision,
            categories=sorted(set(body.categories)),
            skip_weekends=body.skip_weekends,
            extra_dates=sorted({d.isoformat() for d in body.extra_dates}),
            working_dates=sorted({d.isoformat() for d in body.working_dates}),
            include_calendars=_unique(body.include),
            exclude_calendars=_unique(body.exclude),
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
        categories = row.categories if body.categories is None else sorted(set(body.categories))
        _validate(country, subdivision, categories)
        include = row.include_calendars if body.include is None else _unique(body.include)
        exclude = row.exclude_calendars if body.exclude is None else _unique(body.exclude)
        _check_combination(session, name, include, exclude)
        row.country, row.subdivision, row.categories = country, subdivision, categories
        row.include_calendars, row.exclude_calendars = include, exclude
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
        # Every schedule on it, or on a calendar that combines it: those due soonest now,
        # the rest after this commit in transactions of their own (calendar_replan.py).
        later = replan_in_edit(session, name, now)
        # An edit changes what the calendar closes, not who names it (20,000 task names).
        public = _public(session, row, before.used_by)
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
    replan_rest(engine, later, now)
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


def _unique(names: list[str]) -> list[str]:
    """Names in the order given, each once (the order is the order reasons are looked up)."""
    return list(dict.fromkeys(names))


def closed_days(session: Session, *, actor: Actor, name: str, year: int) -> list[ClosedDay]:
    """Every closed day of a year with its reason (holiday name, weekend, closed date)."""
    spec = calendar_spec(session, name)
    day, end, result = date(year, 1, 1), date(year, 12, 31), []
    while day <= end:
        reason = spec.closed_reason(day)
        if reason is not None:
            result.append(ClosedDay(date=day, reason=reason))
        day += timedelta(days=1)
    return result


def preview_year(session: Session, *, actor: Actor, name: str, year: int) -> CalendarPreview:
    """A year of the calendar as the schedules see it (its included and excluded calendars
    applied): every closed date with its reason, and the dates a rule opened."""
    row = get_calendar(session, name)
    spec = calendar_spec(session, name)
    closed: list[PreviewDay] = []
    opened: list[PreviewDay] = []
    day, end = date(year, 1, 1), date(year, 12, 31)
    while day <= end:
        verdict = spec.verdict(day)
        if verdict.reason is not None:
            item = PreviewDay(
                date=day,
                kind=verdict.kind,
                reason=verdict.reason,
                category=verdict.category,
                calendar=verdict.calendar,
            )
            (closed if verdict.closed else opened).append(item)
        day += timedelta(days=1)
    total = (end - date(year, 1, 1)).days + 1
    return CalendarPreview(
        name=name,
        year=year,
        include=list(row.include_calendars),
        exclude=list(row.exclude_calendars),
        closed=closed,
        opened=opened,
        open_days=total - len(closed),
        closed_days=len(closed),
    )
