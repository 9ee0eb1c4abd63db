"""Calendar rows, their conversion to the pure CalendarSpec, and who uses them.

A calendar names others (`include_calendars`, `exclude_calendars`); `calendar_spec` resolves
those names, recursively, into one nested CalendarSpec the walk uses as a plain value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import String, cast, or_
from sqlmodel import Session, col, select

from app.db.tables import Calendar, Task, TaskGroup
from app.domain.calendars import CalendarSpec, find_cycle
from app.errors import InvalidInput, NotFound


def to_spec(row: Calendar, rows: Mapping[str, Calendar] | None = None) -> CalendarSpec:
    """The row as a spec; its included and excluded calendars come from `rows` (by name)."""
    return _resolve(row, rows or {}, ())


def _resolve(row: Calendar, rows: Mapping[str, Calendar], path: tuple[str, ...]) -> CalendarSpec:
    if row.name in path:  # refused when saved; a guard, not a rule
        raise InvalidInput("include", f"cycle: {' -> '.join([*path, row.name])}")
    inner = (*path, row.name)

    def specs(names: list[str]) -> tuple[CalendarSpec, ...]:
        return tuple(_resolve(rows[n], rows, inner) for n in names if n in rows)

    return CalendarSpec(
        name=row.name,
        country=row.country,
        subdivision=row.subdivision,
        categories=tuple(row.categories),
        skip_weekends=row.skip_weekends,
        extra_dates=frozenset(date.fromisoformat(d) for d in row.extra_dates),
        working_dates=frozenset(date.fromisoformat(d) for d in row.working_dates),
        include=specs(row.include_calendars),
        exclude=specs(row.exclude_calendars),
    )


def all_calendars(session: Session) -> dict[str, Calendar]:
    return {row.name: row for row in session.exec(select(Calendar)).all()}


def get_calendar(session: Session, name: str) -> Calendar:
    row = session.exec(select(Calendar).where(Calendar.name == name)).first()
    if row is None:
        raise NotFound("calendar", name)
    return row


def calendar_spec(session: Session, name: str) -> CalendarSpec:
    row = get_calendar(session, name)
    if not (row.include_calendars or row.exclude_calendars):
        return to_spec(row)
    return to_spec(row, all_calendars(session))


def references(rows: Mapping[str, Calendar]) -> dict[str, list[str]]:
    """Calendar name -> the calendars it includes or excludes."""
    return {n: [*r.include_calendars, *r.exclude_calendars] for n, r in rows.items()}


def check_combination(
    graph: Mapping[str, list[str]], name: str, include: list[str], exclude: list[str]
) -> None:
    """InvalidInput naming `include` or `exclude` for an unknown calendar, one named twice,
    or a cycle (with its path). `graph` holds every other calendar's references."""
    both = sorted(set(include) & set(exclude))
    if both:
        raise InvalidInput("exclude", f"{', '.join(both)} is also included")
    for field, names in (("include", include), ("exclude", exclude)):
        for other in names:
            if other != name and other not in graph:
                raise InvalidInput(field, f"unknown calendar {other!r}")
    cycle = find_cycle({**graph, name: [*include, *exclude]}, name)
    if cycle is not None:
        field = "include" if cycle[1] in include else "exclude"
        raise InvalidInput(field, f"calendars would form a cycle: {' -> '.join(cycle)}")


def dependents(session: Session, name: str) -> set[str]:
    """`name` and every calendar that includes or excludes it, directly or through others."""
    graph = references(all_calendars(session))
    found, todo = {name}, [name]
    while todo:
        current = todo.pop()
        for other, refs in graph.items():
            if current in refs and other not in found:
                found.add(other)
                todo.append(other)
    return found


def calendars_using(session: Session, name: str) -> list[str]:
    """Calendars that include or exclude `name` directly."""
    rows = all_calendars(session)
    return sorted(n for n, refs in references(rows).items() if name in refs)


def tasks_using(session: Session, name: str) -> list[str]:
    """Names of the tasks whose own schedules name the calendar (schedules are JSON: the
    database keeps the rows that mention it, the exact test is made here)."""
    stmt = (
        select(Task.name, Task.schedule, Task.schedules)
        .where(col(Task.schedule).is_not(None), _mentions(Task, name))
        .order_by(col(Task.id))
    )
    return [n for n, schedule, extra in session.exec(stmt).all() if _names(name, schedule, extra)]


def groups_using(session: Session, name: str) -> list[str]:
    """Names of the groups whose own schedules name the calendar."""
    stmt = (
        select(TaskGroup.name, TaskGroup.schedule, TaskGroup.schedules)
        .where(col(TaskGroup.schedule).is_not(None), _mentions(TaskGroup, name))
        .order_by(col(TaskGroup.id))
    )
    return [n for n, schedule, extra in session.exec(stmt).all() if _names(name, schedule, extra)]


def _mentions(table: type[Task] | type[TaskGroup], name: str) -> Any:
    """The row's schedules mention `name` somewhere (a cheap filter, not the exact test)."""
    return or_(
        cast(col(table.schedule), String).contains(name, autoescape=True),
        cast(col(table.schedules), String).contains(name, autoescape=True),
    )


def _names(
    name: str, schedule: Mapping[str, Any] | None, extra: Sequence[Mapping[str, Any]]
) -> bool:
    """Whether the main schedule or one of the extra ones names calendar `name`."""
    return any((item or {}).get("calendar") == name for item in (schedule, *extra))


def task_ids_affected(session: Session, name: str) -> list[int]:
    """The ids of the tasks whose schedule uses `name` directly or through a calendar that
    combines it (ids only: a calendar edit loads its tasks a chunk at a time)."""
    names = sorted(dependents(session, name))
    stmt = select(Task.id).where(_calendar_of(col(Task.schedule)).in_(names)).order_by(col(Task.id))
    return [int(task_id) for task_id in session.exec(stmt).all() if task_id is not None]


def groups_affected(session: Session, name: str) -> list[TaskGroup]:
    names = sorted(dependents(session, name))
    stmt = (
        select(TaskGroup)
        .where(_calendar_of(col(TaskGroup.schedule)).in_(names))
        .order_by(col(TaskGroup.id))
    )
    return list(session.exec(stmt).all())


def _calendar_of(schedule: Any) -> Any:
    """The calendar a schedule names, read by the database (not every definition loaded)."""
    return schedule["calendar"].as_string()


def check_calendar_reference(session: Session, schedule: dict[str, object] | None) -> None:
    """A schedule may name only a calendar that exists."""
    name = (schedule or {}).get("calendar")
    if name and session.exec(select(Calendar.id).where(Calendar.name == name)).first() is None:
        raise InvalidInput("schedule.calendar", f"unknown calendar {name!r}")
