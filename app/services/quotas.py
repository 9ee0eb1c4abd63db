"""Per-instance quotas: how many runs, cores and GPUs one instance's runs may hold at once.
Everyone reads the quotas of their instances; only an admin or superadmin granted every
instance (`*`) sets them (an instance's own admin raising its quota would defeat its purpose)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from app.db.engine import session_scope
from app.db.pool_tables import InstanceQuota
from app.db.tables import Run
from app.domain.admission import Usage
from app.domain.roles import Role
from app.domain.states import RunStatus
from app.errors import Forbidden, NotFound
from app.models.admission_schemas import QuotaBody, QuotaPublic
from app.scheduler.admission import load_gates
from app.services.actor import Actor


def _require_quota_writer(actor: Actor) -> None:
    actor.require(Role.ADMIN)
    if not actor.scope.everything:
        raise Forbidden("quotas: only an admin (or superadmin) of every instance sets them")


def _public(
    session: Session, row: InstanceQuota, usage: dict[str, Usage] | None = None
) -> QuotaPublic:
    use = (usage if usage is not None else load_gates(session).usage).get(row.instance)
    waiting = session.exec(
        select(func.count())
        .select_from(Run)
        .where(
            Run.instance == row.instance,
            Run.status == RunStatus.ACTIVE,
            col(Run.reason).startswith(f"instance {row.instance} at its quota"),
        )
    ).one()
    return QuotaPublic(
        instance=row.instance,
        max_runs=row.max_runs,
        max_cores=row.max_cores,
        max_gpus=row.max_gpus,
        runs=use.runs if use else 0,
        cores=use.cores if use else 0.0,
        gpus=use.gpus if use else 0,
        waiting=int(waiting),
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def list_quotas(session: Session, *, actor: Actor) -> list[QuotaPublic]:
    stmt = select(InstanceQuota).order_by(col(InstanceQuota.instance))
    rows = session.exec(actor.scope.filter(stmt, InstanceQuota.instance)).all()
    usage = load_gates(session).usage if rows else {}  # one read for every instance
    return [_public(session, r, usage) for r in rows]


def read_quota(session: Session, *, actor: Actor, instance: str) -> QuotaPublic:
    actor.scope.check(instance, "quota", instance)
    row = session.get(InstanceQuota, instance)
    if row is None:
        raise NotFound("quota", instance)
    return _public(session, row)


def set_quota(
    engine: Engine, *, actor: Actor, now: datetime, instance: str, body: QuotaBody
) -> QuotaPublic:
    """Create or replace the instance's quota (every limit as given; null: none)."""
    _require_quota_writer(actor)
    with session_scope(engine) as session:
        row = session.get(InstanceQuota, instance)
        before = _public(session, row) if row is not None else None
        row = row or InstanceQuota(instance=instance)
        row.max_runs, row.max_cores, row.max_gpus = body.max_runs, body.max_cores, body.max_gpus
        row.updated_by, row.updated_at = actor.username, now
        session.add(row)
        session.flush()
        public = _public(session, row)
        actor.audit(
            session,
            at=now,
            action="quota.set",
            target_kind="quota",
            target_id=instance,
            before=before,
            after=public,
            instance=instance,
        )
    return public


def delete_quota(engine: Engine, *, actor: Actor, now: datetime, instance: str) -> None:
    _require_quota_writer(actor)
    with session_scope(engine) as session:
        row = session.get(InstanceQuota, instance)
        if row is None:
            raise NotFound("quota", instance)
        actor.audit(
            session,
            at=now,
            action="quota.delete",
            target_kind="quota",
            target_id=instance,
            before=_public(session, row),
            instance=instance,
        )
        session.delete(row)
