"""Group runs in the caller's scope: a page of them, one with its task runs, and
terminating one (its runs stopped by one kill decision, the agents' part returned)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.tables import GroupRun, Run
from app.domain.roles import Role
from app.errors import NotFound
from app.models.group_schemas import GroupRunDetail, GroupRunPublic
from app.scheduler.operator import terminate_group_run
from app.services.actor import Actor
from app.services.groups import group_run_public
from app.services.runs_view import run_public
from app.services.scope import InstanceScope


def visible_group_run(session: Session, scope: InstanceScope, group_run_id: int) -> GroupRun:
    row = session.get(GroupRun, group_run_id)
    if row is None or not scope.allows(row.instance):
        raise NotFound("group run", group_run_id)
    return row


def list_group_runs(
    session: Session,
    *,
    actor: Actor,
    group: int | None = None,
    page: int = 1,
    page_size: int = 50,
) -> list[GroupRunPublic]:
    stmt = select(GroupRun).order_by(col(GroupRun.id).desc())
    if group is not None:
        stmt = stmt.where(GroupRun.group_id == group)
    stmt = actor.scope.filter(stmt, GroupRun.instance)
    rows = session.exec(stmt.offset((page - 1) * page_size).limit(page_size)).all()
    return [group_run_public(r) for r in rows]


def read_group_run(session: Session, *, actor: Actor, group_run_id: int) -> GroupRunDetail:
    group_run = visible_group_run(session, actor.scope, group_run_id)
    runs = session.exec(
        select(Run).where(Run.group_run_id == group_run_id).order_by(col(Run.id))
    ).all()
    return GroupRunDetail(
        **group_run_public(group_run).model_dump(), runs=[run_public(r) for r in runs]
    )


def terminate(
    engine: Engine, *, actor: Actor, now: datetime, group_run_id: int
) -> tuple[GroupRunPublic, list[tuple[str, int, int]]]:
    """The group run ended TERMINATED; returns it and the (agent, run, attempt) kills the
    caller sends after the commit."""
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        before = group_run_public(visible_group_run(session, actor.scope, group_run_id))
    with session_scope(engine) as session:
        to_kill = terminate_group_run(session, group_run_id, who=actor.username, now=now)
        row = session.get(GroupRun, group_run_id)
        assert row is not None
        actor.audit(
            session,
            at=now,
            action="group_run.terminate",
            target_kind="group_run",
            target_id=group_run_id,
            before=before,
            after=group_run_public(row),
            instance=row.instance,
        )
        return group_run_public(row), to_kill
