"""Failed logins per source address (migration 0006). Same metadata as app.db.tables.

A row counts one address's failures within a window that starts at its first failure;
when the count reaches the throttle's limit the address is locked until `locked_until`.
Rows whose window (or lock) is over are deleted by the next login try.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime


class LoginSource(SQLModel, table=True):
    __tablename__ = "login_source"

    source: str = Field(primary_key=True, max_length=100)
    failures: int = 0
    window_start: datetime = Field(sa_type=UTCDateTime, index=True)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
