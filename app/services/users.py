"""Accounts, for admins. An admin manages operators, users and viewers; only a
superadmin manages admins and superadmins. Nobody grants an instance they do not hold, and
nobody changes their own role, disables or deletes themselves.

A change of role or instances, a disable and a password reset end every session and token
of that user at once (their rows are revoked); besides, every request reads the user's
current role, instances and disabled flag, so no token ever carries stale rights.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.tables import User
from app.db.users import create_user, delete_user, get_user, revoke_tokens, user_snapshot
from app.domain._walltime import check_zone_name
from app.domain.roles import Role
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.models.security_schemas import PasswordReset, UserCreate, UserPublic, UserUpdate
from app.security import check_password_strength, hash_password, may_grant, may_manage
from app.services.actor import Actor
from app.services.scope import InstanceScope


def user_public(user: User) -> UserPublic:
    return UserPublic(
        username=user.username,
        role=user.role,
        instances=list(user.instances),
        disabled=user.disabled,
        timezone=user.timezone,
        timezone_chosen=user.timezone_chosen,
        must_change_password=user.must_change_password,
        locked_until=user.locked_until,
        created_at=user.created_at,
    )


def _check_timezone(name: str) -> None:
    """The names a schedule accepts (IANA and tzdata's aliases; never `localtime`)."""
    try:
        check_zone_name(name)
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


def list_users(session: Session, *, actor: Actor) -> list[UserPublic]:
    actor.require(Role.ADMIN)
    rows = session.exec(select(User).order_by(col(User.username))).all()
    return [user_public(u) for u in rows if actor.scope.covers(u.instances)]


def read_user(session: Session, *, actor: Actor, username: str) -> UserPublic:
    actor.require(Role.ADMIN)
    return user_public(_visible(session, actor.scope, username))


def create(engine: Engine, *, actor: Actor, now: datetime, body: UserCreate) -> UserPublic:
    actor.require(Role.ADMIN)
    _check_grant(actor.user, body.role.value, body.instances)
    _check_timezone(body.timezone)
    check_password_strength(body.password, body.username)
    password_hash = hash_password(body.password)
    with session_scope(engine) as session:
        row = create_user(
            session,
            username=body.username,
            password_hash=password_hash,
            role=body.role.value,
            instances=sorted(set(body.instances)),
            timezone=body.timezone,
            must_change_password=body.must_change_password,
            now=now,
        )
        actor.audit(
            session,
            at=now,
            action="user.create",
            target_kind="user",
            target_id=row.username,
            after=user_snapshot(row),
        )
        return user_public(row)


def update(
    engine: Engine, *, actor: Actor, now: datetime, username: str, body: UserUpdate
) -> UserPublic:
    actor.require(Role.ADMIN)
    if body.timezone is not None:
        _check_timezone(body.timezone)
    _check_grant(actor.user, body.role.value if body.role else None, body.instances)
    with session_scope(engine) as session:
        target = _target(session, actor.user, actor.scope, username)
        if target.id == actor.user.id and (
            body.role is not None or body.disabled or body.instances is not None
        ):
            raise Conflict("you cannot change your own role or instances, nor disable yourself")
        before = user_snapshot(target)
        if body.role is not None:
            target.role = body.role.value
        if body.instances is not None:
            target.instances = sorted(set(body.instances))
        if body.timezone is not None:
            target.timezone, target.timezone_chosen = body.timezone, True
        if body.disabled is not None:
            target.disabled = body.disabled
        if body.unlock:
            target.failed_logins, target.locked_until = 0, None
        after = user_snapshot(target)
        if any(before[k] != after[k] for k in ("role", "instances")) or (
            target.disabled and not before["disabled"]
        ):
            revoke_tokens(session, target.id or 0, now=now)
        actor.audit(
            session,
            at=now,
            action="user.update",
            target_kind="user",
            target_id=username,
            before=before,
            after=after,
            detail="unlocked" if body.unlock else "",
        )
        return user_public(target)


def remove(engine: Engine, *, actor: Actor, now: datetime, username: str) -> None:
    actor.require(Role.ADMIN)
    with session_scope(engine) as session:
        target = _target(session, actor.user, actor.scope, username)
        if target.id == actor.user.id:
            raise Conflict("you cannot delete yourself")
        actor.audit(
            session,
            at=now,
            action="user.delete",
            target_kind="user",
            target_id=username,
            before=user_snapshot(target),
        )
        delete_user(session, target)


def reset_password(
    engine: Engine, *, actor: Actor, now: datetime, username: str, body: PasswordReset
) -> None:
    """Set a new password (by default one to change at the next login); clears a lockout and
    ends the user's sessions and tokens."""
    actor.require(Role.ADMIN)
    if username == actor.username:
        raise Conflict("change your own password with POST /api/v1/auth/password")
    check_password_strength(body.password, username)
    with session_scope(engine) as session:
        _target(session, actor.user, actor.scope, username)  # refused before the slow hash
    password_hash = hash_password(body.password)
    with session_scope(engine) as session:
        target = _target(session, actor.user, actor.scope, username)
        before = user_snapshot(target)
        target.password_hash = password_hash
        target.must_change_password = body.must_change_password
        target.failed_logins, target.locked_until = 0, None
        revoke_tokens(session, target.id or 0, now=now)
        actor.audit(
            session,
            at=now,
            action="user.password_reset",
            target_kind="user",
            target_id=username,
            before=before,
            after=user_snapshot(target),
        )


def check_new_password(username: str, current: str, password: str) -> None:
    """InvalidInput for a weak new password or one equal to the current one."""
    check_password_strength(password, username)
    if password == current:
        raise InvalidInput("password", "must differ from the current password")


def change_own_password(
    engine: Engine, *, actor: Actor, now: datetime, password: str, keep_token: int | None
) -> None:
    """Store the caller's new password (checked, the current one verified by the caller):
    their other sessions and tokens end, `keep_token` (the one in use) stays valid."""
    new_hash = hash_password(password)
    with session_scope(engine) as session:
        user = session.get(User, actor.user.id)
        if user is None:
            raise NotFound("user", actor.username)
        before = user_snapshot(user)
        user.password_hash, user.must_change_password = new_hash, False
        revoke_tokens(session, user.id or 0, now=now, keep=keep_token)
        actor.audit(
            session,
            at=now,
            action="user.password_change",
            target_kind="user",
            target_id=actor.username,
            before=before,
            after=user_snapshot(user),
        )


def set_own_timezone(
    engine: Engine, *, actor: Actor, now: datetime, timezone: str | None
) -> UserPublic:
    """The zone the caller's pages show times in; any role may choose its own. None: no
    choice, the pages follow the browser's zone (the stored zone stays for API readers)."""
    if timezone is not None:
        _check_timezone(timezone)
    with session_scope(engine) as session:
        user = session.get(User, actor.user.id)
        if user is None:
            raise NotFound("user", actor.username)
        before = user_snapshot(user)
        if timezone is not None:
            user.timezone = timezone
        user.timezone_chosen = timezone is not None
        actor.audit(
            session,
            at=now,
            action="user.timezone",
            target_kind="user",
            target_id=actor.username,
            before=before,
            after=user_snapshot(user),
        )
        return user_public(user)
