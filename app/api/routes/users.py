"""/users: accounts, for admins. An admin manages operators, users and viewers; only a
superadmin manages admins and superadmins. Nobody grants an instance they do not hold, and
nobody changes their own role, disables or deletes themselves.

A change of role or instances, a disable and a password reset end every session and token
of that user at once (their rows are revoked); besides, every request reads the user's
current role, instances and disabled flag, so no token ever carries stale rights.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Response
from sqlmodel import Session, col, select

from app.api.deps import AdminDep, AuditDep, ContextDep, ScopeDep
from app.api.routes.auth import user_public
from app.db.engine import session_scope
from app.db.tables import User
from app.db.users import create_user, delete_user, get_user, revoke_tokens, user_snapshot
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.models.security_schemas import PasswordReset, UserCreate, UserPublic, UserUpdate
from app.security import check_password_strength, hash_password, may_grant, may_manage
from app.services.scope import InstanceScope

router = APIRouter(prefix="/users", tags=["users"])


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("timezone", f"unknown timezone {name!r}") from None


def _check_grant(actor: User, role: str | None, instances: list[str] | None) -> None:
    if role is not None and not may_manage(actor.role, role):
        raise Forbidden(f"role: a {actor.role} cannot give the role {role}")
    if instances is not None and not may_grant(actor.instances, instances):
        raise Forbidden("instances: you cannot grant instances you do not hold")


def _visible(session: Session, scope: InstanceScope, username: str, *, lock: bool = False) -> User:
    """A user whose instances are all granted to the caller; any other does not exist."""
    target = get_user(session, username, lock=lock)
    if not scope.covers(target.instances):
        raise NotFound("user", username)
    return target


def _target(session: Session, actor: User, scope: InstanceScope, username: str) -> User:
    """A user the actor may see and manage."""
    target = _visible(session, scope, username, lock=True)
    if not may_manage(actor.role, target.role):
        raise Forbidden(f"a {actor.role} cannot manage a {target.role}")
    return target


@router.get("", response_model=list[UserPublic])
def list_users(context: ContextDep, user: AdminDep, scope: ScopeDep) -> list[UserPublic]:
    with session_scope(context.engine) as session:
        rows = session.exec(select(User).order_by(col(User.username))).all()
        return [user_public(u) for u in rows if scope.covers(u.instances)]


@router.post("", response_model=UserPublic, status_code=201)
def create(body: UserCreate, context: ContextDep, actor: AdminDep, audit: AuditDep) -> UserPublic:
    _check_grant(actor, body.role.value, body.instances)
    _check_timezone(body.timezone)
    check_password_strength(body.password, body.username)
    password_hash = hash_password(body.password)
    with session_scope(context.engine) as session:
        row = create_user(
            session,
            username=body.username,
            password_hash=password_hash,
            role=body.role.value,
            instances=sorted(set(body.instances)),
            timezone=body.timezone,
            must_change_password=body.must_change_password,
            now=context.clock.now(),
        )
        audit(
            session,
            action="user.create",
            target_kind="user",
            target_id=row.username,
            after=user_snapshot(row),
        )
        return user_public(row)


@router.get("/{username}", response_model=UserPublic)
def read(username: str, context: ContextDep, user: AdminDep, scope: ScopeDep) -> UserPublic:
    with session_scope(context.engine) as session:
        return user_public(_visible(session, scope, username))


@router.patch("/{username}", response_model=UserPublic)
def update(
    username: str,
    body: UserUpdate,
    context: ContextDep,
    actor: AdminDep,
    scope: ScopeDep,
    audit: AuditDep,
) -> UserPublic:
    if body.timezone is not None:
        _check_timezone(body.timezone)
    _check_grant(actor, body.role.value if body.role else None, body.instances)
    now = context.clock.now()
    with session_scope(context.engine) as session:
        target = _target(session, actor, scope, username)
        if target.id == actor.id and (
            body.role is not None or body.disabled or body.instances is not None
        ):
            raise Conflict("you cannot change your own role or instances, nor disable yourself")
        before = user_snapshot(target)
        if body.role is not None:
            target.role = body.role.value
        if body.instances is not None:
            target.instances = sorted(set(body.instances))
        if body.timezone is not None:
            target.timezone = body.timezone
        if body.disabled is not None:
            target.disabled = body.disabled
        if body.unlock:
            target.failed_logins, target.locked_until = 0, None
        after = user_snapshot(target)
        if any(before[k] != after[k] for k in ("role", "instances")) or (
            target.disabled and not before["disabled"]
        ):
            revoke_tokens(session, target.id or 0, now=now)
        audit(
            session,
            action="user.update",
            target_kind="user",
            target_id=username,
            before=before,
            after=after,
            detail="unlocked" if body.unlock else "",
        )
        return user_public(target)


@router.delete("/{username}", status_code=204)
def remove(
    username: str, context: ContextDep, actor: AdminDep, scope: ScopeDep, audit: AuditDep
) -> Response:
    with session_scope(context.engine) as session:
        target = _target(session, actor, scope, username)
        if target.id == actor.id:
            raise Conflict("you cannot delete yourself")
        audit(
            session,
            action="user.delete",
            target_kind="user",
            target_id=username,
            before=user_snapshot(target),
        )
        delete_user(session, target)
    return Response(status_code=204)


@router.post("/{username}/password", status_code=204)
def reset_password(
    username: str,
    body: PasswordReset,
    context: ContextDep,
    actor: AdminDep,
    scope: ScopeDep,
    audit: AuditDep,
) -> Response:
    """Set a new password (by default one to change at the next login); clears a lockout and
    ends the user's sessions and tokens."""
    if username == actor.username:
        raise Conflict("change your own password with POST /api/v1/auth/password")
    check_password_strength(body.password, username)
    with session_scope(context.engine) as session:
        _target(session, actor, scope, username)  # refused before the slow hash
    password_hash = hash_password(body.password)
    now = context.clock.now()
    with session_scope(context.engine) as session:
        target = _target(session, actor, scope, username)
        before = user_snapshot(target)
        target.password_hash = password_hash
        target.must_change_password = body.must_change_password
        target.failed_logins, target.locked_until = 0, None
        revoke_tokens(session, target.id or 0, now=now)
        audit(
            session,
            action="user.password_reset",
            target_kind="user",
            target_id=username,
            before=before,
            after=user_snapshot(target),
        )
    return Response(status_code=204)
