"""The Gantt of one group run: per task, the spans its run spent queued, waiting and
running, and the critical path (app/domain/critical_path.py). Four bounded queries: the
group run, its runs' timestamps, the group's edges, the tasks' names."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.db.groups import group_edges, task_names
from app.db.tables import Run, TaskGroup
from app.domain.critical_path import RunTimes, Span, critical_path, ready_at, spans
from app.models.group_schemas import GroupRunPublic
from app.services.actor import Actor
from app.services.group_runs import visible_group_run
from app.services.groups import group_run_public


@dataclass(frozen=True, kw_only=True)
class GanttRow:
    tid: int
    name: str
    run: int
    status: str
    attempt: int
    reason: str | None
    spans: list[Span]
    critical: bool


@dataclass(frozen=True, kw_only=True)
class Gantt:
    group_run: GroupRunPublic
    group_name: str
    instance: str
    start: datetime
    end: datetime
    rows: list[GanttRow]
    path: list[int]  # task ids on the critical path, first to last
    group_version_now: int | None = None  # the group's latest definition version


def group_run_gantt(session: Session, *, actor: Actor, group_run_id: int, now: datetime) -> Gantt:
    group_run = visible_group_run(session, actor.scope, group_run_id)
    group = session.get(TaskGroup, group_run.group_id)
    stmt = (
        select(Run)
        .where(Run.group_run_id == group_run_id, actor.scope.condition(Run.instance))
        .order_by(col(Run.id))
    )
    latest: dict[int, tuple[int, str, int, str | None, RunTimes]] = {}
    origin = group_run.trigger_time or group_run.created_at or now
    for run in session.exec(stmt).all():
        if run.task_id is None:
            continue
        times = RunTimes(
            created=run.created_at or origin,
            dispatched=run.dispatched_at,
            started=run.started_at,
            finished=run.finished_at,
        )
        latest[run.task_id] = (run.id or 0, str(run.status), run.attempt, run.reason, times)
    upstreams: dict[int, list[int]] = defaultdict(list)
    for edge in group_edges(session, group_run.group_id):
        upstreams[edge.downstream].append(edge.upstream)
    finished = {tid: row[4].finished for tid, row in latest.items()}
    ran = {
        tid: row[4].finished or now
        for tid, row in latest.items()
        if row[4].dispatched is not None or row[4].started is not None
    }
    path = critical_path(ran, upstreams)
    names = task_names(session, sorted(latest))
    rows = []
    for tid, (run_id, status, attempt, reason, times) in latest.items():
        rows.append(
            GanttRow(
                tid=tid,
                name=names.get(tid, f"task {tid}"),
                run=run_id,
                status=status,
                attempt=attempt,
                reason=reason,
                spans=spans(times, ready_at(tid, upstreams, finished), now),
                critical=tid in path,
            )
        )
    rows.sort(key=lambda r: (min((s.start for s in r.spans), default=now), r.run))
    starts = [s.start for r in rows for s in r.spans] or [origin]
    ends = [s.end for r in rows for s in r.spans] or [group_run.finished_at or now]
    return Gantt(
        group_run=group_run_public(group_run),
        group_name=group.name if group else f"group {group_run.group_id}",
        instance=group_run.instance,
        start=min(starts),
        end=max(max(ends), min(starts)),
        rows=rows,
        path=path,
        group_version_now=(group.version or None) if group else None,
    )
