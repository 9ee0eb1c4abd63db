"""Tasks as plain rows for planning: the columns a plan reads, no ORM object (a calendar edit
re-plans tens of thousands of tasks; loading, tracking and flushing an ORM task each cost
more than planning it). `TaskFields` is what planning reads of a task, ORM or plain."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import JSON, String, bindparam, select, type_coerce, update
from sqlmodel import Session

from app.db.tables import Task


class TaskFields(Protocol):
    """What planning and a new run read of a task (`Task` or `TaskRow`); planning sets its
    next fire time."""

    next_fire_time: datetime | None

    @property
    def id(self) -> int | None: ...
    @property
    def name(self) -> str: ...
    @property
    def command(self) -> str: ...
    @property
    def target(self) -> str | None: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def run_as_user(self) -> str | None: ...
    @property
    def group_id(self) -> int | None: ...
    @property
    def schedule(self) -> dict[str, Any] | None: ...
    @property
    def schedules(self) -> list[dict[str, Any]]: ...
    @property
    def blackouts(self) -> list[dict[str, Any]]: ...
    @property
    def active(self) -> bool: ...
    @property
    def image(self) -> str | None: ...
    @property
    def cpus(self) -> float | None: ...
    @property
    def memory(self) -> str | None: ...
    @property
    def gpus(self) -> list[int]: ...
    @property
    def gpu_count(self) -> int | None: ...
    @property
    def numa_node(self) -> int | None: ...
    @property
    def mounts(self) -> list[str]: ...
    @property
    def env(self) -> dict[str, str]: ...
    @property
    def env_sealed(self) -> str | None: ...
    @property
    def workdir(self) -> str | None: ...
    @property
    def max_run_seconds(self) -> float | None: ...
    @property
    def concurrency(self) -> str: ...
    @property
    def instance(self) -> str: ...
    @property
    def params(self) -> list[dict[str, Any]]: ...
    @property
    def pool(self) -> str | None: ...
    @property
    def pool_slots(self) -> int | None: ...
    @property
    def priority(self) -> int | None: ...
    @property
    def locks(self) -> list[dict[str, str]]: ...
    @property
    def version(self) -> int: ...


@dataclass(slots=True)
class TaskRow:
    """A task's columns that planning reads (`TaskFields`), as stored."""

    id: int
    name: str
    command: str
    target: str | None
    labels: dict[str, str]
    run_as_user: str | None
    group_id: int | None
    schedule: dict[str, Any] | None
    schedules: list[dict[str, Any]]
    blackouts: list[dict[str, Any]]
    active: bool
    image: str | None
    cpus: float | None
    memory: str | None
    gpus: list[int]
    gpu_count: int | None
    numa_node: int | None
    mounts: list[str]
    env: dict[str, str]
    env_sealed: str | None
    workdir: str | None
    max_run_seconds: float | None
    concurrency: str
    instance: str
    params: list[dict[str, Any]]
    pool: str | None
    pool_slots: int | None
    priority: int | None
    locks: list[dict[str, str]]
    version: int
    next_fire_time: datetime | None


_TABLE = Task.__table__  # type: ignore[attr-defined]
_COLUMNS = [field.name for field in fields(TaskRow)]
_JSON_AT = [n for n, name in enumerate(_COLUMNS) if isinstance(_TABLE.c[name].type, JSON)]


def task_rows(session: Session, task_ids: Sequence[int]) -> list[TaskRow]:
    """The tasks of `task_ids` (one IN list: the caller chunks), as plain rows by id."""
    # JSON columns come as text and are decoded here: most of a task's are empty.
    read = [
        type_coerce(_TABLE.c[name], String) if n in _JSON_AT else _TABLE.c[name]
        for n, name in enumerate(_COLUMNS)
    ]
    stmt = select(*read).where(_TABLE.c.id.in_(task_ids)).order_by(_TABLE.c.id)
    rows = []
    for row in session.connection().execute(stmt):
        values = list(row)
        for n in _JSON_AT:
            values[n] = _decoded(values[n])
        rows.append(TaskRow(*values))
    return rows


def _decoded(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # NULL, or decoded by the driver (psycopg decodes json itself)
    if value == "[]":
        return []
    if value == "{}":
        return {}
    return json.loads(value)


def store_next_fires(session: Session, rows: Sequence[TaskRow], before: Sequence[Any]) -> int:
    """Write the next fire time of the rows whose planning moved it (`before`: each row's as
    read, in order); returns how many. Only that column: it is no part of the definition."""
    moved = [
        {"row_id": row.id, "next_fire_time": row.next_fire_time}
        for row, was in zip(rows, before, strict=True)
        if row.next_fire_time != was
    ]
    if moved:
        stmt = (
            update(_TABLE)
            .where(_TABLE.c.id == bindparam("row_id"))
            .values(next_fire_time=bindparam("next_fire_time"))
        )
        session.connection().execute(stmt, moved)
    return len(moved)
