"""What a new run asks of the admission gates, fixed when it is made: a task's pool, slots and
locks (its group's where the task names none), and its priority, copied onto the run; what
its spec then asks (pool, slots, locks, cores, GPUs) is also kept in plain columns, which the
gates read (`admission_columns`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session

from app.db.tables import Run, Task, TaskGroup
from app.db.task_rows import TaskFields
from app.domain import run_spec
from app.domain.admission import admission_columns, merged_locks


def task_admission(task: TaskFields, group: TaskGroup | None) -> dict[str, Any]:
    """`pool`, `pool_slots`, `locks` and `priority` a run of `task` gets: the task's own, else
    its group's (locks: the group's plus the task's, the task's mode winning)."""
    if task.pool:
        pool, slots = task.pool, task.pool_slots or 1
    elif group is not None and group.pool:
        pool, slots = group.pool, task.pool_slots or group.pool_slots
    else:
        pool, slots = None, 1
    if task.priority is not None:
        priority = task.priority
    else:
        priority = group.priority if group is not None else 0
    locks = merged_locks(group.locks if group is not None else [], task.locks)
    return {"pool": pool, "pool_slots": slots, "locks": locks, "priority": priority}


def set_priority(run: Run, priority: int) -> None:
    run.priority = priority
    run.queue_rank = -priority  # one ascending index serves "priority desc" (tables.Run)


def settle_admission(session: Session, runs: Iterable[Run]) -> None:
    """Fill in each new run's admission fields (runs without a task bring them in their spec)."""
    for run in runs:
        admitted = _admitted(session, run.task_id, run.spec)
        if admitted is not None:
            spec, priority = admitted
            run.spec = spec
            set_priority(run, priority)
            if run.spec_digest is not None:  # what an approval will be of, now complete
                run.spec_digest = run_spec.digest(spec)
        for name, value in admission_columns(run.spec).items():
            setattr(run, name, value)


def settle_admission_values(
    session: Session,
    values: dict[str, Any],
    known: dict[int | None, tuple[dict[str, Any], int] | None] | None = None,
) -> None:
    """`settle_admission` for a run given as column values (`runs.run_values`); `known`
    keeps each task's fields for its next run (one task's plan and skips share them)."""
    task_id = values["task_id"]
    if known is not None and task_id is not None and task_id in known:
        fields = known[task_id]
        if fields is None:
            return
        spec = {**values["spec"], **fields[0]}
        spec.pop("priority", None)
        admitted: tuple[dict[str, Any], int] | None = (spec, fields[1])
    else:
        admitted = _admitted(session, task_id, values["spec"])
        if known is not None and task_id is not None:
            known[task_id] = None if admitted is None else (_fields_of(admitted[0]), admitted[1])
    if admitted is not None:
        spec, priority = admitted
        values["spec"] = spec
        values["priority"], values["queue_rank"] = priority, -priority
        if values.get("spec_digest") is not None:
            values["spec_digest"] = run_spec.digest(spec)
    values.update(admission_columns(values["spec"]))


def _admitted(
    session: Session, task_id: int | None, spec_in: dict[str, Any]
) -> tuple[dict[str, Any], int] | None:
    """The spec with its admission fields and the priority (None: a task no longer there)."""
    spec = dict(spec_in)
    if task_id is not None:
        task = session.get(Task, task_id)
        if task is None:
            return None
        group = session.get(TaskGroup, task.group_id) if task.group_id else None
        fields, priority = admission_of(task_admission(task, group))
    else:
        fields, priority = admission_of({k: spec.get(k) for k in ADMISSION_FIELDS})
    spec.update(fields)
    spec.pop("priority", None)
    return spec, priority


ADMISSION_FIELDS = ("pool", "pool_slots", "locks", "priority")


def admission_of(fields: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """`task_admission`'s fields as a run's spec holds them, and the priority apart."""
    pool = {
        "pool": fields["pool"] or None,
        "pool_slots": int(fields["pool_slots"] or 1),
        "locks": list(fields["locks"] or []),
    }
    return pool, int(fields["priority"] or 0)


def _fields_of(spec: dict[str, Any]) -> dict[str, Any]:
    return {"pool": spec["pool"], "pool_slots": spec["pool_slots"], "locks": spec["locks"]}
