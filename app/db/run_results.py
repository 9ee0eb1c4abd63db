"""Results between tasks: what upstream runs of the same group run published, and the
environment variables a downstream command gets from them.

A run's upstreams are its task's ancestors in its group's DAG (direct and transitive); of
each, the latest run in the same group run counts. `ALMANAC_UPSTREAM_<TASK>_<NAME>`: task
and result names upper-cased, every character other than A-Z, 0-9 and `_` made `_`; a
string value as it is, any other JSON value as compact JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from app.db.groups import group_edges
from app.db.tables import GroupRun, Run, RunOutput, Task
from app.domain.dag import Edge
from app.protocol.frames import InputFile

_UNSAFE = re.compile(r"[^A-Z0-9_]")


def env_part(name: str) -> str:
    return _UNSAFE.sub("_", name.upper())


@dataclass(frozen=True)
class UpstreamRun:
    """What a downstream is given of an upstream run: its results and its stored files'
    attempt (a few columns, not the row: its spec and params are never needed here)."""

    id: int
    task_id: int
    attempt: int
    results: dict[str, Any]


@dataclass
class UpstreamCache:
    """What `upstream_runs` and `upstream_outputs` read, kept for one dispatch pass: the runs
    it judges are ready, so their upstreams have ended and do not change meanwhile (a fan-out
    of 200 reads its group's edges, its group run's runs and their outputs once, not 200 times)."""

    group_of: dict[int, int | None] = field(default_factory=dict)  # group run -> group
    edges: dict[int, list[Edge]] = field(default_factory=dict)  # group -> (readiness too)
    parents: dict[int, dict[int, set[int]]] = field(default_factory=dict)  # group -> DAG
    runs: dict[int, list[UpstreamRun]] = field(default_factory=dict)  # group run -> by id
    names: dict[int, str] = field(default_factory=dict)  # task id -> name
    outputs: dict[frozenset[int], list[RunOutput]] = field(default_factory=dict)


def upstream_runs(
    session: Session, run: Run, cache: UpstreamCache | None = None
) -> dict[str, UpstreamRun]:
    """Task name -> that upstream's latest run in the same group run."""
    if run.group_run_id is None or run.task_id is None:
        return {}
    cache = cache or UpstreamCache()
    group_id = group_of(session, run.group_run_id, cache)
    if group_id is None:
        return {}
    parents = _parents(session, group_id, cache)
    ancestors: set[int] = set()
    todo = [run.task_id]
    while todo:
        for up in parents.get(todo.pop(), ()):
            if up not in ancestors:
                ancestors.add(up)
                todo.append(up)
    if not ancestors:
        return {}
    if run.group_run_id not in cache.runs:
        read_group_runs(session, [run.group_run_id], cache)
    latest: dict[int, UpstreamRun] = {}
    for upstream in cache.runs[run.group_run_id]:
        if upstream.task_id in ancestors:
            latest[upstream.task_id] = upstream
    return {str(cache.names.get(tid, tid)): row for tid, row in latest.items()}


def read_group_runs(session: Session, group_run_ids: Collection[int], cache: UpstreamCache) -> None:
    """The runs of these group runs (oldest first) and their tasks' names, in one query."""
    for group_run_id in group_run_ids:
        cache.runs[group_run_id] = []
    columns = (Run.group_run_id, Run.id, Run.task_id, Run.attempt, Run.results, Task.name)
    rows = session.execute(  # through the session: what it changed is flushed first
        core_select(*(col(c) for c in columns))
        .outerjoin(Task, col(Task.id) == col(Run.task_id))
        .where(col(Run.group_run_id).in_(list(group_run_ids)))
        .order_by(col(Run.id))
    ).all()
    for group_run_id, run_id, task_id, attempt, results, name in rows:
        if group_run_id is None or task_id is None:
            continue
        cache.runs[group_run_id].append(
            UpstreamRun(run_id or 0, task_id, attempt, dict(results or {}))
        )
        if name is not None:
            cache.names[task_id] = name


def group_of(session: Session, group_run_id: int, cache: UpstreamCache) -> int | None:
    """The group a group run belongs to, read once per cache."""
    if group_run_id not in cache.group_of:
        group_run = session.get(GroupRun, group_run_id)
        cache.group_of[group_run_id] = group_run.group_id if group_run is not None else None
    return cache.group_of[group_run_id]


def cached_edges(session: Session, group_id: int, cache: UpstreamCache) -> list[Edge]:
    """The group's edges, read once per cache (dispatch's readiness and inputs share it)."""
    if group_id not in cache.edges:
        cache.edges[group_id] = group_edges(session, group_id)
    return cache.edges[group_id]


def _parents(session: Session, group_id: int, cache: UpstreamCache) -> dict[int, set[int]]:
    if group_id not in cache.parents:
        parents: dict[int, set[int]] = {}
        for edge in cached_edges(session, group_id, cache):
            parents.setdefault(edge.downstream, set()).add(edge.upstream)
        cache.parents[group_id] = parents
    return cache.parents[group_id]


def upstream_results(
    session: Session, run: Run, upstreams: dict[str, UpstreamRun] | None = None
) -> dict[str, dict[str, Any]]:
    """Task name -> the results of that upstream's latest run in the same group run
    (`upstreams`: `upstream_runs` when the caller has it already)."""
    if upstreams is None:
        upstreams = upstream_runs(session, run)
    return {task: dict(row.results) for task, row in upstreams.items() if row.results}


def upstream_outputs(
    session: Session,
    run: Run,
    upstreams: dict[str, UpstreamRun] | None = None,
    cache: UpstreamCache | None = None,
) -> list[InputFile]:
    """The stored output files of the run's upstreams (their latest attempts): what its
    agent may fetch for it (app/api/routes/agent_inputs.py) and nothing else."""
    if upstreams is None:
        upstreams = upstream_runs(session, run, cache)
    if not upstreams:
        return []
    task_of = {row.id: task for task, row in upstreams.items()}
    attempt_of = {row.id: row.attempt for row in upstreams.values()}
    key = frozenset(run_id for run_id in task_of if run_id is not None)
    stored = cache.outputs.get(key) if cache is not None else None
    if stored is None:
        stmt = (
            select(RunOutput)
            .where(col(RunOutput.run_id).in_(key))
            .order_by(col(RunOutput.run_id), col(RunOutput.name))
        )
        stored = list(session.exec(stmt).all())
        if cache is not None:
            cache.outputs[key] = stored
    found = [
        InputFile(
            task=task_of[out.run_id],
            run_id=out.run_id,
            attempt=out.attempt,
            name=out.name,
            size=out.size,
            sha256=out.sha256 or "",
        )
        for out in stored
        if out.attempt == attempt_of[out.run_id]
    ]
    return sorted(found, key=lambda f: (f.task, f.name))


def upstream_environment(results: dict[str, dict[str, Any]]) -> dict[str, str]:
    env = {}
    for task in sorted(results):
        for name, value in sorted(results[task].items()):
            text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            env[f"ALMANAC_UPSTREAM_{env_part(task)}_{env_part(name)}"] = text
    return env
