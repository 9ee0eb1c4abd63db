"""Backfills: a stored plan of dates for one task or group, started a few at a time by the
leader (app/scheduler/backfills.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime


def _ts(*, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)


class Backfill(SQLModel, table=True):
    __tablename__ = "backfill"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int | None = Field(default=None, index=True)  # exactly one of task and group
    group_id: int | None = Field(default=None, index=True)
    target_name: str = Field(max_length=200)  # the task's or group's name when it was made
    start: date
    end: date
    mode: str = Field(max_length=10)  # missing | failed | all
    order: str = Field(max_length=10)  # oldest | newest
    max_concurrent: int = 1
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # pending_approval | running | paused | cancelled | done | rejected
    status: str = Field(max_length=20, index=True)
    reason: str | None = None
    instance: str = Field(default="default", max_length=100, index=True)
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()


class BackfillDate(SQLModel, table=True):
    """One date of a backfill's range, in the order it is taken (`position`)."""

    __tablename__ = "backfill_date"
    __table_args__ = (UniqueConstraint("backfill_id", "day", name="uq_backfill_day"),)

    id: int | None = Field(default=None, primary_key=True)
    backfill_id: int = Field(foreign_key="backfill.id", index=True)
    day: date
    position: int
    # skip (never runs) | pending | started | cancelled (pending when the backfill was)
    state: str = Field(max_length=10, index=True)
    reason: str | None = None
    run_id: int | None = Field(default=None, index=True)
    group_run_id: int | None = Field(default=None, index=True)
    started_at: datetime | None = _ts()
