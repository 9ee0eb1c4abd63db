"""Edited definitions and the timer: which trigger instants they now have, and how an edit
travels to the leader on another replica (`task:<id>`, `group:<id>`, `calendar:<name>` on
the change feed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.calendars import task_ids_affected
from app.db.engine import session_scope
from app.db.plan_hints import unindexed
from app.db.tables import GroupRun, Run
from app.domain.events import DefinitionChanged
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import RunStatus

_CHUNK = 500  # ids per IN list: an import may touch thousands


def to_message(change: DefinitionChanged) -> str:
    return f"{change.kind}:{change.key}"


def from_message(message: str) -> DefinitionChanged | None:
    kind, _, key = message.partition(":")
    if kind == "task" and key.isdigit():
        return DefinitionChanged("task", int(key))
    if kind == "group" and key.isdigit():
        return DefinitionChanged("group", int(key))
    if kind == "calendar" and key:
        return DefinitionChanged("calendar", key)
    return None


def pending_instants(engine: Engine, changes: Sequence[DefinitionChanged]) -> set[datetime]:
    """The trigger instants of the IDLE occurrences of the changed definitions (a calendar's:
    of the tasks that use it)."""
    with session_scope(engine) as session:
        return _pending_instants(session, changes)


def _pending_instants(session: Session, changes: Sequence[DefinitionChanged]) -> set[datetime]:
    tasks = {int(c.key) for c in changes if c.kind == "task"}
    groups = {int(c.key) for c in changes if c.kind == "group"}
    for name in {str(c.key) for c in changes if c.kind == "calendar"}:
        tasks.update(task_ids_affected(session, name))  # ids: no task loaded
    found: set[datetime | None] = set()
    # Through the owner's index: SQLite would read every IDLE run through the status index
    # for each chunk (db/plan_hints.py); a calendar edit announces thousands of tasks.
    status = unindexed(session, Run.__table__.c.status)  # type: ignore[attr-defined]
    for chunk in _chunks(tasks):
        idle = select(Run.trigger_time).where(
            col(Run.task_id).in_(chunk), status == RunStatus.IDLE.value
        )
        found.update(session.exec(idle).all())
    group_status = unindexed(session, GroupRun.__table__.c.status)  # type: ignore[attr-defined]
    for chunk in _chunks(groups):
        idle_groups = select(GroupRun.trigger_time).where(
            col(GroupRun.group_id).in_(chunk), group_status == GroupRunStatus.IDLE.value
        )
        found.update(session.exec(idle_groups).all())
    return {at for at in found if at is not None}


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]
