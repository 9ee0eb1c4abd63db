"""User rows and their tokens: create, change, delete, revoke, and the throttled login."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from app.db.audit import record_audit
from app.db.engine import session_scope
from app.db.login_throttle import (
    claim_account,
    claim_source,
    clear_account,
    lock_source_if_spent,
    refund_source,
)
from app.db.tables import ApiToken, User
from app.errors import Conflict, NotFound
from app.security import (
    LoginThrottle,
    hash_password,
    hash_token,
    new_token,
    random_password,
    source_key,
    verify_password,
)

TokenKind = Literal["api", "session"]


def get_user(session: Session, username: str, *, lock: bool = False) -> User:
    stmt = select(User).where(User.username == username)
    user = session.exec(stmt.with_for_update() if lock else stmt).first()
    if user is None:
        raise NotFound("user", username)
    return user


def user_snapshot(user: User) -> dict[str, Any]:
    """What the audit log keeps of a user (never the password hash)."""
    return {
        "username": user.username,
        "role": user.role,
        "instances": list(user.instances),
        "disabled": user.disabled,
        "timezone": user.timezone,
        "timezone_chosen": user.timezone_chosen,
        "must_change_password": user.must_change_password,
    }


def create_user(
    session: Session,
    *,
    username: str,
    password_hash: str,
    role: str,
    instances: list[str],
    timezone: str,
    must_change_password: bool,
    now: datetime,
) -> User:
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(f"username: a user named {username!r} already exists")
    user = User(
        username=username,
        password_hash=password_hash,
        role=role,
        instances=instances,
        timezone=timezone,
        timezone_chosen=timezone != "UTC",  # the default is no choice: the browser's zone
        must_change_password=must_change_password,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def delete_user(session: Session, user: User) -> None:
    session.exec(delete(ApiToken).where(col(ApiToken.user_id) == user.id))
    session.delete(user)


def revoke_tokens(
    session: Session, user_id: int, *, now: datetime, keep: int | None = None
) -> None:
    """End every live session and token of a user (but `keep`, the caller's own)."""
    stmt = update(ApiToken).where(
        col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None)
    )
    if keep is not None:
        stmt = stmt.where(col(ApiToken.id) != keep)
    session.exec(stmt.values(revoked_at=now))


def issue_token(
    session: Session,
    user: User,
    *,
    name: str,
    now: datetime,
    expires_at: datetime | None,
    kind: TokenKind = "api",
) -> tuple[ApiToken, str]:
    """A new token row and the token itself (shown once: only its digest is stored)."""
    token = new_token("alm")
    row = ApiToken(
        user_id=user.id or 0,
        name=name,
        kind=kind,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, token


def token_by_secret(session: Session, token: str) -> ApiToken | None:
    return session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()


@functools.cache
def _decoy_hash() -> str:
    return hash_password(random_password())


@dataclass(frozen=True)
class LoginResult:
    """`user` on success; otherwise why not, and for a throttled try how long to wait."""

    user: User | None
    refusal: Literal["wrong", "slowed", "source_locked"] | None = None
    retry_after: int | None = None
    source_locked_now: bool = False  # this very failure locked the source address


def attempt_login(
    engine: Engine,
    username: str,
    password: str,
    *,
    source: str | None,
    now: datetime,
    throttle: LoginThrottle,
    channel: str = "api",
) -> LoginResult:
    """Check a password behind the throttle (`app.db.login_throttle`): the source address
    and the account each count the try before the check, a success gives the counts back.
    A source that used up its failures is refused, even a right password; an account is
    only slowed. Commits its own short transactions, none held across the slow hash."""
    address = source_key(source)
    with session_scope(engine) as session:
        gate = claim_source(session, address, now=now, throttle=throttle)
        if not gate.passed:
            return LoginResult(None, "source_locked", gate.retry_after)
        found = session.exec(
            select(User.id, User.password_hash).where(User.username == username)
        ).first()
        if found is not None:
            account = claim_account(session, found[0] or 0, now=now, throttle=throttle)
            if not account.passed:
                refund_source(session, address)
                return LoginResult(None, "slowed", account.retry_after)
    # An unknown name costs the same hash as a real one (no timing tells them apart).
    right = verify_password(found[1] if found else _decoy_hash(), password)
    with session_scope(engine) as session:
        if found is not None and right:
            clear_account(session, found[0] or 0)
            refund_source(session, address)
            user = session.get(User, found[0])
            return LoginResult(user) if user and not user.disabled else LoginResult(None, "wrong")
        locked = lock_source_if_spent(session, address, now=now, throttle=throttle)
        if locked:
            minutes = round(throttle.source_lock_seconds / 60)
            record_audit(
                session,
                actor=None,
                action="auth.lockout",
                target_kind="source",
                target_id=address,
                before=None,
                after=None,
                source=address,
                instance=None,
                at=now,
                detail=f"address locked for {minutes} min after "
                f"{throttle.source_limit} failed logins ({channel})",
            )
    return LoginResult(None, "wrong", source_locked_now=locked)
