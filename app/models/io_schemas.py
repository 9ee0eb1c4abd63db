"""The import / export document (DESIGN.md "Import / export"): every object by name.

Items reuse the API's field rules (TaskFields, CalendarCreate, Schedule) so that a file and a
request are checked alike; every model forbids unknown fields, and every field but the names
has a default, so a hand-written file can be short.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.domain.blackouts import BlackoutList
from app.domain.schedules import Schedule
from app.models.admission_schemas import Locks, PoolSlots, Priority
from app.models.calendar_schemas import CalendarCreate
from app.models.param_schemas import ParamDeclarations
from app.models.schemas import (
    Name,
    PathName,
    ScheduleList,
    TaskCreate,
    VariableSetNames,
    _Strict,
)

FORMAT = "almanac/v1"

Condition = Literal["success", "failure", "done"]


class CalendarItem(CalendarCreate):
    pass  # a calendar in an export document: the fields of a created one


class GroupItem(_Strict):
    name: Name
    description: str = Field(default="", max_length=10_000)
    schedule: Schedule | None = None
    schedules: ScheduleList = Field(default_factory=list)
    blackouts: BlackoutList = Field(default_factory=list)
    active: bool = True
    instance: PathName = "default"
    params: ParamDeclarations = Field(default_factory=list)
    variable_sets: VariableSetNames = Field(default_factory=list)
    # Its tasks' admission defaults; `pool` names a pool of the same instance on the server.
    pool: PathName | None = None
    pool_slots: PoolSlots = 1
    priority: Priority = 0
    locks: Locks = Field(default_factory=list)


class TaskItem(TaskCreate):
    """A task as in `POST /tasks`, but its `group` is the group's name (same instance)."""

    group: Name | None = None  # type: ignore[assignment]


class DependencyItem(_Strict):
    """An edge of a group's DAG: `upstream` and `downstream` are task names of that group."""

    group: Name
    upstream: Name
    downstream: Name
    condition: Condition = "success"
    instance: PathName = "default"


class GroupDependencyItem(_Strict):
    """`group` waits for `upstream_group`'s run of the same business date."""

    group: Name
    upstream_group: Name
    instance: PathName = "default"
    upstream_instance: PathName | None = Field(
        default=None, description="The upstream group's instance when it differs."
    )


class ExportDocument(_Strict):
    """Everything a file carries; `format` must be the version this server reads."""

    # Editors find a JSON file's schema by this key; it is read and ignored, and an export
    # never writes it (export -> import -> export stays the same bytes).
    schema_uri: str = Field(
        default="",
        alias="$schema",
        title="$schema",
        max_length=2_000,
        description="Where an editor finds this schema (ignored by the server).",
    )
    format: Literal["almanac/v1"]
    calendars: list[CalendarItem] = Field(default_factory=list)
    groups: list[GroupItem] = Field(default_factory=list)
    tasks: list[TaskItem] = Field(default_factory=list)
    dependencies: list[DependencyItem] = Field(default_factory=list)
    group_dependencies: list[GroupDependencyItem] = Field(default_factory=list)


Kind = Literal["calendar", "group", "task", "dependency", "group_dependency"]


class ImportChange(BaseModel):
    action: Literal["create", "update", "delete"]
    kind: Kind
    name: str
    fields: list[str] = Field(default_factory=list, description="Changed fields of an update.")


class ImportProblem(BaseModel):
    item: str = Field(description='Which item, e.g. "tasks[3] \'load\'" (or "document").')
    field: str
    problem: str
    # Definition files (app/definitions): where the item or field stands.
    file: str | None = None
    line: int | None = None
    column: int | None = None


class ImportReport(BaseModel):
    format: str = FORMAT
    mode: Literal["merge", "mirror"]
    dry_run: bool
    applied: bool
    summary: dict[str, int]
    changes: list[ImportChange]


def item_dict(model: BaseModel) -> dict[str, Any]:
    """The JSON form of one item: every field present (defaults too), for stable diffs."""
    return model.model_dump(mode="json")
