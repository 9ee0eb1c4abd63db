"""What a force run ("run for date") is given: its business date and checked parameters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session

from app.db.runs import local_date
from app.db.tables import Run, Task, TaskGroup
from app.domain import run_spec
from app.domain.params import (
    check_group_given,
    group_values,
    resolve_values,
    task_values_in_group,
)
from app.errors import InvalidInput
from app.models.param_schemas import RunRequest

# A re-run keeps its business date: no "today" is needed to resolve its values.
_NO_CLOCK = datetime(1970, 1, 1, tzinfo=UTC)


def task_inputs(
    session: Session, task: Task, request: RunRequest | None, now: datetime
) -> tuple[date, dict[str, object]]:
    """The business date (the given one, else today in the task's timezone, or its group's)
    and the values: a task in a group also gets the group's (app/domain/params.py says which
    wins). InvalidInput naming `params.NAME` for a bad value."""
    request = request or RunRequest()
    group = session.get(TaskGroup, task.group_id) if task.group_id is not None else None
    schedule = task.schedule or (group.schedule if group is not None else None)
    day = request.business_date or local_date(now, schedule)
    given: dict[str, Any] = dict(request.params)
    if group is None:
        return day, resolve_values(task.params, given)
    check_group_given(group.params, [task.params], given)
    shared = group_values(group.params, given)
    return day, task_values_in_group(task.params, shared, given)


def group_inputs(
    group: TaskGroup, tasks: list[Task], request: RunRequest | None, now: datetime
) -> tuple[date, dict[str, object]]:
    """The group run's business date and its given values, checked against the group's and
    its tasks' declarations (each task resolves its own when its run is made)."""
    request = request or RunRequest()
    day = request.business_date or local_date(now, group.schedule)
    given: dict[str, object] = dict(request.params)
    check_group_given(group.params, [t.params for t in tasks], given)
    return day, given


def give_new_params(session: Session, run: Run, given: dict[str, object]) -> None:
    """Re-run with other values: checked as a force run's would be, then stored on the run
    and in its spec. An operator asks for it, so an approved spec is approved as changed."""
    task = session.get(Task, run.task_id) if run.task_id is not None else None
    if task is None:
        raise InvalidInput("params", "only a task's run takes parameter values")
    group = session.get(TaskGroup, task.group_id) if task.group_id is not None else None
    declared = {str(d["name"]) for d in [*task.params, *(group.params if group else [])]}
    # The values it ran with stay, but for those given anew (and those no longer declared).
    kept = {k: v for k, v in (run.params or {}).items() if k in declared}
    request = RunRequest(params={**kept, **given})
    _day, params = task_inputs(session, task, request, now=_NO_CLOCK)
    run.params = params
    approved = run_spec.APPROVED in run.spec
    run.spec = {**run.spec, "params": params}
    if approved:
        run.spec = {**run.spec, run_spec.APPROVED: run_spec.digest(run.spec)}
    session.add(run)
