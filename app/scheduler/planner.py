"""Planning: the next occurrence of each schedule is an IDLE run; due ones become ACTIVE.

The unique `occurrence_key` makes an occurrence impossible to fire twice, whoever plans it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.db.calendars import calendar_spec
from app.db.runs import create_run, task_spec, transition
from app.db.tables import Run, RunEvent, Task
from app.domain.schedules import parse_schedule
from app.domain.states import RunStatus, TriggerKind
from app.domain.triggers import next_fire_time

FIRE_BATCH = 2000
# Later than this counts as a misfire (the scheduler was down), not a busy moment.
_ON_TIME = timedelta(seconds=60)


def occurrence_key(task_id: int, at: datetime) -> str:
    return f"t{task_id}@{at.isoformat()}"


def plan_task(session: Session, task: Task, *, now: datetime) -> Run | None:
    """(Re)plan `task`: drop its pending IDLE occurrence and materialise the next one."""
    assert task.id is not None
    idle = select(Run.id).where(Run.task_id == task.id, Run.status == RunStatus.IDLE.value)
    ids = list(session.exec(idle).all())
    if ids:
        session.exec(delete(RunEvent).where(col(RunEvent.run_id).in_(ids)))
        session.exec(delete(Run).where(col(Run.id).in_(ids)))
    task.next_fire_time = None
    if not task.active or not task.schedule or task.group_id is not None:
        return None
    schedule = parse_schedule(task.schedule)
    calendar = calendar_spec(session, schedule.calendar) if schedule.calendar else None
    after = max(now, _last_trigger(session, task.id) or now)
    at = next_fire_time(schedule, after, calendar)
    if at is None:
        return None
    task.next_fire_time = at
    return create_run(
        session, at=now, status=RunStatus.IDLE, trigger_kind=TriggerKind.SCHEDULE,
        spec=task_spec(task), task=task, trigger_time=at,
        occurrence_key=occurrence_key(task.id, at),
        detail=f"planned for {at.isoformat()}",
    )


def _last_trigger(session: Session, task_id: int) -> datetime | None:
    """The latest scheduled occurrence already taken, so a re-plan never repeats it."""
    stmt = (
        select(Run.trigger_time)
        .where(Run.task_id == task_id, Run.trigger_kind == TriggerKind.SCHEDULE.value,
               Run.status != RunStatus.IDLE.value)
        .order_by(col(Run.trigger_time).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


@dataclass(frozen=True)
class FireResult:
    activated: list[int]
    missed: list[int]
    replanned: dict[int, datetime | None]  # task id -> its new next fire time


def fire_due(session: Session, *, now: datetime) -> FireResult:
    """Turn every IDLE occurrence due at `now` into an ACTIVE run and plan what follows."""
    stmt = (
        select(Run)
        .where(Run.status == RunStatus.IDLE.value, col(Run.trigger_time) <= now,
               col(Run.task_id).is_not(None))
        .order_by(col(Run.trigger_time))
        .limit(FIRE_BATCH)
        .with_for_update(skip_locked=True)
    )
    due: Sequence[Run] = session.exec(stmt).all()
    tasks = _tasks_by_id(session, {run.task_id for run in due if run.task_id is not None})
    activated, missed = [], []
    for run in due:
        task = tasks[run.task_id or 0]
        assert run.trigger_time is not None
        late = now - run.trigger_time
        grace = timedelta(seconds=task.misfire_grace_seconds)
        if late > grace or (task.misfire == "skip" and late > _ON_TIME):
            transition(session, run, RunStatus.SKIPPED, at=now, reason="missed: scheduler down",
                       detail=f"{late.total_seconds():.0f}s late, past the misfire grace")
            missed.append(run.id or 0)
        else:
            transition(session, run, RunStatus.ACTIVE, at=now,
                       detail=f"trigger time reached ({late.total_seconds() * 1000:.0f} ms late)")
            activated.append(run.id or 0)
    replanned: dict[int, datetime | None] = {}
    session.flush()
    for task in tasks.values():
        plan_task(session, task, now=now)
        replanned[task.id or 0] = task.next_fire_time
    return FireResult(activated=activated, missed=missed, replanned=replanned)


def _tasks_by_id(session: Session, ids: set[int]) -> dict[int, Task]:
    if not ids:
        return {}
    return {t.id or 0: t for t in session.exec(select(Task).where(col(Task.id).in_(ids))).all()}


def pending_triggers(session: Session) -> dict[int, datetime]:
    """Task id -> trigger time of its IDLE occurrence: what the timer must wake up for."""
    stmt = select(Run.task_id, Run.trigger_time).where(
        Run.status == RunStatus.IDLE.value, col(Run.task_id).is_not(None)
    )
    return {int(tid): at for tid, at in session.exec(stmt).all() if tid is not None and at}
