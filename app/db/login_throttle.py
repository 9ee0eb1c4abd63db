"""The login throttle's atomic steps, on the account and on the source address.

Each check-and-count is one conditional UPDATE that counts the try before its password is
checked (a success gives it back), so parallel tries cannot all pass the gate: SQLite runs
one writer at a time (a claim's transaction begins with a write), and PostgreSQL re-checks
an UPDATE's condition on the row version it waited for. The claims are committed before
the slow password hash, so no transaction is held open across it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, literal, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from app.db.login_tables import LoginSource
from app.db.tables import User
from app.db.types import UTCDateTime
from app.security import LoginThrottle, retry_after_seconds


@dataclass(frozen=True)
class Gate:
    """Whether a try may check its password; if not, how many seconds to wait."""

    passed: bool
    retry_after: int | None = None


def _instant(at: datetime) -> Any:
    return literal(at, UTCDateTime())


def claim_source(session: Session, source: str, *, now: datetime, throttle: LoginThrottle) -> Gate:
    """Count a try from `source` unless the address is locked or its quota is in use."""
    connection = session.connection()
    cutoff = now - timedelta(seconds=throttle.source_window)
    locked_until, window_start = col(LoginSource.locked_until), col(LoginSource.window_start)
    connection.execute(
        delete(LoginSource).where(
            or_(  # windows and locks that are over
                and_(locked_until.is_not(None), locked_until <= now),
                and_(locked_until.is_(None), window_start <= cutoff),
            )
        )
    )
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(
        insert(LoginSource)
        .values(
            source=source,
            failures=0,
            window_start=now,
            locked_until=None,
        )
        .on_conflict_do_nothing(index_elements=["source"])
    )
    claimed = connection.execute(
        update(LoginSource)
        .where(
            col(LoginSource.source) == source,
            col(LoginSource.failures) < throttle.source_limit,
            or_(locked_until.is_(None), locked_until <= now),
        )
        .values(failures=col(LoginSource.failures) + 1)
    )
    if claimed.rowcount == 1:
        return Gate(True)
    row = connection.execute(
        select(locked_until, window_start).where(col(LoginSource.source) == source)
    ).one()
    until = row.locked_until or row.window_start + timedelta(seconds=throttle.source_window)
    return Gate(False, retry_after_seconds(until, now))


def refund_source(session: Session, source: str) -> None:
    """The try was not a failure (the password was right, or it was never checked)."""
    session.connection().execute(
        update(LoginSource)
        .where(
            col(LoginSource.source) == source,
            col(LoginSource.failures) > 0,
        )
        .values(failures=col(LoginSource.failures) - 1)
    )


def lock_source_if_spent(
    session: Session, source: str, *, now: datetime, throttle: LoginThrottle
) -> bool:
    """After a failure: lock the address when its quota is used up (True: locked now)."""
    locked = session.connection().execute(
        update(LoginSource)
        .where(
            col(LoginSource.source) == source,
            col(LoginSource.failures) >= throttle.source_limit,
            col(LoginSource.locked_until).is_(None),
        )
        .values(locked_until=now + timedelta(seconds=throttle.source_lock_seconds))
    )
    return locked.rowcount == 1


def claim_account(
    session: Session, user_id: int, *, now: datetime, throttle: LoginThrottle
) -> Gate:
    """Count a try on the account unless it is slowed; the count sets the wait that follows
    if the try fails (SET expressions read the row as it was)."""
    connection = session.connection()
    failures = col(User.failed_logins) + 1
    steps = throttle.delay_steps()
    wait = case(
        (failures < throttle.slow_after, null()),
        *[(failures == n, _instant(now + timedelta(seconds=s))) for n, s in steps[:-1]],
        else_=_instant(now + timedelta(seconds=steps[-1][1])),
    )
    locked_until = col(User.locked_until)
    claimed = connection.execute(
        update(User)
        .where(
            col(User.id) == user_id,
            or_(locked_until.is_(None), locked_until <= now),
        )
        .values(failed_logins=failures, locked_until=wait)
    )
    if claimed.rowcount == 1:
        return Gate(True)
    until = connection.execute(select(locked_until).where(col(User.id) == user_id)).scalar()
    return Gate(False, retry_after_seconds(until, now) if until is not None else 1)


def clear_account(session: Session, user_id: int) -> None:
    """A good password ends the failures in a row."""
    session.connection().execute(
        update(User).where(col(User.id) == user_id).values(failed_logins=0, locked_until=None)
    )
