"""Frozen business dates of a task or a group: that date's runs skip when they fire.

Anyone who sees the task or group reads its freezes; an operator adds or removes one. The
fire loop reads the freezes when a run is due, so a change needs no re-planning."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from app.db.engine import session_scope
from app.db.freezes import add_freeze, list_freezes, remove_freeze
from app.domain.roles import Role
from app.models.schemas import FreezeCreate, FreezePublic
from app.services.actor import Actor
from app.services.groups import visible_group
from app.services.schedule_views import freeze_public
from app.services.tasks import visible_task


def task_freezes(session: Session, *, actor: Actor, tid: int) -> list[FreezePublic]:
    visible_task(session, actor.scope, tid)
    return [freeze_public(r) for r in list_freezes(session, task_id=tid)]


def group_freezes(session: Session, *, actor: Actor, gid: int) -> list[FreezePublic]:
    visible_group(session, actor.scope, gid)
    return [freeze_public(r) for r in list_freezes(session, group_id=gid)]


def freeze_task(
    engine: Engine, *, actor: Actor, now: datetime, tid: int, body: FreezeCreate
) -> FreezePublic:
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        task = visible_task(session, actor.scope, tid)
        row = add_freeze(
            session, body.date, reason=body.reason, who=actor.username, now=now, task_id=tid
        )
        public = freeze_public(row)
        actor.audit(
            session,
            at=now,
            action="task.freeze",
            target_kind="task",
            target_id=tid,
            after=public,
            instance=task.instance,
        )
    return public


def unfreeze_task(engine: Engine, *, actor: Actor, now: datetime, tid: int, day: date) -> None:
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        task = visible_task(session, actor.scope, tid)
        row = remove_freeze(session, day, task_id=tid)
        actor.audit(
            session,
            at=now,
            action="task.unfreeze",
            target_kind="task",
            target_id=tid,
            before=freeze_public(row),
            instance=task.instance,
        )


def freeze_group(
    engine: Engine, *, actor: Actor, now: datetime, gid: int, body: FreezeCreate
) -> FreezePublic:
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        group = visible_group(session, actor.scope, gid)
        row = add_freeze(
            session, body.date, reason=body.reason, who=actor.username, now=now, group_id=gid
        )
        public = freeze_public(row)
        actor.audit(
            session,
            at=now,
            action="group.freeze",
            target_kind="group",
            target_id=gid,
            after=public,
            instance=group.instance,
        )
    return public


def unfreeze_group(engine: Engine, *, actor: Actor, now: datetime, gid: int, day: date) -> None:
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        group = visible_group(session, actor.scope, gid)
        row = remove_freeze(session, day, group_id=gid)
        actor.audit(
            session,
            at=now,
            action="group.unfreeze",
            target_kind="group",
            target_id=gid,
            before=freeze_public(row),
            instance=group.instance,
        )
