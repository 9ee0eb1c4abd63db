"""A group with a history, written straight into a real database: a group of tasks with
its dependency edges, group runs with their task runs at chosen times and statuses. For the
grid, Gantt, heat-map and Task Runs tests (the scheduler's own paths are tested elsewhere)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from app.db.engine import session_scope
from app.db.tables import DependencyEdge, GroupRun, Run, Task, TaskGroup
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import RunStatus, TriggerKind

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# extract -> transform -> load, extract -> check -> load
DIAMOND = (("extract", "transform"), ("extract", "check"), ("transform", "load"), ("check", "load"))


def at(minutes: float, base: datetime = T0) -> datetime:
    return base + timedelta(minutes=minutes)


@dataclass(frozen=True)
class Seeded:
    gid: int
    tids: dict[str, int]


@dataclass(frozen=True, kw_only=True)
class TaskRun:
    """A task run's status and times in minutes after its group run's trigger time."""

    status: RunStatus = RunStatus.SUCCESS
    dispatched: float | None = None
    started: float | None = None
    finished: float | None = None
    reason: str | None = None
    agent: str | None = "a1"


def seed_group(
    engine: Engine,
    name: str = "nightly",
    *,
    instance: str = "default",
    tasks: Sequence[str] = ("extract", "transform", "check", "load"),
    edges: Sequence[tuple[str, str]] = DIAMOND,
) -> Seeded:
    with session_scope(engine) as session:
        group = TaskGroup(name=name, instance=instance, schedule=None, created_at=T0)
        session.add(group)
        session.flush()
        tids: dict[str, int] = {}
        for task_name in tasks:
            task = Task(
                name=f"{name}-{task_name}",
                command="true",
                group_id=group.id,
                instance=instance,
                created_at=T0,
            )
            session.add(task)
            session.flush()
            tids[task_name] = task.id or 0
        for upstream, downstream in edges:
            session.add(
                DependencyEdge(
                    group_id=group.id or 0,
                    upstream_id=tids[upstream],
                    downstream_id=tids[downstream],
                )
            )
        return Seeded(group.id or 0, tids)


def seed_group_run(
    engine: Engine,
    seeded: Seeded,
    *,
    day: date,
    status: GroupRunStatus = GroupRunStatus.SUCCESS,
    runs: Mapping[str, TaskRun] | None = None,
    instance: str = "default",
    trigger: datetime | None = None,
) -> tuple[int, dict[str, int]]:
    """A group run on business date `day` and its task runs; returns their ids."""
    start = trigger or datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
    with session_scope(engine) as session:
        group_run = GroupRun(
            group_id=seeded.gid,
            status=status,
            trigger_kind=TriggerKind.SCHEDULE,
            trigger_time=start,
            business_date=day,
            created_at=start,
            instance=instance,
        )
        session.add(group_run)
        session.flush()
        ids: dict[str, int] = {}
        for task_name, spec in (runs or {}).items():
            run = Run(
                task_id=seeded.tids[task_name],
                group_run_id=group_run.id,
                status=spec.status,
                reason=spec.reason,
                trigger_kind=TriggerKind.SCHEDULE,
                trigger_time=start,
                created_at=start,
                dispatched_at=_at(start, spec.dispatched),
                started_at=_at(start, spec.started),
                finished_at=_at(start, spec.finished),
                agent=spec.agent if spec.dispatched is not None else None,
                business_date=day,
                instance=instance,
                spec={"task_name": f"{task_name}", "command": "true"},
            )
            session.add(run)
            session.flush()
            ids[task_name] = run.id or 0
        return group_run.id or 0, ids


def _at(start: datetime, minutes: float | None) -> datetime | None:
    return None if minutes is None else at(minutes, start)


def nightly_success() -> dict[str, TaskRun]:
    """The diamond where `transform` is slow: extract → transform → load is critical."""
    return {
        "extract": TaskRun(dispatched=0, started=0, finished=2),
        "transform": TaskRun(dispatched=2, started=2, finished=10),
        "check": TaskRun(dispatched=3, started=3, finished=4),  # waited 1 min for a slot
        "load": TaskRun(dispatched=10, started=10, finished=12),
    }
