"""What a run is given when it is dispatched: its placeholder context and its environment.

Gathered from the database at dispatch (not when the run is made), so the results its
upstream runs of the same group run published are there by then. The expansion itself is
pure (app/domain/placeholders.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

from sqlmodel import Session, col, select

from app.db.calendars import calendar_spec
from app.db.run_results import UpstreamCache, group_of, read_group_runs
from app.db.tables import GroupRun, Run, Task, TaskGroup
from app.db.variable_sets import run_variables
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


@dataclass
class PassCache:
    """What one dispatch pass reads once: tasks, groups, calendars and the upstream results of
    each group run (the session's identity map holds rows weakly, so it does not do this)."""

    tasks: dict[int, Task | None] = field(default_factory=dict)
    groups: dict[int, TaskGroup | None] = field(default_factory=dict)
    calendars: dict[str, CalendarSpec | None] = field(default_factory=dict)
    # group run -> (run id, task name, results) of its runs that published any
    results: dict[int, list[tuple[int, str, dict[str, object]]]] = field(default_factory=dict)
    upstreams: UpstreamCache = field(default_factory=UpstreamCache)  # edges, runs, outputs

    def preload(self, session: Session, runs: Sequence[Run]) -> None:
        """Read what `runs` are given in a few queries for all of them: their tasks and
        groups (held here, so later reads of them in the pass come from the session), and
        their group runs' runs with their results (app/db/run_results.py)."""
        self._tasks_and_groups(session, runs)
        ids = {r.group_run_id for r in runs if r.group_run_id is not None} - set(self.results)
        if not ids:
            return
        unknown = ids - set(self.upstreams.group_of)  # readiness read most already
        if unknown:
            for gr_id, group_id in session.exec(
                select(GroupRun.id, GroupRun.group_id).where(col(GroupRun.id).in_(unknown))
            ).all():
                self.upstreams.group_of[gr_id or 0] = group_id
        read_group_runs(session, ids, self.upstreams)
        names = self.upstreams.names
        for gr_id in ids:
            self.results[gr_id] = [
                (row.id, names[row.task_id], row.results)
                for row in self.upstreams.runs[gr_id]
                if row.results and row.task_id in names
            ]

    def _tasks_and_groups(self, session: Session, runs: Sequence[Run]) -> None:
        tids = {r.task_id for r in runs if r.task_id is not None} - set(self.tasks)
        if tids:
            found = session.exec(select(Task).where(col(Task.id).in_(tids))).all()
            self.tasks.update(dict.fromkeys(tids))
            self.tasks.update((task.id or 0, task) for task in found)
        gids = {t.group_id for t in self.tasks.values() if t is not None and t.group_id}
        gids -= set(self.groups)
        if gids:
            found_groups = session.exec(select(TaskGroup).where(col(TaskGroup.id).in_(gids)))
            self.groups.update(dict.fromkeys(gids))
            self.groups.update((group.id or 0, group) for group in found_groups.all())


def context_for(
    session: Session,
    run: Run,
    cache: PassCache | None = None,
    upstream: Mapping[str, Mapping[str, object]] | None = None,
) -> PlaceholderContext:
    """Everything `run`'s placeholders may name. `cache` spares a dispatch pass reading the
    same rows for every run; `upstream`: the results of its upstreams as dispatch read them
    (the same ones its ALMANAC_UPSTREAM_* variables carry)."""
    cache = cache or PassCache()
    task = _task(session, run.task_id, cache)
    group = _group_of(session, run, task, cache)
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
        upstream=upstream if upstream is not None else upstream_results_for(session, run, cache),
        calendar=_calendar(session, (schedule or {}).get("calendar"), cache.calendars),
    )


def variables_for(session: Session, run: Run) -> dict[str, str]:
    """`${var.NAME}` values for the run: the variable sets of its task and group (as pinned
    for this dispatch, else as they are now)."""
    return run_variables(session, run).all()


def upstream_results_for(
    session: Session, run: Run, cache: PassCache | None = None
) -> dict[str, dict[str, object]]:
    """Task name -> results published by the other runs of the same group run."""
    if run.group_run_id is None:
        return {}
    if cache is None:
        cache = PassCache()
    if run.group_run_id not in cache.results:
        cache.preload(session, [run])
    return {
        name: results for rid, name, results in cache.results[run.group_run_id] if rid != run.id
    }


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


def _task(session: Session, tid: int | None, cache: PassCache) -> Task | None:
    if tid is None:
        return None
    if tid not in cache.tasks:
        cache.tasks[tid] = session.get(Task, tid)
    return cache.tasks[tid]


def _group_of(session: Session, run: Run, task: Task | None, cache: PassCache) -> TaskGroup | None:
    group_id: int | None = None
    if run.group_run_id is not None:
        group_id = group_of(session, run.group_run_id, cache.upstreams)
    elif task is not None:
        group_id = task.group_id
    if group_id is None:
        return None
    if group_id not in cache.groups:
        cache.groups[group_id] = session.get(TaskGroup, group_id)
    return cache.groups[group_id]


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
