"""/calendars: holiday calendars (app/services/calendars.py); an edit re-plans every schedule
that uses the calendar, and only an admin of every instance changes one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import ActorDep, AdminDep, ContextDep, UserDep
from app.db.engine import session_scope
from app.models.calendar_schemas import (
    CalendarCreate,
    CalendarPreview,
    CalendarPublic,
    CalendarUpdate,
    ClosedDay,
)
from app.services import calendars

router = APIRouter(prefix="/calendars", tags=["calendars"])


@router.get("", response_model=list[CalendarPublic])
def list_calendars(context: ContextDep, user: UserDep, actor: ActorDep) -> list[CalendarPublic]:
    with session_scope(context.engine) as session:
        return calendars.list_calendars(session, actor=actor)


@router.post("", response_model=CalendarPublic, status_code=201)
def create_calendar(
    body: CalendarCreate, context: ContextDep, user: AdminDep, actor: ActorDep
) -> CalendarPublic:
    return calendars.create_calendar(
        context.engine, actor=actor, now=context.clock.now(), body=body
    )


@router.get("/{name}", response_model=CalendarPublic)
def read_calendar(name: str, context: ContextDep, user: UserDep, actor: ActorDep) -> CalendarPublic:
    with session_scope(context.engine) as session:
        return calendars.read_calendar(session, actor=actor, name=name)


@router.patch("/{name}", response_model=CalendarPublic)
def update_calendar(
    name: str, body: CalendarUpdate, context: ContextDep, user: AdminDep, actor: ActorDep
) -> CalendarPublic:
    return calendars.update_calendar(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        name=name,
        body=body,
    )


@router.delete("/{name}", status_code=204)
def delete_calendar(name: str, context: ContextDep, user: AdminDep, actor: ActorDep) -> Response:
    calendars.delete_calendar(context.engine, actor=actor, now=context.clock.now(), name=name)
    return Response(status_code=204)


@router.get("/{name}/closed", response_model=list[ClosedDay])
def closed_days(
    name: str,
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    year: Annotated[int, Query(ge=1970, le=2200)],
) -> list[ClosedDay]:
    """Every closed day of a year with its reason (holiday name, weekend, closed date)."""
    with session_scope(context.engine) as session:
        return calendars.closed_days(session, actor=actor, name=name, year=year)


@router.get("/{name}/preview", response_model=CalendarPreview)
def preview(
    name: str,
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    year: Annotated[int, Query(ge=1970, le=2200)],
) -> CalendarPreview:
    """A year as schedules see it (included and excluded calendars applied): every closed
    date with its reason (holiday name and category, weekend, extra date, from calendar X),
    and the dates a working date or an excluded calendar opened."""
    with session_scope(context.engine) as session:
        return calendars.preview_year(session, actor=actor, name=name, year=year)
