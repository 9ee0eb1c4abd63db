"""Group schedules: the next occurrence of a group is an IDLE group run; when due it starts
the runs of all the group's tasks (see group_runs.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.db.group_run_moves import move_group_run
from app.db.tables import Freeze, GroupRun, TaskGroup
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import TriggerKind
from app.domain.timing import timing_next_fire
from app.scheduler.group_runs import group_zone, start_group_run
from app.scheduler.planner import Calendars

# A group occurrence later than this after its trigger (no scheduler was up) is recorded
# as missed rather than started.
GROUP_MISFIRE_GRACE = timedelta(hours=1)


def group_occurrence_key(gid: int, at: datetime) -> str:
    return f"g{gid}@{at.isoformat()}"


def plan_group(
    session: Session, group: TaskGroup, *, now: datetime, calendars: Calendars | None = None
) -> GroupRun | None:
    # "fetch": drop from the session only the rows deleted; the default compares every
    # loaded group run with the criteria, which makes planning thousands of groups quadratic.
    session.exec(
        delete(GroupRun)
        .where(col(GroupRun.group_id) == group.id, col(GroupRun.status) == GroupRunStatus.IDLE)
        .execution_options(synchronize_session="fetch")
    )
    if not group.active or not group.schedule:
        return None
    calendars = calendars or Calendars(session)
    timing = calendars.timing(group)
    if timing is None:
        return None
    last = session.exec(
        select(GroupRun.trigger_time)
        .where(GroupRun.group_id == group.id, GroupRun.trigger_kind == TriggerKind.SCHEDULE)
        .order_by(col(GroupRun.trigger_time).desc())
        .limit(1)
    ).first()
    at = timing_next_fire(timing, max(now, last or now), calendars.for_schedule)
    if at is None:
        return None
    group_run = GroupRun(
        group_id=group.id or 0,
        status=GroupRunStatus.IDLE,
        trigger_kind=TriggerKind.SCHEDULE,
        trigger_time=at,
        business_date=at.astimezone(group_zone(group)).date(),
        occurrence_key=group_occurrence_key(group.id or 0, at),
        created_at=now,
        instance=group.instance,
    )
    session.add(group_run)
    session.flush()
    return group_run


def pending_group_triggers(session: Session) -> dict[int, datetime]:
    rows = session.exec(
        select(GroupRun.group_id, GroupRun.trigger_time).where(
            GroupRun.status == GroupRunStatus.IDLE
        )
    ).all()
    return {int(gid): at for gid, at in rows if at is not None}


def fire_due_groups(session: Session, *, now: datetime) -> list[int]:
    """Start every IDLE group run due at `now`; returns the ids of the groups that fired."""
    due = session.exec(
        select(GroupRun)
        .where(GroupRun.status == GroupRunStatus.IDLE, col(GroupRun.trigger_time) <= now)
        .with_for_update(skip_locked=True)
    ).all()
    fired = []
    for group_run in due:
        group = session.get(TaskGroup, group_run.group_id)
        assert group is not None and group_run.trigger_time is not None
        frozen = session.exec(
            select(Freeze).where(Freeze.group_id == group.id, Freeze.day == group_run.business_date)
        ).first()
        if frozen is not None:
            move_group_run(group_run, GroupRunStatus.SKIPPED, at=now)
        elif now - group_run.trigger_time > GROUP_MISFIRE_GRACE:
            move_group_run(group_run, GroupRunStatus.MISSED, at=now)
        else:
            start_group_run(session, group, now=now, kind=TriggerKind.SCHEDULE, group_run=group_run)
        fired.append(group.id or 0)
    return fired


def plan_groups(session: Session, gids: list[int], *, now: datetime) -> dict[int, datetime | None]:
    calendars = Calendars(session)
    result: dict[int, datetime | None] = {}
    for gid in gids:
        group = session.get(TaskGroup, gid)
        if group is not None:
            planned = plan_group(session, group, now=now, calendars=calendars)
            result[gid] = planned.trigger_time if planned else None
    return result
