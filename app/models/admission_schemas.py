"""Request and response models for admission: pools, locks, priorities and quotas
(docs/reference/pools-locks-priorities.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.domain.admission import PRIORITY_MAX, PRIORITY_MIN
from app.domain.names import plain_name, visible_name

_Text = StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
Name = Annotated[str, _Text, AfterValidator(visible_name)]
PathName = Annotated[str, _Text, AfterValidator(plain_name)]

Priority = Annotated[int, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX)]
PoolSlots = Annotated[int, Field(ge=1, le=100_000)]
Placement = Literal["spread", "pack"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LockSpec(_Strict):
    """A lock by name, created by being named; `exclusive` excludes every other holder."""

    name: Name
    mode: Literal["exclusive", "shared"] = "exclusive"


def unique_locks(locks: list[LockSpec]) -> list[LockSpec]:
    names = [lock.name for lock in locks]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"lock {twice[0]!r} named twice")
    return locks


Locks = Annotated[list[LockSpec], Field(max_length=100), AfterValidator(unique_locks)]


class PoolCreate(_Strict):
    name: PathName
    slots: PoolSlots
    instance: PathName = "default"
    description: str = Field(default="", max_length=10_000)
    placement: Placement | None = None


class PoolUpdate(_Strict):
    slots: PoolSlots | None = None
    description: str | None = Field(default=None, max_length=10_000)
    placement: Placement | None = None


class QueuedRun(BaseModel):
    position: int  # 1: next to start when a slot frees
    run: int
    task_name: str | None
    priority: int
    slots: int
    trigger_time: datetime | None
    reason: str | None


class PoolPublic(BaseModel):
    name: str
    instance: str
    slots: int
    description: str
    # spread or pack; null: the server's `placement_policy` setting
    placement: str | None
    used: int
    holders: list[int]  # runs holding slots now
    waiting: int  # ACTIVE runs that draw from it
    # In queue order (GET /pools/{name} only; the first 100): position 1 starts first.
    queued: list[QueuedRun] = Field(default_factory=list)
    created_at: datetime | None
    updated_at: datetime | None


class QuotaBody(_Strict):
    """null: no limit."""

    max_runs: Annotated[int, Field(ge=0)] | None = None
    max_cores: Annotated[float, Field(ge=0)] | None = None
    max_gpus: Annotated[int, Field(ge=0)] | None = None


class QuotaPublic(BaseModel):
    instance: str
    max_runs: int | None
    max_cores: float | None
    max_gpus: int | None
    runs: int  # in use now (runs on agents)
    cores: float
    gpus: int
    waiting: int  # ACTIVE runs whose reason is this quota
    updated_by: str | None
    updated_at: datetime | None
