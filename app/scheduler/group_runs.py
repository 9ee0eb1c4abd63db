"""Group runs: all task runs created at once, released by their dependency edges.

A task run inside a group run stays ACTIVE until the conditions on its incoming edges hold
(dispatch asks `Blockers`); when they can no longer hold it becomes SKIPPED with the
reason. Skips cascade, and the group run's own status follows its runs. This settling
(`settle_ended`) runs before every commit that ended a run of a group run, whichever code
path ended it: it is a before-commit step of the unit of work (app/wiring.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from app.db.group_run_moves import move_group_run
from app.db.groups import group_edges, upstream_groups
from app.db.run_commands import apply
from app.db.run_results import UpstreamCache, cached_edges
from app.db.runs import ENDED_GROUP_RUNS, add_runs, get_run, new_run, task_spec
from app.db.tables import GroupRun, Run, Task, TaskGroup
from app.domain import run_commands as c
from app.domain.dag import Edge, Readiness, evaluate, may_skip, propagate
from app.domain.group_run_states import GroupRunStatus, settled
from app.domain.params import defaults_of, group_values, task_values_in_group
from app.domain.states import RunStatus, TriggerKind, is_terminal
from app.errors import InvalidInput
from app.scheduler.planner import planned_skip


def group_zone(group: TaskGroup) -> ZoneInfo:
    return ZoneInfo(str((group.schedule or {}).get("timezone") or "UTC"))


def start_group_run(
    session: Session,
    group: TaskGroup,
    *,
    now: datetime,
    kind: TriggerKind,
    group_run: GroupRun | None = None,
    created_by: str | None = None,
    business_date: date | None = None,
    params: dict[str, object] | None = None,
) -> GroupRun:
    """Create the runs of every task of the group; the DAG decides when each may start.
    A new group run takes `business_date` (default: the trigger's local date in the group's
    timezone) and `params` (given values, checked by the caller with `check_group_given`)."""
    if group_run is None:
        group_run = GroupRun(
            group_id=group.id or 0,
            business_date=business_date,
            params=dict(params or {}),
            status=GroupRunStatus.RUNNING,
            trigger_kind=kind,
            trigger_time=now,
            created_by=created_by,
            created_at=now,
            instance=group.instance,
        )
        session.add(group_run)
    else:
        move_group_run(group_run, GroupRunStatus.RUNNING, at=now)
    # What it runs is the group as it is now (a planned run may start after an edit).
    group_run.group_version = group.version or None
    trigger = group_run.trigger_time or now
    group_run.business_date = (
        group_run.business_date or trigger.astimezone(group_zone(group)).date()
    )
    session.flush()
    tasks = session.exec(select(Task).where(Task.group_id == group.id).order_by(col(Task.id))).all()
    given = dict(group_run.params or {})
    shared = _group_params(group, given)
    runs = []
    for task in tasks:
        run = new_run(
            at=now,
            status=RunStatus.ACTIVE,
            trigger_kind=kind,
            spec=task_spec(task),
            task=task,
            trigger_time=trigger,
            created_by=created_by,
            business_date=group_run.business_date,
            params=_task_params(task, shared, given),
        )
        run.group_run_id = group_run.id
        run.not_before = _not_before(task, group_run.business_date, group_zone(group))
        runs.append(run)
    add_runs(session, [(run, f"group {group.name} run {group_run.id}") for run in runs])
    for task, run in zip(tasks, runs, strict=True):
        if not task.active:
            apply(session, run, c.Skip("skipped: task inactive"), now=now)
    if not tasks:
        move_group_run(group_run, GroupRunStatus.SUCCESS, at=now)
    return group_run


def _group_params(group: TaskGroup, given: dict[str, object]) -> dict[str, object]:
    # Given values were checked when the group run was forced; what can still fail is a
    # required parameter without a value (a scheduled run): its placeholder fails at dispatch.
    try:
        return group_values(group.params, given)
    except InvalidInput:
        return {**defaults_of(group.params), **given}


def _task_params(
    task: Task, shared: dict[str, object], given: dict[str, object]
) -> dict[str, object]:
    try:
        return task_values_in_group(task.params, shared, given)
    except InvalidInput:
        return {**shared, **defaults_of(task.params), **given}


def _not_before(task: Task, day: date, zone: ZoneInfo) -> datetime | None:
    """A task's own trigger time inside a group: it starts no earlier that day."""
    schedule = task.schedule or {}
    if schedule.get("kind") != "times" or not schedule.get("times"):
        return None
    first = min(time.fromisoformat(t) for t in schedule["times"])
    return datetime.combine(day, first, tzinfo=zone)


