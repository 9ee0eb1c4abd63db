"""The leader's backfill step: each running backfill starts its next dates (oldest or newest
first, as planned) while fewer than `max_concurrent` of its runs, or group runs, are
unfinished; a backfill whose dates have all started and ended is done.

A task backfill makes one task run per date (`trigger_kind` backfill, `business_date` the
date, the backfill's params); a group backfill makes one group run per date, so the group's
DAG runs for that date and waits for upstream groups' runs of the same business date.

Two callers: the leader's tick (`backfill_pass`, every running backfill) and, before the
commit of any transaction that ended one of a backfill's runs (`step_ended`, wired by
app/wiring.py), that backfill alone: a finished date starts the next at once, not at the next
tick, and the new runs wake dispatch after the commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from app.db import backfills as rows
from app.db import unit_of_work
from app.db.backfill_tables import Backfill, BackfillDate
from app.db.runs import ENDED_BACKFILLS, add_runs, new_run, task_spec
from app.db.tables import GroupRun, Run, Task, TaskGroup
from app.domain.events import DispatchWanted
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import RunStatus, TriggerKind
from app.scheduler.group_runs import start_group_run


def backfill_pass(session: Session, *, now: datetime) -> int:
    """Start what the running backfills may start now; returns how many dates started."""
    running = session.exec(
        select(Backfill)
        .where(Backfill.status == rows.RUNNING)
        .order_by(col(Backfill.id))
        .with_for_update(skip_locked=True)
    ).all()
    return sum(_step(session, backfill, now) for backfill in running)


def step_ended(session: Session) -> None:
    """Step the running backfills whose runs ended in this transaction (a before-commit
    step, after the group runs are settled). A backfill another transaction holds is left to
    it or to the tick."""
    ended: dict[int, datetime] = session.info.pop(ENDED_BACKFILLS, None) or {}
    if not ended:
        return
    stmt = (
        select(Backfill)
        .where(col(Backfill.id).in_(sorted(ended)), Backfill.status == rows.RUNNING)
        .order_by(col(Backfill.id))
        .with_for_update(skip_locked=True)
    )
    running = session.exec(stmt).all()
    started = sum(_step(session, backfill, ended[backfill.id or 0]) for backfill in running)
    if started:
        unit_of_work.record(session, DispatchWanted())


def _step(session: Session, backfill: Backfill, now: datetime) -> int:
    target = _target(session, backfill)
    if target is None:
        _cancel_pending(session, backfill)
        rows.touch(backfill, rows.CANCELLED, at=now, reason="its task or group was deleted")
        return 0
    going = rows.unfinished(session, backfill)
    free = backfill.max_concurrent - going
    if free <= 0:
        return 0
    due = rows.next_pending(session, backfill.id or 0, free)
    if not due and going == 0:
        rows.touch(backfill, rows.DONE, at=now)
        return 0
    for item in due:
        if isinstance(target, TaskGroup):
            item.group_run_id = _start_group_date(session, backfill, target, item, now)
        else:
            item.run_id = _start_task_date(session, backfill, target, item, now)
        item.state = "started"
        item.started_at = now
    backfill.updated_at = now
    session.flush()
    return len(due)


def _target(session: Session, backfill: Backfill) -> Task | TaskGroup | None:
    if backfill.group_id is not None:
        return session.get(TaskGroup, backfill.group_id)
    return session.get(Task, backfill.task_id)


def _start_task_date(
    session: Session, backfill: Backfill, task: Task, item: BackfillDate, now: datetime
) -> int:
    run = new_run(
        at=now,
        status=RunStatus.ACTIVE,
        trigger_kind=TriggerKind.BACKFILL,
        spec=task_spec(task),
        task=task,
        created_by=backfill.created_by,
        business_date=item.day,
        params=backfill.params,
    )
    run.backfill_id = backfill.id
    add_runs(session, [(run, f"backfill {backfill.id} of {item.day.isoformat()}")])
    return run.id or 0


def _start_group_date(
    session: Session, backfill: Backfill, group: TaskGroup, item: BackfillDate, now: datetime
) -> int:
    group_run = GroupRun(
        group_id=group.id or 0,
        status=GroupRunStatus.IDLE,
        trigger_kind=TriggerKind.BACKFILL,
        trigger_time=now,
        business_date=item.day,
        params=dict(backfill.params),
        created_by=backfill.created_by,
        created_at=now,
        instance=group.instance,
        group_version=group.version or None,
    )
    session.add(group_run)
    start_group_run(
        session,
        group,
        now=now,
        kind=TriggerKind.BACKFILL,
        group_run=group_run,
        created_by=backfill.created_by,
    )
    # Its tasks' runs got the date and their values from the group run.
    runs = session.exec(select(Run).where(Run.group_run_id == group_run.id)).all()
    for run in runs:
        run.backfill_id = backfill.id
    return group_run.id or 0


def _cancel_pending(session: Session, backfill: Backfill) -> int:
    pending = session.exec(
        select(BackfillDate).where(
            BackfillDate.backfill_id == backfill.id, BackfillDate.state == "pending"
        )
    ).all()
    for item in pending:
        item.state = "cancelled"
    return len(pending)
