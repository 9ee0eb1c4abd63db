"""What a new run asks of the admission gates, fixed when it is made: a task's pool, slots and
locks (its group's where the task names none), and its priority, copied onto the run."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session

from app.db.tables import Run, Task, TaskGroup
from app.domain import run_spec
from app.domain.admission import merged_locks


def task_admission(task: Task, group: TaskGroup | None) -> dict[str, Any]:
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
        spec = dict(run.spec)
        if run.task_id is not None:
            task = session.get(Task, run.task_id)
            if task is None:
                continue
            group = session.get(TaskGroup, task.group_id) if task.group_id else None
            fields = task_admission(task, group)
        else:
            fields = {k: spec.get(k) for k in ("pool", "pool_slots", "locks", "priority")}
        priority = int(fields.pop("priority") or 0)
        spec.update(
            pool=fields["pool"] or None,
            pool_slots=int(fields["pool_slots"] or 1),
            locks=list(fields["locks"] or []),
        )
        spec.pop("priority", None)
        run.spec = spec
        set_priority(run, priority)
        if run.spec_digest is not None:  # what an approval will be of, now complete
            run.spec_digest = run_spec.digest(spec)