# ---- settling ---------------------------------------------------------------------------
def settle(session: Session, group_run_id: int, at: datetime) -> None:
    """Skip what can no longer run (cascading) and update the group run's status."""
    group_run = session.get(GroupRun, group_run_id)
    if group_run is None:
        return
    members = _members(session, group_run_id)
    edges = group_edges(session, group_run.group_id)
    statuses = {tid: m.status for tid, m in members.items()}
    forced = {tid for tid, m in members.items() if m.ignore_upstreams}
    holding = [e for e in edges if e.downstream not in forced]
    if may_skip(holding, statuses):  # else no graph is needed: nothing can be skipped
        plan = propagate(list(members), holding, statuses, _names(members))
        for tid, reason in plan.skip.items():
            run = get_run(session, members[tid].id)
            apply(session, run, c.Skip(reason), now=at)
            statuses[tid] = run.status
    members_now = list(statuses.values())
    # A TERMINATED group run ends when the last of its killed runs has.
    move_group_run(
        group_run,
        settled(group_run.status, members_now),
        at=at,
        finished=all(is_terminal(s) for s in members_now),
    )


@dataclass(frozen=True)
class _Member:
    """What settling and readiness read of a group run's run: a few columns and its task's
    name, not the row (its spec, params and results would be decoded for every run, after
    every ended one)."""

    id: int
    status: RunStatus
    ignore_upstreams: bool
    finished_at: datetime | None
    name: str | None  # its task's


def _members(session: Session, group_run_id: int) -> dict[int, _Member]:
    """Task id -> its run in the group run (the latest, should there be more), in one query."""
    columns = (Run.task_id, Run.id, Run.status, Run.ignore_upstreams, Run.finished_at, Task.name)
    rows = session.execute(  # through the session: what it changed is flushed first
        core_select(*(col(c) for c in columns))
        .outerjoin(Task, col(Task.id) == col(Run.task_id))
        .where(col(Run.group_run_id) == group_run_id)
        .order_by(col(Run.id))
    ).all()
    return {
        tid: _Member(run_id or 0, status, bool(ignore), finished, name)
        for tid, run_id, status, ignore, finished, name in rows
        if tid is not None
    }


def _names(members: dict[int, _Member]) -> dict[int, str]:
    return {tid: m.name for tid, m in members.items() if m.name is not None}


def settle_ended(session: Session) -> None:
    """Settle the group runs whose runs ended in this transaction (a before-commit step of
    the unit of work, wired by app/wiring.py, so every path that ends a run settles)."""
    # Skips may end more runs, which may end more group runs: repeat until quiet.
    while ended := session.info.pop(ENDED_GROUP_RUNS, None):
        for group_run_id, at in sorted(ended.items()):
            settle(session, group_run_id, at)
        session.flush()


# ---- readiness (dispatch and "why") ----------------------------------------------------
@dataclass(frozen=True)
class _Graph:
    """One group run's DAG as a pass sees it."""

    incoming: dict[int, list[Edge]]  # task id -> its edges from upstream
    runs: dict[int, _Member]  # task id -> its run in the group run
    names: dict[int, str]
    statuses: dict[int, RunStatus]


class Upstreamed(Protocol):
    """What `Blockers.of` reads of a run (an ORM row or a pass's plain row)."""

    @property
    def group_run_id(self) -> int | None: ...
    @property
    def task_id(self) -> int | None: ...
    @property
    def ignore_upstreams(self) -> bool: ...


