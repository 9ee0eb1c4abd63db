"""Admission tables: named pools of slots and per-instance quotas (app/domain/admission.py).

Locks have no table: a lock exists while a run holds or asks for it (its name is in the run's
spec), so nothing is left to clean up when the last holder ends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime


class Pool(SQLModel, table=True):
    """A named number of slots in one instance; runs of its tasks and groups draw from it."""

    __tablename__ = "pool"
    __table_args__ = (UniqueConstraint("instance", "name", name="uq_pool_instance_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    instance: str = Field(default="default", max_length=100, index=True)
    slots: int
    description: str = ""
    # "spread" or "pack" for the placement of its runs; None: the global setting.
    placement: str | None = Field(default=None, max_length=10)
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InstanceQuota(SQLModel, table=True):
    """What one instance's runs may hold at once (None: no limit)."""

    __tablename__ = "instance_quota"

    instance: str = Field(primary_key=True, max_length=100)
    max_runs: int | None = None
    max_cores: float | None = None
    max_gpus: int | None = None
    updated_by: str | None = Field(default=None, max_length=100)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
