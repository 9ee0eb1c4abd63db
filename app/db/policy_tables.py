"""Stored run policies: one row per instance or per agent (see app/domain/run_policy.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime


class RunPolicyRow(SQLModel, table=True):
    __tablename__ = "run_policy"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_run_policy_scope"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)  # "instance" or "agent"
    name: str = Field(max_length=200)  # the instance or agent name
    policy: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    updated_by: str | None = Field(default=None, max_length=100)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
