"""Frozen business dates of a task or a group: that date's runs skip when they fire.

Anyone who sees the task or group reads its freezes; an operator adds or removes one. The
fire loop reads the freezes when a run is due, so a change needs no re-planning."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

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

Kind = Literal["task", "group"]


def task_freezes(session: Session, *, actor: Actor, tid: int) -> list[FreezePublic]:
    visible_task(session, actor.scope, tid)
    return [freeze_public(r) for r in list_freezes(session, task_id=tid)]


def group_freezes(session: Session, *, actor: Actor, gid: int) -> list[FreezePublic]:
    visible_group(session, actor.scope, gid)
    return [freeze_public(r) for r in list_freezes(session, group_id=gid)]


def freeze_task(
    engine: Engine, *, actor: Actor, now: datetime, tid: int, body: FreezeCreate
) -> FreezePublic:
    return _freeze(engine, actor, now, "task", tid, body)


def unfreeze_task(engine: Engine, *, actor: Actor, now: datetime, tid: int, day: date) -> None:
    _unfreeze(engine, actor, now, "task", tid, day)


def freeze_group(
    engine: Engine, *, actor: Actor, now: datetime, gid: int, body: FreezeCreate
) -> FreezePublic:
    return _freeze(engine, actor, now, "group", gid, body)


def unfreeze_group(engine: Engine, *, actor: Actor, now: datetime, gid: int, day: date) -> None:
    _unfreeze(engine, actor, now, "group", gid, day)


def _owner(session: Session, actor: Actor, kind: Kind, key: int) -> tuple[str, dict[str, int]]:
    """The instance of the task or group (visible to the actor), and its freeze column."""
    if kind == "task":
        return visible_task(session, actor.scope, key).instance, {"task_id": key}
    return visible_group(session, actor.scope, key).instance, {"group_id": key}


def _freeze(
    engine: Engine, actor: Actor, now: datetime, kind: Kind, key: int, body: FreezeCreate
) -> FreezePublic:
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        instance, owner = _owner(session, actor, kind, key)
        row = add_freeze(
            session, body.date, reason=body.reason, who=actor.username, now=now, **owner
        )
        public = freeze_public(row)
        actor.audit(
            session,
            at=now,
            action=f"{kind}.freeze",
            target_kind=kind,
            target_id=key,
            after=public,
            instance=instance,
        )
    return public


def _unfreeze(engine: Engine, actor: Actor, now: datetime, kind: Kind, key: int, day: date) -> None:
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        instance, owner = _owner(session, actor, kind, key)
        row = remove_freeze(session, day, **owner)
        actor.audit(
            session,
            at=now,
            action=f"{kind}.unfreeze",
            target_kind=kind,
            target_id=key,
            before=freeze_public(row),
            instance=instance,
        )
