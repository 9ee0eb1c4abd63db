"""Request and response models for groups, edges, group runs and the flow graph."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.domain.blackouts import BlackoutList
from app.domain.schedules import Schedule
from app.models.admission_schemas import Locks, PoolSlots, Priority
from app.models.param_schemas import ParamDeclarations
from app.models.schemas import (
    Name,
    PathName,
    RunPublic,
    ScheduleList,
    VariableSetNames,
    _Strict,
)

Condition = Literal["success", "failure", "done"]


class GroupCreate(_Strict):
    name: Name
    description: str = Field(default="", max_length=10_000)
    schedule: Schedule | None = None
    schedules: ScheduleList = Field(default_factory=list)
    blackouts: BlackoutList = Field(default_factory=list)
    active: bool = True
    instance: PathName = "default"
    tasks: list[int] = Field(default_factory=list, max_length=10_000)
    params: ParamDeclarations = Field(default_factory=list)
    variable_sets: VariableSetNames = Field(default_factory=list)
    # Its tasks' defaults (docs/reference/pools-locks-priorities.md).
    pool: PathName | None = None
    pool_slots: PoolSlots = 1
    priority: Priority = 0
    locks: Locks = Field(default_factory=list)


class GroupUpdate(_Strict):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=10_000)
    schedule: Schedule | None = None
    schedules: ScheduleList | None = None
    blackouts: BlackoutList | None = None
    active: bool | None = None
    instance: PathName | None = None
    tasks: list[int] | None = Field(default=None, max_length=10_000)
    params: ParamDeclarations | None = None
    variable_sets: VariableSetNames | None = None
    pool: PathName | None = None
    pool_slots: PoolSlots | None = None
    priority: Priority | None = None
    locks: Locks | None = None


class GroupPublic(BaseModel):
    gid: int
    name: str
    description: str
    schedule: dict[str, Any] | None
    schedules: list[dict[str, Any]] = Field(default_factory=list)
    blackouts: list[dict[str, Any]] = Field(default_factory=list)
    active: bool
    instance: str
    tasks: list[int]
    params: list[dict[str, Any]] = Field(default_factory=list)
    upstream_groups: list[int]
    variable_sets: list[str] = Field(default_factory=list)
    pool: str | None = None
    pool_slots: int = 1
    priority: int = 0
    locks: list[dict[str, str]] = Field(default_factory=list)
    managed_by: str | None = Field(
        default=None, description="The definitions source that owns it (file:..., sync:...)."
    )
    managed_file: str | None = None
    managed_commit: str | None = None
    next_fire_time: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


class EdgeBody(_Strict):
    upstream: int
    downstream: int
    condition: Condition = "success"


class EdgeRef(_Strict):
    upstream: int
    downstream: int


class GroupDependencyBody(_Strict):
    upstream_group: int


class GroupRunPublic(BaseModel):
    id: int
    group: int
    status: str
    trigger_kind: str
    trigger_time: datetime | None
    business_date: date | None
    params: dict[str, Any] = Field(default_factory=dict)
    created_by: str | None
    finished_at: datetime | None
    reason: str | None = None
    group_version: int | None = Field(
        default=None,
        description="The group's definition version this group run used (null: before "
        "history saw the group).",
    )


class GroupRunDetail(GroupRunPublic):
    runs: list[RunPublic]


class GraphNode(BaseModel):
    tid: int
    name: str
    generation: int
    status: str | None
    run: int | None
    attempt: int | None
    reason: str | None


class GraphEdge(BaseModel):
    upstream: int
    downstream: int
    condition: str


class GraphPublic(BaseModel):
    group: int
    group_run: int | None
    group_run_status: str | None
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    generations: list[list[int]]


class MarkSuccess(_Strict):
    reason: str = Field(min_length=1, max_length=2000)
