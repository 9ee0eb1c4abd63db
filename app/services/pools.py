"""Pools: list and read them in the caller's scope with their occupancy and queue; admins of
the pool's instance create, change and delete them (a pool still in use is not deleted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from app.db.engine import session_scope
from app.db.pool_tables import Pool
from app.db.pools import find_pool, pool_users
from app.db.tables import Run, Task, TaskGroup
from app.domain.roles import Role
from app.domain.states import ON_AGENT, RunStatus
from app.errors import Conflict, InvalidInput, NotFound
from app.models.admission_schemas import PoolCreate, PoolPublic, PoolUpdate, QueuedRun
from app.services.actor import Actor

QUEUE_SHOWN = 100
Key = tuple[str, str]
# Per (instance, pool): the runs holding slots (id, slots), and how many wait.
Occupancy = tuple[dict[Key, list[tuple[int, int]]], dict[Key, int]]


def _in_pool(pool: Pool) -> Any:
    return (col(Run.instance) == pool.instance) & (col(Run.pool) == pool.name)


def _occupancy(session: Session, where: Any) -> Occupancy:
    pool, slots = col(Run.pool), col(Run.pool_slots)
    held: dict[Key, list[tuple[int, int]]] = {}
    for run_id, instance, name, count in session.execute(
        select(Run.id, Run.instance, pool, slots).where(where, col(Run.status).in_(ON_AGENT))
    ).all():
        held.setdefault((instance, name), []).append((int(run_id), int(count or 1)))
    waiting: dict[Key, int] = {
        (instance, name): int(count)
        for instance, name, count in session.execute(
            select(Run.instance, pool, func.count())
            .where(where, Run.status == RunStatus.ACTIVE)
            .group_by(Run.instance, pool)
        ).all()
    }
    return held, waiting


def pool_public(
    session: Session,
    pool: Pool,
    *,
    queue: bool = False,
    occupancy: Occupancy | None = None,
) -> PoolPublic:
    held, waiting = occupancy or _occupancy(session, _in_pool(pool))
    key = (pool.instance, pool.name)
    holders = held.get(key, [])
    return PoolPublic(
        name=pool.name,
        instance=pool.instance,
        slots=pool.slots,
        description=pool.description,
        placement=pool.placement,
        used=sum(slots for _, slots in holders),
        holders=sorted(run_id for run_id, _ in holders),
        waiting=waiting.get(key, 0),
        queued=pool_queue(session, pool) if queue else [],
        created_at=pool.created_at,
        updated_at=pool.updated_at,
    )


def pool_queue(session: Session, pool: Pool, limit: int = QUEUE_SHOWN) -> list[QueuedRun]:
    """ACTIVE runs drawing from the pool in dispatch order (priority, then oldest)."""
    rows = session.exec(
        select(Run)
        .where(_in_pool(pool), Run.status == RunStatus.ACTIVE)
        .order_by(col(Run.queue_rank), col(Run.trigger_time), col(Run.id))
        .limit(limit)
    ).all()
    return [
        QueuedRun(
            position=i,
            run=run.id or 0,
            task_name=run.spec.get("task_name"),
            priority=run.priority,
            slots=run.pool_slots or 1,
            trigger_time=run.trigger_time,
            reason=run.reason,
        )
        for i, run in enumerate(rows, start=1)
    ]


def visible_pool(session: Session, actor: Actor, name: str, instance: str | None) -> Pool:
    """The pool `name` in `instance`; without an instance, the only one by that name the
    caller sees."""
    if instance is not None:
        actor.scope.check(instance, "pool", name)
        pool = find_pool(session, instance, name)
        if pool is None:
            raise NotFound("pool", name)
        return pool
    rows = session.exec(actor.scope.filter(select(Pool).where(Pool.name == name), Pool.instance))
    found = list(rows.all())
    if not found:
        raise NotFound("pool", name)
    if len(found) > 1:
        places = ", ".join(sorted(p.instance for p in found))
        raise InvalidInput("instance", f"pool {name!r} exists in instances {places}: name one")
    return found[0]


def list_pools(session: Session, *, actor: Actor, instance: str | None = None) -> list[PoolPublic]:
    stmt = select(Pool).order_by(col(Pool.instance), col(Pool.name))
    if instance is not None:
        stmt = stmt.where(Pool.instance == instance)
    rows = session.exec(actor.scope.filter(stmt, Pool.instance)).all()
    if not rows:
        return []
    drawing = col(Run.pool).is_not(None)  # one read for every pool listed
    occupancy = _occupancy(session, drawing)
    return [pool_public(session, p, occupancy=occupancy) for p in rows]


def read_pool(
    session: Session, *, actor: Actor, name: str, instance: str | None = None
) -> PoolPublic:
    return pool_public(session, visible_pool(session, actor, name, instance), queue=True)


def create_pool(engine: Engine, *, actor: Actor, now: datetime, body: PoolCreate) -> PoolPublic:
    actor.require(Role.ADMIN)
    actor.scope.require(body.instance)
    with session_scope(engine) as session:
        if find_pool(session, body.instance, body.name) is not None:
            raise Conflict(
                f"name: a pool named {body.name!r} already exists in instance {body.instance!r}"
            )
        pool = Pool(**body.model_dump(), created_at=now, updated_at=now)
        session.add(pool)
        session.flush()
        public = pool_public(session, pool)
        actor.audit(
            session,
            at=now,
            action="pool.create",
            target_kind="pool",
            target_id=pool.name,
            after=public,
            instance=pool.instance,
        )
    return public


def update_pool(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    name: str,
    body: PoolUpdate,
    instance: str | None = None,
) -> PoolPublic:
    actor.require(Role.ADMIN)
    with session_scope(engine) as session:
        pool = visible_pool(session, actor, name, instance)
        before = pool_public(session, pool)
        changed = {k: getattr(body, k) for k in body.model_fields_set}
        for required in ("slots", "description"):
            if required in changed and changed[required] is None:
                raise InvalidInput(required, "must not be null")
        if "slots" in changed:
            _check_slots(session, pool, int(changed["slots"]))
        for key, value in changed.items():
            setattr(pool, key, value)
        pool.updated_at = now
        session.add(pool)
        session.flush()
        public = pool_public(session, pool)
        actor.audit(
            session,
            at=now,
            action="pool.update",
            target_kind="pool",
            target_id=pool.name,
            before=before,
            after=public,
            instance=pool.instance,
        )
    return public


def _check_slots(session: Session, pool: Pool, slots: int) -> None:
    """A pool does not shrink below what a task or group of it asks for one run."""
    asks = [
        *session.exec(
            select(Task.pool_slots).where(Task.instance == pool.instance, Task.pool == pool.name)
        ).all(),
        *session.exec(
            select(TaskGroup.pool_slots).where(
                TaskGroup.instance == pool.instance, TaskGroup.pool == pool.name
            )
        ).all(),
    ]
    most = max((a for a in asks if a is not None), default=0)
    if slots < most:
        raise InvalidInput("slots", f"a task or group of this pool asks {most} slots per run")


def delete_pool(
    engine: Engine, *, actor: Actor, now: datetime, name: str, instance: str | None = None
) -> None:
    actor.require(Role.ADMIN)
    with session_scope(engine) as session:
        pool = visible_pool(session, actor, name, instance)
        users = pool_users(session, pool)
        if users:
            shown = ", ".join(users[:10]) + (f" +{len(users) - 10} more" if len(users) > 10 else "")
            raise Conflict(f"pool {pool.name!r} is in use by {shown}")
        actor.audit(
            session,
            at=now,
            action="pool.delete",
            target_kind="pool",
            target_id=pool.name,
            before=pool_public(session, pool),
            instance=pool.instance,
        )
        session.delete(pool)
