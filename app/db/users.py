"""User rows and their tokens: create, change, delete, revoke, and the throttled login."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.db.tables import ApiToken, User
from app.errors import Conflict, NotFound
from app.security import (
    LoginThrottle,
    hash_password,
    hash_token,
    lock_until,
    new_token,
    random_password,
    retry_after_seconds,
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
        "username": user.username, "role": user.role, "instances": list(user.instances),
        "disabled": user.disabled, "timezone": user.timezone,
        "must_change_password": user.must_change_password,
    }


def create_user(session: Session, *, username: str, password_hash: str, role: str,
                instances: list[str], timezone: str, must_change_password: bool,
                now: datetime) -> User:
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(f"username: a user named {username!r} already exists")
    user = User(username=username, password_hash=password_hash, role=role,
                instances=instances, timezone=timezone,
                must_change_password=must_change_password, created_at=now)
    session.add(user)
    session.flush()
    return user


def delete_user(session: Session, user: User) -> None:
    session.exec(delete(ApiToken).where(col(ApiToken.user_id) == user.id))
    session.delete(user)


def revoke_tokens(session: Session, user_id: int, *, now: datetime,
                  keep: int | None = None) -> None:
    """End every live session and token of a user (but `keep`, the caller's own)."""
    stmt = update(ApiToken).where(col(ApiToken.user_id) == user_id,
                                  col(ApiToken.revoked_at).is_(None))
    if keep is not None:
        stmt = stmt.where(col(ApiToken.id) != keep)
    session.exec(stmt.values(revoked_at=now))


def issue_token(session: Session, user: User, *, name: str, now: datetime,
                expires_at: datetime | None, kind: TokenKind = "api") -> tuple[ApiToken, str]:
    """A new token row and the token itself (shown once: only its digest is stored)."""
    token = new_token("alm")
    row = ApiToken(user_id=user.id or 0, name=name, kind=kind, token_hash=hash_token(token),
                   created_at=now, expires_at=expires_at)
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
    """`user` on success; otherwise why not, and for a throttled account how long to wait."""

    user: User | None
    refusal: Literal["wrong", "slowed", "locked"] | None = None
    retry_after: int | None = None
    locked_now: bool = False  # this very failure locked the account


def attempt_login(session: Session, username: str, password: str, *, now: datetime,
                  throttle: LoginThrottle) -> LoginResult:
    """Check a password, counting failures in a row on the account (commit the session even
    when refused: the count must stick)."""
    user = session.exec(select(User).where(User.username == username).with_for_update()).first()
    if user is None:
        verify_password(_decoy_hash(), password)  # the same time as for a real account
        return LoginResult(None, "wrong")
    if user.locked_until is not None and user.locked_until > now:
        wait = retry_after_seconds(user.locked_until, now)
        if throttle.locked(user.failed_logins):
            return LoginResult(None, "locked", wait)
        return LoginResult(None, "slowed", wait)
    if verify_password(user.password_hash, password) and not user.disabled:
        user.failed_logins, user.locked_until = 0, None
        return LoginResult(user)
    if user.disabled:
        return LoginResult(None, "wrong")
    user.failed_logins += 1
    user.locked_until = lock_until(throttle, user.failed_logins, now)
    if throttle.locked(user.failed_logins) and user.locked_until is not None:
        return LoginResult(None, "locked", retry_after_seconds(user.locked_until, now),
                           locked_now=True)
    return LoginResult(None, "wrong")
