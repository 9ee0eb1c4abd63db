"""Task rows: create, update, delete, with the reference checks the schema cannot express."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.db.capacity_check import REQUEST_FIELDS, check_fits_somewhere, task_request
from app.db.pools import check_task_admission, lock_dicts
from app.db.sealing import write_task_env
from app.db.tables import DependencyEdge, Freeze, Run, RunEvent, Task, TaskGroup
from app.db.timing_fields import TIMING_FIELDS, check_timing, timing_values
from app.db.variable_sets import check_variable_sets
from app.domain.states import RunStatus
from app.errors import Conflict, InvalidInput, NotFound

# Fields stored under another name on the row.
_RENAMED = {"group": "group_id"}


def get_task(session: Session, tid: int) -> Task:
    task = session.get(Task, tid)
    if task is None:
        raise NotFound("task", tid)
    return task


def _check_references(
    session: Session, values: dict[str, Any], instance: str, tid: int | None
) -> None:
    group_id = values.get("group_id")
    if group_id is not None and session.get(TaskGroup, group_id) is None:
        raise InvalidInput("group", f"no group with gid {group_id}")
    name = values.get("name")
    if name is not None:
        clash = session.exec(
            select(Task.id).where(Task.name == name, Task.instance == instance)
        ).first()
        if clash is not None and clash != tid:
            raise Conflict(f"name: a task named {name!r} already exists in instance {instance!r}")


def _row_values(fields: dict[str, Any]) -> dict[str, Any]:
    values = {_RENAMED.get(k, k): v for k, v in fields.items()}
    if "locks" in values:
        values["locks"] = lock_dicts(values["locks"])
    return timing_values(values)


def create_task(session: Session, fields: dict[str, Any], *, now: datetime) -> Task:
    """`fields` are the API's names (`group`, schedule as a model or a dict)."""
    values = _row_values(fields)
    _check_references(session, values, values.get("instance", "default"), None)
    check_variable_sets(
        session, values.get("variable_sets") or [], values.get("instance", "default")
    )
    sealed: dict[str, Any] = {k: values.pop(k) for k in ("env", "secrets") if k in values}
    task = Task(**values, created_at=now, updated_at=now)
    check_timing(session, task.schedule, task.schedules, now=now)
    check_fits_somewhere(session, task_request(task))
    check_task_admission(session, task)
    write_task_env(session, task, sealed)
    session.add(task)
    session.flush()
    return task


def update_task(session: Session, task: Task, changed: dict[str, Any], *, now: datetime) -> Task:
    """Apply only the fields present in `changed`."""
    for required in ("name", "command", "active", "instance"):
        if required in changed and changed[required] is None:
            raise InvalidInput(required, "must not be null")
    values = _row_values(changed)
    _check_references(session, values, values.get("instance") or task.instance, task.id)
    if "variable_sets" in values or "instance" in values:
        values["variable_sets"] = list(values.get("variable_sets", task.variable_sets) or [])
        check_variable_sets(
            session, values["variable_sets"], values.get("instance") or task.instance
        )
    write_task_env(session, task, {k: values.pop(k) for k in ("env", "secrets") if k in values})
    for key, value in values.items():
        if key == "labels" and value is None:
            value = {}
        if key in ("gpus", "mounts", "params") and value is None:
            value = []
        setattr(task, key, value)
    if set(values) & set(TIMING_FIELDS):
        check_timing(session, task.schedule, task.schedules, now=now)
    if REQUEST_FIELDS & values.keys():
        if task.gpus and task.gpu_count:
            raise InvalidInput("gpu_count", "give either gpus (indices) or gpu_count, not both")
        check_fits_somewhere(session, task_request(task))
    check_task_admission(session, task)
    task.updated_at = now
    session.add(task)
    session.flush()
    return task


def delete_task(session: Session, task: Task) -> None:
    """Delete the definition; its finished runs stay in the history (task becomes null)."""
    idle = list(
        session.exec(
            select(Run.id).where(Run.task_id == task.id, Run.status == RunStatus.IDLE)
        ).all()
    )
    if idle:
        session.exec(delete(RunEvent).where(col(RunEvent.run_id).in_(idle)))
        session.exec(delete(Run).where(col(Run.id).in_(idle)))
    session.exec(update(Run).where(col(Run.task_id) == task.id).values(task_id=None))
    session.exec(delete(Freeze).where(col(Freeze.task_id) == task.id))
    session.exec(
        delete(DependencyEdge).where(
            (col(DependencyEdge.upstream_id) == task.id)
            | (col(DependencyEdge.downstream_id) == task.id)
        )
    )
    session.delete(task)
