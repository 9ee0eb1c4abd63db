"""Request and response models for run policies (app/domain/run_policy.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class PolicyBody(BaseModel):
    """`null` for a list means "any"; `users` may hold `*` (anyone but root)."""

    model_config = ConfigDict(extra="forbid")
    users: list[str] | None = None
    mounts: list[str] | None = None
    images: list[str] | None = None
    privileged: bool = False
    default_user: str | None = None


class PolicyPublic(BaseModel):
    kind: str
    name: str
    policy: dict[str, Any] | None  # null: no stored policy for this agent
    stored: bool
    updated_by: str | None = None
    updated_at: datetime | None = None
    reported: dict[str, Any] | None = None  # an agent's own policy, from its hello


class PolicyList(BaseModel):
    instances: list[PolicyPublic]
    agents: list[PolicyPublic]
