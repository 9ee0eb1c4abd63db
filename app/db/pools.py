"""Pool and quota rows, and the reference checks tasks and groups make against pools."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.db.pool_tables import InstanceQuota, Pool
from app.db.tables import Run, Task, TaskGroup
from app.domain.states import ON_AGENT, RunStatus
from app.errors import InvalidInput, NotFound

# Runs that hold or wait for what their spec asks.
LIVE = (*ON_AGENT, RunStatus.ACTIVE, RunStatus.IDLE, RunStatus.PENDING_APPROVAL)


def find_pool(session: Session, instance: str, name: str) -> Pool | None:
    stmt = select(Pool).where(Pool.instance == instance, Pool.name == name)
    return session.exec(stmt).first()


def get_pool(session: Session, instance: str, name: str) -> Pool:
    pool = find_pool(session, instance, name)
    if pool is None:
        raise NotFound("pool", name)
    return pool


def check_pool(
    session: Session, *, instance: str, pool: str | None, slots: int | None, field: str = "pool"
) -> None:
    """The pool exists in `instance` (a task only draws from its own instance's pools) and
    has at least `slots` slots."""
    if not pool:
        return
    row = find_pool(session, instance, pool)
    if row is None:
        raise InvalidInput(field, f"no pool {pool!r} in instance {instance!r}")
    if slots is not None and slots > row.slots:
        raise InvalidInput("pool_slots", f"{slots} is more than pool {pool!r} has ({row.slots})")


def lock_dicts(locks: Any) -> list[dict[str, str]]:
    """Locks as stored: `[{"name", "mode"}]`, whether given as models or dicts."""
    out = []
    for lock in locks or []:
        data = lock if isinstance(lock, dict) else lock.model_dump()
        out.append({"name": str(data["name"]), "mode": str(data["mode"])})
    return out


def check_task_admission(session: Session, task: Task) -> None:
    """After a task's fields are set: its pool (or its group's, with the task's slots) fits."""
    if task.pool:
        check_pool(session, instance=task.instance, pool=task.pool, slots=task.pool_slots)
        return
    group = session.get(TaskGroup, task.group_id) if task.group_id else None
    if group is not None and group.pool and task.pool_slots is not None:
        check_pool(session, instance=task.instance, pool=group.pool, slots=task.pool_slots)


def check_group_admission(session: Session, group: TaskGroup) -> None:
    check_pool(session, instance=group.instance, pool=group.pool, slots=group.pool_slots)


def pool_users(session: Session, pool: Pool) -> list[str]:
    """What still draws from the pool: tasks, groups, runs not ended (named, for a 409)."""
    users = [
        f"task {name}"
        for name in session.exec(
            select(Task.name).where(Task.instance == pool.instance, Task.pool == pool.name)
        ).all()
    ]
    users += [
        f"group {name}"
        for name in session.exec(
            select(TaskGroup.name).where(
                TaskGroup.instance == pool.instance, TaskGroup.pool == pool.name
            )
        ).all()
    ]
    live = select(Run.id).where(
        Run.instance == pool.instance,
        col(Run.status).in_(LIVE),
        col(Run.pool) == pool.name,
    )
    users += [f"run {rid}" for rid in session.exec(live).all()]
    return users


def get_quota(session: Session, instance: str) -> InstanceQuota | None:
    return session.get(InstanceQuota, instance)


def pool_placement(session: Session, instance: str, name: str | None, default: str) -> str:
    """The placement policy for a run of pool `name` ("spread" or "pack"): the pool's own,
    else `default` (the server's `placement_policy` setting)."""
    pool = find_pool(session, instance, name) if name else None
    return pool.placement if pool is not None and pool.placement else default
