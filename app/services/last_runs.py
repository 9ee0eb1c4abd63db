"""The latest run that has happened of each of some tasks (the task list's "Last run"
column): one query for a page of tasks, through the (task_id, id) index."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from app.db.tables import Run
from app.domain.states import RunStatus
from app.services.actor import Actor

MAX_TASKS = 200


@dataclass(frozen=True)
class LastRun:
    run: int
    status: str
    finished_at: datetime | None


def last_runs(
    session: Session, *, actor: Actor, task_ids: Collection[int], now: datetime
) -> dict[int, LastRun]:
    """Task id -> its newest run that is not planned (IDLE, or a skip recorded ahead of its
    time); tasks without one are left out."""
    wanted = sorted(task_ids)[:MAX_TASKS]
    if not wanted:
        return {}
    newest = (
        select(func.max(Run.id))
        .where(
            col(Run.task_id).in_(wanted),
            Run.status != RunStatus.IDLE,
            or_(col(Run.trigger_time).is_(None), col(Run.trigger_time) <= now),
            actor.scope.condition(Run.instance),
        )
        .group_by(col(Run.task_id))
    )
    rows = session.exec(
        select(col(Run.task_id), col(Run.id), col(Run.status), col(Run.finished_at)).where(
            col(Run.id).in_(newest)
        )
    ).all()
    return {
        tid: LastRun(run_id or 0, str(status), finished)
        for tid, run_id, status, finished in rows
        if tid is not None
    }
