"""Git sync sources (app/definitions/sync.py): a repository the leader follows, and where it
stands (the commit last applied, the last plan, the last error)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime


class SyncSource(SQLModel, table=True):
    __tablename__ = "sync_source"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    url: str = Field(max_length=2000)  # https://..., file://..., or a local path
    branch: str = Field(default="main", max_length=200)
    path: str = Field(default="", max_length=1000)  # the sub-folder holding the files
    poll_seconds: int | None = 300  # None: only the webhook pulls
    enabled: bool = True
    # The user the applies act as (their role and instances bound what a commit may change).
    run_as: str = Field(max_length=100)
    # "user:token" for https, Fernet-encrypted (app/secrets.py); never returned.
    credentials_encrypted: str | None = None
    webhook_secret_encrypted: str
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Status
    last_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_seen_commit: str | None = Field(default=None, max_length=100)
    last_applied_commit: str | None = Field(default=None, max_length=100)
    last_applied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_applied_by: str | None = Field(default=None, max_length=200)
    last_plan: str = ""
    last_error: str | None = None
    last_error_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error_commit: str | None = Field(default=None, max_length=100)