@dataclass
class Blockers:
    """What keeps runs of group runs from starting, computed once per group run per pass."""

    session: Session
    # The group's edges, shared with what the pass reads of upstreams (run_results).
    upstreams: UpstreamCache = field(default_factory=UpstreamCache)
    _graphs: dict[int, _Graph] = field(default_factory=dict)
    _groups: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # Held here: the session keeps loaded rows only while someone else holds them too.
    _group_runs: dict[int, GroupRun | None] = field(default_factory=dict)

    def of(self, run: Upstreamed) -> list[dict[str, Any]]:
        """Empty when `run` may start now as far as its group run is concerned."""
        if run.group_run_id is None or run.task_id is None or run.ignore_upstreams:
            return []
        group_run = self._group_run(run.group_run_id)
        if group_run is None:
            return []
        blockers = list(self._upstream_groups(group_run))
        graph = self._graph(group_run)
        runs, names = graph.runs, graph.names
        verdict = evaluate(run.task_id, graph.incoming.get(run.task_id, []), graph.statuses, names)
        if verdict.readiness is Readiness.IMPOSSIBLE:
            # Settling skips it at the next commit; until then it must not start.
            blockers.append({"kind": "upstream", "detail": f"will be skipped: {verdict.reason}"})
        elif verdict.readiness is not Readiness.READY:
            for tid in verdict.waiting_for:
                upstream = runs.get(tid)
                blockers.append(
                    {
                        "kind": "upstream",
                        "task": tid,
                        "name": names.get(tid, str(tid)),
                        "run": upstream.id if upstream else None,
                        "status": upstream.status if upstream else None,
                        "detail": f"waiting for upstream {names.get(tid, tid)} "
                        f"({upstream.status if upstream else 'no run'})",
                    }
                )
        return blockers

    def released_at(self, run: Run) -> datetime | None:
        """When the last upstream of `run` ended (for the dependency-hop metric)."""
        if run.group_run_id is None or run.task_id is None:
            return None
        group_run = self._group_run(run.group_run_id)
        if group_run is None:
            return None
        graph = self._graph(group_run)
        ends = [
            graph.runs[e.upstream].finished_at
            for e in graph.incoming.get(run.task_id, [])
            if e.upstream in graph.runs
        ]
        return max((end for end in ends if end is not None), default=None)

    def _group_run(self, key: int) -> GroupRun | None:
        if key not in self._group_runs:
            group_run = self._group_runs[key] = self.session.get(GroupRun, key)
            self.upstreams.group_of[key] = group_run.group_id if group_run else None
        return self._group_runs[key]

    def _graph(self, group_run: GroupRun) -> _Graph:
        key = group_run.id or 0
        if key not in self._graphs:
            runs = _members(self.session, key)
            incoming: dict[int, list[Edge]] = {}
            for edge in cached_edges(self.session, group_run.group_id, self.upstreams):
                incoming.setdefault(edge.downstream, []).append(edge)
            # Statuses are read once: within a pass runs only move from ACTIVE to TRIGGER,
            # which changes no one's readiness.
            self._graphs[key] = _Graph(
                incoming=incoming,
                runs=runs,
                names=_names(runs),
                statuses={tid: r.status for tid, r in runs.items()},
            )
        return self._graphs[key]

    def _upstream_groups(self, group_run: GroupRun) -> list[dict[str, Any]]:
        key = group_run.id or 0
        if key not in self._groups:
            self._groups[key] = _group_blockers(self.session, group_run)
        return self._groups[key]


def _group_blockers(session: Session, group_run: GroupRun) -> list[dict[str, Any]]:
    blockers = []
    for upstream_gid in upstream_groups(session, group_run.group_id):
        upstream = session.get(TaskGroup, upstream_gid)
        latest = session.exec(
            select(GroupRun)
            .where(
                GroupRun.group_id == upstream_gid,
                GroupRun.business_date == group_run.business_date,
                GroupRun.status != GroupRunStatus.IDLE,
                # A skip planning recorded is not that day's run (the day may have others).
                col(GroupRun.reason).is_(None) | ~planned_skip(col(GroupRun.reason)),
            )
            .order_by(col(GroupRun.id).desc())
        ).first()
        if latest is not None and latest.status == "SUCCESS":
            continue
        name = upstream.name if upstream else str(upstream_gid)
        state = latest.status if latest else "no run yet"
        blockers.append(
            {
                "kind": "upstream_group",
                "group": upstream_gid,
                "name": name,
                "status": state,
                "detail": f"waiting for group {name} of {group_run.business_date} ({state})",
            }
        )
    return blockers
