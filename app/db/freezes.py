"""Frozen dates of a task or a group: that local date's occurrences are skipped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel import Session, col, select

from app.db.tables import Freeze
from app.errors import Conflict, NotFound


def _owner(task_id: int | None, group_id: int | None) -> tuple[str, int]:
    if (task_id is None) == (group_id is None):
        raise ValueError("a freeze belongs to exactly one task or group")
    return ("task", task_id) if task_id is not None else ("group", group_id or 0)


def _where(task_id: int | None, group_id: int | None) -> object:
    if task_id is not None:
        return col(Freeze.task_id) == task_id
    return col(Freeze.group_id) == group_id


def list_freezes(
    session: Session, *, task_id: int | None = None, group_id: int | None = None
) -> Sequence[Freeze]:
    _owner(task_id, group_id)
    return session.exec(
        select(Freeze)
        .where(_where(task_id, group_id))  # type: ignore[arg-type]
        .order_by(col(Freeze.day))
    ).all()


def find_freeze(
    session: Session, day: date, *, task_id: int | None = None, group_id: int | None = None
) -> Freeze | None:
    _owner(task_id, group_id)
    return session.exec(
        select(Freeze).where(
            _where(task_id, group_id),  # type: ignore[arg-type]
            Freeze.day == day,
        )
    ).first()


def add_freeze(
    session: Session,
    day: date,
    *,
    reason: str,
    who: str,
    now: datetime,
    task_id: int | None = None,
    group_id: int | None = None,
) -> Freeze:
    kind, key = _owner(task_id, group_id)
    if find_freeze(session, day, task_id=task_id, group_id=group_id) is not None:
        raise Conflict(f"date: {kind} {key} is already frozen on {day.isoformat()}")
    row = Freeze(
        task_id=task_id, group_id=group_id, day=day, reason=reason, created_by=who, created_at=now
    )
    session.add(row)
    return row


def remove_freeze(
    session: Session, day: date, *, task_id: int | None = None, group_id: int | None = None
) -> Freeze:
    kind, key = _owner(task_id, group_id)
    row = find_freeze(session, day, task_id=task_id, group_id=group_id)
    if row is None:
        raise NotFound("freeze", f"{kind} {key} on {day.isoformat()}")
    session.delete(row)
    return row
