"""Variable sets (EasyTask's profiles): named variables and secrets per instance, attached to
tasks and groups by name (`task.variable_sets`, `task_group.variable_sets`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime


class VariableSet(SQLModel, table=True):
    __tablename__ = "variable_set"
    __table_args__ = (UniqueConstraint("instance", "name", name="uq_variable_set_instance_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    instance: str = Field(default="default", max_length=100, index=True)
    description: str = ""
    # Plain values, readable by the set's admins (others get them masked).
    variables: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    # The secret values, Fernet-sealed as an environment's secrets (app/env_secrets.py).
    secrets_sealed: str | None = None
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
