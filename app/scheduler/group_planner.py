"""Group schedules: the next occurrence of a group is an IDLE group run; when due it starts
the runs of all the group's tasks (see group_runs.py). The occurrences skipped on the way
(closed by the calendar, dropped by a DST rule, in a blackout window) are SKIPPED group runs
with the reason, as a task's are SKIPPED runs (planner.py): the group's occurrence ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app.db.group_run_moves import move_group_run
from app.db.tables import Freeze, GroupRun, TaskGroup
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import TriggerKind
from app.domain.timing import timing_forecast
from app.domain.triggers import SkippedOccurrence
from app.scheduler.group_runs import group_zone, start_group_run
from app.scheduler.planner import MAX_SKIPS_PER_PLAN, Calendars, planned_skip, skip_entry

# A group occurrence later than this after its trigger (no scheduler was up) is recorded
# as missed rather than started.
GROUP_MISFIRE_GRACE = timedelta(hours=1)


def group_occurrence_key(gid: int, at: datetime) -> str:
    return f"g{gid}@{at.isoformat()}"


def plan_group(
    session: Session, group: TaskGroup, *, now: datetime, calendars: Calendars | None = None
) -> GroupRun | None:
    """(Re)plan `group`: its next occurrence as an IDLE group run, the skips before it as
    SKIPPED ones. What was planned ahead is forgotten first (a changed schedule)."""
    # "fetch": drop from the session only the rows deleted; the default compares every
    # loaded group run with the criteria, which makes planning thousands of groups quadratic.
    session.exec(
        delete(GroupRun)
        .where(
            col(GroupRun.group_id) == group.id,
            (col(GroupRun.status) == GroupRunStatus.IDLE)
            | (
                (col(GroupRun.status) == GroupRunStatus.SKIPPED)
                & (col(GroupRun.trigger_time) > now)
                & planned_skip(col(GroupRun.reason))
            ),
        )
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
        .where(
            GroupRun.group_id == group.id,
            GroupRun.trigger_kind == TriggerKind.SCHEDULE,
            ~planned_skip(col(GroupRun.reason)) | col(GroupRun.reason).is_(None),
        )
        .order_by(col(GroupRun.trigger_time).desc())
        .limit(1)
    ).first()
    ahead = timing_forecast(timing, max(now, last or now), 1, calendars.for_schedule)
    for skipped in ahead.skipped[:MAX_SKIPS_PER_PLAN]:
        _record_skip(session, group, skipped, now)
    if not ahead.occurrences:
        return None
    group_run = _idle_group_run(group, ahead.occurrences[0].at, now)
    session.add(group_run)
    session.flush()
    return group_run


def plan_unplanned_groups(session: Session, groups: Sequence[TaskGroup], *, now: datetime) -> int:
    """`plan_group` for groups that have no IDLE group run yet (a scheduler's start), with a
    few queries for all of them; returns how many were planned."""
    ids = [g.id for g in groups if g.id is not None]
    last: dict[int, datetime] = {}
    for start in range(0, len(ids), 500):
        stmt = (
            select(GroupRun.group_id, func.max(GroupRun.trigger_time))
            .where(
                col(GroupRun.group_id).in_(ids[start : start + 500]),
                GroupRun.trigger_kind == TriggerKind.SCHEDULE,
            )
            .group_by(col(GroupRun.group_id))
        )
        last.update({gid: at for gid, at in session.exec(stmt).all() if at is not None})
    calendars = Calendars(session)
    planned = []
    for group in groups:
        timing = calendars.timing(group) if group.active and group.schedule else None
        if timing is None:
            continue
        after = max(now, last.get(group.id or 0) or now)
        ahead = timing_forecast(timing, after, 1, calendars.for_schedule)
        for skipped in ahead.skipped[:MAX_SKIPS_PER_PLAN]:
            _record_skip(session, group, skipped, now)
        if ahead.occurrences:
            planned.append(_idle_group_run(group, ahead.occurrences[0].at, now))
    session.add_all(planned)
    session.flush()
    return len(planned)


def _idle_group_run(group: TaskGroup, at: datetime, now: datetime) -> GroupRun:
    return GroupRun(
        group_id=group.id or 0,
        status=GroupRunStatus.IDLE,
        trigger_kind=TriggerKind.SCHEDULE,
        trigger_time=at,
        business_date=at.astimezone(group_zone(group)).date(),
        occurrence_key=group_occurrence_key(group.id or 0, at),
        created_at=now,
        instance=group.instance,
        group_version=group.version or None,
    )


def _record_skip(
    session: Session, group: TaskGroup, skipped: SkippedOccurrence, now: datetime
) -> None:
    at = (skipped.at or skipped.local).astimezone(UTC)
    at, key, reason, _detail = skip_entry(skipped, group_occurrence_key(group.id or 0, at))
    if session.exec(select(GroupRun.id).where(GroupRun.occurrence_key == key)).first():
        return
    group_run = GroupRun(
        group_id=group.id or 0,
        status=GroupRunStatus.IDLE,
        trigger_kind=TriggerKind.SCHEDULE,
        trigger_time=at,
        business_date=skipped.local.date(),
        occurrence_key=key,
        reason=reason,
        created_at=now,
        instance=group.instance,
        group_version=group.version or None,
    )
    move_group_run(group_run, GroupRunStatus.SKIPPED, at=now)  # planned, then skipped
    session.add(group_run)


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
            group_run.reason = "frozen" + (f": {frozen.reason}" if frozen.reason else "")
        elif now - group_run.trigger_time > GROUP_MISFIRE_GRACE:
            move_group_run(group_run, GroupRunStatus.MISSED, at=now)
            group_run.reason = f"missed: fell due more than {GROUP_MISFIRE_GRACE} before it fired"
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
