"""Personal API tokens: named, expiring, revocable; stored as SHA-256 digests and shown once.
Everyone manages their own; an admin lists and revokes those of the users they manage."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.tables import ApiToken, User
from app.db.users import issue_token
from app.domain.roles import Role, role_at_least
from app.errors import Forbidden, NotFound
from app.models.security_schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenPublic
from app.security import may_manage
from app.services.actor import Actor
from app.services.scope import InstanceScope


def _public(row: ApiToken, username: str) -> ApiTokenPublic:
    return ApiTokenPublic(
        id=row.id or 0,
        username=username,
        name=row.name,
        kind=row.kind,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _snapshot(row: ApiToken, username: str) -> dict[str, Any]:
    return _public(row, username).model_dump(mode="json", exclude={"last_used_at"})


def _may_touch(actor: User, scope: InstanceScope, owner: User) -> bool:
    if owner.id == actor.id:
        return True
    return (
        role_at_least(actor.role, Role.ADMIN)
        and scope.covers(owner.instances)
        and may_manage(actor.role, owner.role)
    )


def list_tokens(session: Session, *, actor: Actor, all_users: bool = False) -> list[ApiTokenPublic]:
    """Your tokens; with `all_users` (admins) those of every user you manage too."""
    if all_users and not actor.at_least(Role.ADMIN):
        raise Forbidden("all: role admin or higher required")
    stmt = select(ApiToken, User).join(User, col(User.id) == col(ApiToken.user_id))
    if not all_users:
        stmt = stmt.where(col(ApiToken.user_id) == actor.user.id)
    rows = session.exec(stmt.order_by(col(ApiToken.id))).all()
    return [
        _public(t, owner.username)
        for t, owner in rows
        if _may_touch(actor.user, actor.scope, owner)
    ]


def create_token(
    engine: Engine, *, actor: Actor, now: datetime, body: ApiTokenCreate
) -> ApiTokenCreated:
    expires = now + timedelta(days=body.expires_in_days)
    with session_scope(engine) as session:
        row, token = issue_token(session, actor.user, name=body.name, now=now, expires_at=expires)
        actor.audit(
            session,
            at=now,
            action="token.create",
            target_kind="token",
            target_id=row.id,
            after=_snapshot(row, actor.username),
        )
        return ApiTokenCreated(id=row.id or 0, name=row.name, token=token, expires_at=expires)


def _owned(
    session: Session, token_id: int, user: User, scope: InstanceScope
) -> tuple[ApiToken, User]:
    row = session.get(ApiToken, token_id)
    owner = session.get(User, row.user_id) if row is not None else None
    if row is None or owner is None or not _may_touch(user, scope, owner):
        raise NotFound("token", token_id)
    return row, owner


def revoke_token(engine: Engine, *, actor: Actor, now: datetime, token_id: int) -> None:
    with session_scope(engine) as session:
        row, owner = _owned(session, token_id, actor.user, actor.scope)
        if row.revoked_at is None:
            before = _snapshot(row, owner.username)
            row.revoked_at = now
            actor.audit(
                session,
                at=now,
                action="token.revoke",
                target_kind="token",
                target_id=token_id,
                before=before,
                after=_snapshot(row, owner.username),
            )
