"""What the run pages read besides the REST shapes, in the caller's scope: runs by id (a
live table's patch), the group of each task, the group of one run's task, whether any of
some changed runs concerns the caller, and whether a log stream's last line is still open."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlmodel import Session, col, select

from app.db.tables import Run, Task, TaskGroup
from app.models.schemas import RunPublic
from app.services.actor import Actor
from app.services.logtail import bytes_after
from app.services.runs import visible_run
from app.services.runs_view import run_public
from app.services.scope import InstanceScope


def runs_by_ids(session: Session, *, actor: Actor, ids: Iterable[int]) -> list[RunPublic]:
    """The runs among `ids` the caller may see, newest first."""
    wanted = sorted(set(ids), reverse=True)
    if not wanted:
        return []
    rows = session.exec(
        select(Run)
        .where(col(Run.id).in_(wanted), actor.scope.condition(Run.instance))
        .order_by(col(Run.id).desc())
    ).all()
    return [run_public(r) for r in rows]


def group_names(session: Session, *, actor: Actor, task_ids: Collection[int]) -> dict[int, str]:
    """The group name of each of `task_ids` that is in a group."""
    if not task_ids:
        return {}
    stmt = (
        select(Task.id, TaskGroup.name)
        .join(TaskGroup, col(Task.group_id) == col(TaskGroup.id))
        .where(col(Task.id).in_(sorted(task_ids)), actor.scope.condition(Task.instance))
    )
    return {int(tid): str(name) for tid, name in session.exec(stmt).all() if tid is not None}


def public_run(session: Session, *, actor: Actor, run_id: int) -> RunPublic:
    """The run as lists show it (no timeline); NotFound outside the caller's scope."""
    return run_public(visible_run(session, actor.scope, run_id))


def any_visible(session: Session, scope: InstanceScope, run_ids: Collection[int]) -> bool:
    """Whether one of `run_ids` lies in `scope`."""
    found = session.exec(
        select(Run.id)
        .where(col(Run.id).in_(sorted(run_ids)), scope.condition(Run.instance))
        .limit(1)
    ).first()
    return found is not None


def open_ends(
    session: Session, *, actor: Actor, run_id: int, attempt: int, sizes: dict[str, int]
) -> dict[str, bool]:
    """Whether each stream's last line is still open (no newline after it yet)."""
    visible_run(session, actor.scope, run_id)
    result: dict[str, bool] = {}
    for stream, size in sizes.items():
        last = (
            bytes_after(
                session, run_id=run_id, attempt=attempt, stream=stream, offset=size - 1, limit=1
            )[:1]
            if size
            else b""
        )
        result[stream] = bool(last) and last != b"\n"
    return result
