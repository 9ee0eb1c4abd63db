"""Who may do what, and what they did: users and their API tokens, agents and the tokens
they connect with, the audit trail. Same metadata as app.db.tables, which names them too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, false
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime


def _ts() -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True)


class AuditEvent(SQLModel, table=True):
    """Who changed what, when, from where, with the values before and after."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str | None = Field(default=None, max_length=100, index=True)
    action: str = Field(max_length=50, index=True)
    target_kind: str = Field(max_length=30)
    target_id: str | None = Field(default=None, max_length=200)
    instance: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=100)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    detail: str = ""


class Agent(SQLModel, table=True):
    __tablename__ = "agent"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    status: str = Field(default="offline", max_length=10)
    labels: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    cpus: int | None = None
    memory: int | None = Field(default=None, sa_type=BigInteger)  # bytes
    gpus: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    docker: bool = False
    resources: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    version: str | None = Field(default=None, max_length=50)
    max_runs: int | None = None
    last_heartbeat: datetime | None = _ts()
    created_at: datetime | None = _ts()


class AgentToken(SQLModel, table=True):
    __tablename__ = "agent_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    # The one agent name this token may connect as (None: none, the token is refused).
    agent_name: str | None = Field(default=None, max_length=200)
    token_hash: str = Field(unique=True, max_length=128)
    created_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()
    last_used_at: datetime | None = _ts()


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=100)
    password_hash: str
    role: str = Field(default="viewer", max_length=20)
    instances: list[str] = Field(default_factory=lambda: ["*"], sa_type=JSON)
    disabled: bool = False
    timezone: str = Field(default="UTC", max_length=64)
    # False: the pages show times in the browser's zone (app/web/viewer_zone.py).
    timezone_chosen: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    must_change_password: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = _ts()
    created_at: datetime | None = _ts()


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(max_length=200)
    # "api" for bearer tokens (login or named), "session" for the web UI's cookie.
    kind: str = Field(default="api", max_length=10)
    token_hash: str = Field(unique=True, max_length=128)
    created_at: datetime | None = _ts()
    expires_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()
    last_used_at: datetime | None = _ts()
