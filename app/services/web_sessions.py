"""The web UI's sessions: an API token of kind `session`, looked up by its hash, touched at
most once a minute, revoked at sign-out."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from app.db.tables import ApiToken, User
from app.security import hash_token

_TOUCH_EVERY = timedelta(minutes=1)


def _session_row(session: Session, token: str) -> ApiToken | None:
    return session.exec(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.kind == "session")
    ).first()


def session_user(session: Session, *, token: str, now: datetime) -> User | None:
    """The user of a live session (not revoked, not expired, the account enabled)."""
    row = _session_row(session, token)
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
        row.last_used_at = now
    return user


def revoke_session(session: Session, *, token: str, now: datetime) -> None:
    row = _session_row(session, token)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now


def session_token_id(session: Session, *, token: str) -> int | None:
    row = _session_row(session, token)
    return row.id if row is not None else None
