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
from typing import Any

from sqlmodel import Session, col, select

from app.db.tables import DependencyEdge, GroupRun, Run, RunOutput, Task
from app.protocol.frames import InputFile

_UNSAFE = re.compile(r"[^A-Z0-9_]")


def env_part(name: str) -> str:
    return _UNSAFE.sub("_", name.upper())


def upstream_runs(session: Session, run: Run) -> dict[str, Run]:
    """Task name -> that upstream's latest run in the same group run."""
    if run.group_run_id is None or run.task_id is None:
        return {}
    group_run = session.get(GroupRun, run.group_run_id)
    if group_run is None:
        return {}
    edges = session.exec(
        select(DependencyEdge.upstream_id, DependencyEdge.downstream_id).where(
            DependencyEdge.group_id == group_run.group_id
        )
    ).all()
    parents: dict[int, set[int]] = {}
    for up, down in edges:
        parents.setdefault(int(down), set()).add(int(up))
    ancestors: set[int] = set()
    todo = [run.task_id]
    while todo:
        for up in parents.get(todo.pop(), ()):
            if up not in ancestors:
                ancestors.add(up)
                todo.append(up)
    if not ancestors:
        return {}
    latest: dict[int, Run] = {}
    for upstream in session.exec(
        select(Run)
        .where(Run.group_run_id == run.group_run_id, col(Run.task_id).in_(ancestors))
        .order_by(col(Run.id))
    ).all():
        latest[upstream.task_id or 0] = upstream
    names = dict(session.exec(select(Task.id, Task.name).where(col(Task.id).in_(ancestors))).all())
    return {str(names.get(tid, tid)): row for tid, row in latest.items()}


def upstream_results(
    session: Session, run: Run, upstreams: dict[str, Run] | None = None
) -> dict[str, dict[str, Any]]:
    """Task name -> the results of that upstream's latest run in the same group run
    (`upstreams`: `upstream_runs` when the caller has it already)."""
    if upstreams is None:
        upstreams = upstream_runs(session, run)
    return {task: dict(row.results) for task, row in upstreams.items() if row.results}


def upstream_outputs(
    session: Session, run: Run, upstreams: dict[str, Run] | None = None
) -> list[InputFile]:
    """The stored output files of the run's upstreams (their latest attempts): what its
    agent may fetch for it (app/api/routes/agent_inputs.py) and nothing else."""
    if upstreams is None:
        upstreams = upstream_runs(session, run)
    if not upstreams:
        return []
    task_of = {row.id: task for task, row in upstreams.items()}
    attempt_of = {row.id: row.attempt for row in upstreams.values()}
    stmt = (
        select(RunOutput)
        .where(col(RunOutput.run_id).in_(task_of))
        .order_by(col(RunOutput.run_id), col(RunOutput.name))
    )
    found = [
        InputFile(
            task=task_of[out.run_id],
            run_id=out.run_id,
            attempt=out.attempt,
            name=out.name,
            size=out.size,
            sha256=out.sha256 or "",
        )
        for out in session.exec(stmt).all()
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
