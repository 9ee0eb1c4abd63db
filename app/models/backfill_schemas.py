"""Request and response models for backfills (DESIGN.md "Run context, parameters, results
and backfill")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from app.domain.backfill_plan import MAX_RANGE_DAYS
from app.models.schemas import _Strict

# The most runs (or group runs) one backfill may have going at once.
MAX_CONCURRENT = 1000


class BackfillCreate(_Strict):
    start: date
    end: date
    mode: Literal["missing", "failed", "all"] = "missing"
    order: Literal["oldest", "newest"] = "oldest"
    max_concurrent: int = Field(default=1, ge=1, le=MAX_CONCURRENT)
    params: dict[str, Any] = Field(default_factory=dict, max_length=200)
    dry_run: bool = False
    # Needed when more dates would run than the server's threshold (default 1,000).
    confirm: bool = False

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and value < start:
            raise ValueError(f"{value.isoformat()} is before start {start.isoformat()}")
        if start is not None and (value - start).days + 1 > MAX_RANGE_DAYS:
            raise ValueError(f"a backfill covers at most {MAX_RANGE_DAYS} dates")
        return value


class BackfillDatePublic(BaseModel):
    date: date
    action: Literal["run", "skip"]
    reason: str | None = None
    # Progress (stored backfills): pending | running | done | skipped | cancelled
    state: str | None = None
    status: str | None = None  # the run's (or group run's) status once started
    run: int | None = None
    group_run: int | None = None


class BackfillPublic(BaseModel):
    id: int | None  # None for a dry run: nothing was stored
    task: int | None
    group: int | None
    name: str
    start: date
    end: date
    mode: str
    order: str
    max_concurrent: int
    params: dict[str, Any]
    # pending_approval | running | paused | cancelled | done | rejected; "dry_run" for a preview
    status: str
    reason: str | None = None
    instance: str
    created_by: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    total: int  # dates in the range
    run_count: int  # dates that run
    skip_count: int  # dates that do not
    # Stored backfills: dates per state (pending, running, done, cancelled) and per status
    # of their runs (SUCCESS, FAILED, ...).
    progress: dict[str, int] = Field(default_factory=dict)
    statuses: dict[str, int] = Field(default_factory=dict)
    dates: list[BackfillDatePublic] = Field(default_factory=list)


class BackfillDecision(_Strict):
    comment: str = Field(default="", max_length=2000)
