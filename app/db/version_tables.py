"""Definition versions: every change to a task, group or calendar, kept as the definition
it left behind (the export document's item for it), with who, when and from where.

Rows are written by the recorder (app/db/versions.py) when a transaction commits, never by
the code that made the change, so no write path can leave one out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime


class DefinitionVersion(SQLModel, table=True):
    """Version `number` (1, 2, 3, ... per object) of one task, group or calendar."""

    __tablename__ = "definition_version"
    __table_args__ = (
        UniqueConstraint("kind", "object_id", "number", name="uq_definition_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)  # "task" | "group" | "calendar"
    object_id: int
    number: int
    name: str = Field(max_length=200)
    instance: str | None = Field(default=None, max_length=100, index=True)
    # "created" | "updated" | "deleted" | "rolled_back" | "baseline" (first seen by history)
    action: str = Field(max_length=12)
    # The version a rollback restored.
    rollback_of: int | None = None
    # The definition as export writes it (env values masked, secret values left out), plus
    # the task's `upstreams` or the group's `edges` and `waits_for`.
    definition: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # A task's env and secrets, sealed as on the task (so a rollback restores the values);
    # `hidden_changes` names the entries whose values changed ("env.KEY", "secrets.KEY").
    env_sealed: str | None = None
    hidden_changes: list[str] = Field(default_factory=list, sa_type=JSON)
    actor: str | None = Field(default=None, max_length=100)
    # Where the change came from: ui, api, cli, import, apply, sync, system.
    via: str = Field(default="system", max_length=10)
    source: str | None = Field(default=None, max_length=100)
    at: datetime = Field(sa_type=UTCDateTime)
