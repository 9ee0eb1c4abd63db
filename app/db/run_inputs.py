"""What a run is given when it is dispatched: its placeholder context and its environment.

Gathered from the database at dispatch (not when the run is made), so the results its
upstream runs of the same group run published are there by then. The expansion itself is
pure (app/domain/placeholders.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

from sqlmodel import Session, col, select

from app.db.calendars import calendar_spec
from app.db.tables import GroupRun, Run, Task, TaskGroup
from app.domain.calendars import CalendarSpec
from app.domain.params import as_text, env_name
from app.domain.placeholders import PlaceholderContext, expand
from app.errors import NotFound


@dataclass(frozen=True, kw_only=True)
class Expanded:
    """The parts of a start frame with their placeholders replaced."""

    command: str
    env: dict[str, str]
    workdir: str | None
    mounts: list[str]


def context_for(
    session: Session, run: Run, calendars: dict[str, CalendarSpec | None] | None = None
) -> PlaceholderContext:
    """Everything `run`'s placeholders may name. `calendars` caches calendars by name over a
    dispatch pass."""
    task = session.get(Task, run.task_id) if run.task_id is not None else None
    group = _group_of(session, run, task)
    schedule = (group.schedule if group is not None else None) or (
        task.schedule if task is not None else None
    )
    return PlaceholderContext(
        business_date=run.business_date or _utc_day(run),
        task=str(run.spec.get("task_name") or (task.name if task else "")),
        group=group.name if group is not None else "",
        run_id=run.id or 0,
        attempt=run.attempt,
        params=dict(run.params or {}),
        variables=variables_for(session, run),
        upstream=upstream_results_for(session, run),
        calendar=_calendar(session, (schedule or {}).get("calendar"), calendars),
    )


def variables_for(session: Session, run: Run) -> dict[str, str]:
    """`${var.NAME}` values for the run: the variable sets of its task and group."""
    return {}


def upstream_results_for(session: Session, run: Run) -> dict[str, dict[str, object]]:
    """Task name -> results published by the other runs of the same group run."""
    if run.group_run_id is None:
        return {}
    rows = session.exec(
        select(Task.name, Run.results)
        .join(Task, col(Task.id) == col(Run.task_id))
        .where(Run.group_run_id == run.group_run_id, Run.id != run.id)
    ).all()
    return {name: dict(results or {}) for name, results in rows if results}


def context_environment(run: Run, context: PlaceholderContext) -> dict[str, str]:
    """The ALMANAC_* variables the command gets besides RUN_ID, ATTEMPT and OUTPUT_DIR
    (which the agent sets): docs/reference/run-context.md lists them all."""
    trigger = run.trigger_time or run.created_at
    env = {
        "ALMANAC_BUSINESS_DATE": context.business_date.isoformat(),
        "ALMANAC_TRIGGER_TIME": trigger.astimezone(UTC).isoformat() if trigger else "",
        "ALMANAC_TASK": context.task,
        "ALMANAC_GROUP": context.group,
        "ALMANAC_INSTANCE": run.instance,
        "ALMANAC_GROUP_RUN_ID": str(run.group_run_id or ""),
    }
    for name, value in sorted(context.params.items()):
        env[env_name(name)] = as_text(value)
    return env


def expand_spec(
    spec: Mapping[str, Any],
    env: Mapping[str, str],
    secrets: Mapping[str, str],
    run: Run,
    context: PlaceholderContext,
) -> Expanded:
    """The command (each value shell-quoted), env values, workdir and mounts expanded; secret
    values go in as they are. PlaceholderError when the run lacks what one names."""
    workdir = spec.get("workdir")
    return Expanded(
        command=expand(str(spec["command"]), context, shell=True),
        env={
            **{k: expand(v, context, shell=False) for k, v in env.items()},
            **secrets,
            **context_environment(run, context),
        },
        workdir=expand(str(workdir), context, shell=False) if workdir else workdir,
        mounts=[expand(m, context, shell=False) for m in spec.get("mounts") or []],
    )


def _group_of(session: Session, run: Run, task: Task | None) -> TaskGroup | None:
    group_id: int | None = None
    if run.group_run_id is not None:
        group_run = session.get(GroupRun, run.group_run_id)
        group_id = group_run.group_id if group_run is not None else None
    elif task is not None:
        group_id = task.group_id
    return session.get(TaskGroup, group_id) if group_id is not None else None


def _calendar(
    session: Session, name: object, cache: dict[str, CalendarSpec | None] | None
) -> CalendarSpec | None:
    if not name:
        return None
    key = str(name)
    if cache is not None and key in cache:
        return cache[key]
    try:
        spec: CalendarSpec | None = calendar_spec(session, key)
    except NotFound:
        spec = None  # a deleted calendar: Monday to Friday
    if cache is not None:
        cache[key] = spec
    return spec


def _utc_day(run: Run) -> date:
    at = run.trigger_time or run.created_at
    return at.astimezone(UTC).date() if at else date(1970, 1, 1)  # runs always have one
