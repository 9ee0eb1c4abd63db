"""A group's runs as teams look at them: the grid (group runs × tasks, newest first) and the
group-run history, both paged by keyset on the group run id (no OFFSET: page 1,000 costs
what page 1 does). Every page piece is one bounded query."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db.tables import GroupRun, Run, Task
from app.domain.group_run_states import GroupRunStatus
from app.errors import InvalidInput
from app.models.group_schemas import GroupRunPublic
from app.services.actor import Actor
from app.services.groups import group_run_public, visible_group

GRID_COLUMNS = 25
HISTORY_ROWS = 20
MAX_PAGE = 200


@dataclass(frozen=True)
class GridCell:
    run: int
    status: str


@dataclass(frozen=True, kw_only=True)
class GroupRunsPage:
    """Group runs newest first; `older` / `newer`: the keys of the next pages (None: none)."""

    gid: int
    name: str
    instance: str
    group_runs: list[GroupRunPublic]
    older: int | None = None
    newer: int | None = None


@dataclass(frozen=True, kw_only=True)
class Grid(GroupRunsPage):
    tasks: list[tuple[int, str]] = field(default_factory=list)  # (tid, name), rows
    cells: dict[tuple[int, int], GridCell] = field(default_factory=dict)  # (group run, tid)


def group_runs_page(
    session: Session,
    *,
    actor: Actor,
    gid: int,
    before: int | None = None,
    after: int | None = None,
    limit: int = HISTORY_ROWS,
) -> GroupRunsPage:
    """The group's started group runs (planned ones have no runs yet) before the id
    `before` (older) or after the id `after` (newer), newest first."""
    if before is not None and after is not None:
        raise InvalidInput("after", "give either before or after, not both")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
    group = visible_group(session, actor.scope, gid)
    stmt = select(GroupRun).where(
        GroupRun.group_id == gid,
        GroupRun.status != GroupRunStatus.IDLE,
        actor.scope.condition(GroupRun.instance),
    )
    if after is not None:
        stmt = stmt.where(col(GroupRun.id) > after).order_by(col(GroupRun.id))
    else:
        if before is not None:
            stmt = stmt.where(col(GroupRun.id) < before)
        stmt = stmt.order_by(col(GroupRun.id).desc())
    rows = list(session.exec(stmt.limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if after is not None:
        rows.reverse()
    ids = [r.id or 0 for r in rows]
    older: int | None
    newer: int | None
    if after is not None:  # coming back from older pages: the key we came from is older
        older, newer = (ids[-1] if ids else after), (ids[0] if ids and more else None)
    else:
        older, newer = (ids[-1] if ids and more else None), (ids[0] if ids and before else None)
    return GroupRunsPage(
        gid=gid,
        name=group.name,
        instance=group.instance,
        group_runs=[group_run_public(r) for r in rows],
        older=older,
        newer=newer,
    )


def group_grid(
    session: Session,
    *,
    actor: Actor,
    gid: int,
    before: int | None = None,
    after: int | None = None,
    limit: int = GRID_COLUMNS,
) -> Grid:
    """One page of group runs as columns, the group's tasks as rows (with any task that
    has a run on the page and has left the group since), each cell the task's latest run."""
    page = group_runs_page(session, actor=actor, gid=gid, before=before, after=after, limit=limit)
    ids = [g.id for g in page.group_runs]
    cells: dict[tuple[int, int], GridCell] = {}
    if ids:
        stmt = (
            select(col(Run.group_run_id), col(Run.task_id), col(Run.id), col(Run.status))
            .where(col(Run.group_run_id).in_(ids), actor.scope.condition(Run.instance))
            .order_by(col(Run.id))
        )
        for group_run, tid, run_id, status in session.exec(stmt).all():
            if group_run is not None and tid is not None:
                cells[(group_run, tid)] = GridCell(run_id or 0, str(status))
    task_ids = {tid for _, tid in cells}
    members = select(Task.id, Task.name).where(
        (col(Task.group_id) == gid) | col(Task.id).in_(sorted(task_ids))
    )
    tasks = [(tid or 0, str(name)) for tid, name in session.exec(members.order_by(col(Task.id)))]
    return Grid(**vars(page), tasks=tasks, cells=cells)


def task_run_counts(
    session: Session, *, actor: Actor, group_run_ids: list[int]
) -> dict[int, dict[str, int]]:
    """Group run id -> its task runs counted by status (the history's summary column)."""
    if not group_run_ids:
        return {}
    stmt = (
        select(Run.group_run_id, Run.status, func.count())
        .where(col(Run.group_run_id).in_(group_run_ids), actor.scope.condition(Run.instance))
        .group_by(col(Run.group_run_id), col(Run.status))
    )
    found: dict[int, dict[str, int]] = {}
    for group_run, status, count in session.exec(stmt).all():
        found.setdefault(group_run or 0, {})[str(status)] = int(count)
    return found
