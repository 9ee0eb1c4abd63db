"""Backfill rows: what already happened to a range's dates, the stored plan, and the state
of each date (from its run or group run)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import insert
from sqlmodel import Session, col, func, select

from app.db.backfill_tables import Backfill, BackfillDate
from app.db.tables import Freeze, GroupRun, Run
from app.domain.backfill_plan import DatePlan, History
from app.domain.group_run_states import GROUP_ENDED, GroupRunStatus
from app.domain.states import ON_AGENT, TERMINAL, RunStatus
from app.errors import NotFound

_BAD_RUN = {RunStatus.FAILED, RunStatus.TERMINATED, RunStatus.REJECTED}
_GOING_RUN = {RunStatus.ACTIVE, *ON_AGENT}
_BAD_GROUP = {GroupRunStatus.FAILED, GroupRunStatus.TERMINATED}

# Backfill statuses.
PENDING_APPROVAL, RUNNING, PAUSED = "pending_approval", "running", "paused"
CANCELLED, DONE, REJECTED = "cancelled", "done", "rejected"
ENDED = frozenset({CANCELLED, DONE, REJECTED})


def history(
    session: Session, *, task_id: int | None, group_id: int | None, start: date, end: date
) -> History:
    """Per date of [start, end]: succeeded, failed (and never succeeded), in progress, frozen."""
    outcomes: list[tuple[date, str]]
    if group_id is not None:
        rows = session.exec(
            select(col(GroupRun.business_date), col(GroupRun.status)).where(
                GroupRun.group_id == group_id,
                col(GroupRun.business_date).between(start, end),
            )
        ).all()
        outcomes = [(d, _group_outcome(GroupRunStatus(s))) for d, s in rows if d is not None]
        freeze = col(Freeze.group_id) == group_id
    else:
        found = session.exec(
            select(col(Run.business_date), col(Run.status)).where(
                Run.task_id == task_id, col(Run.business_date).between(start, end)
            )
        ).all()
        outcomes = [(d, _run_outcome(RunStatus(s))) for d, s in found if d is not None]
        freeze = col(Freeze.task_id) == task_id
    succeeded = {d for d, o in outcomes if o == "success"}
    frozen = session.exec(
        select(col(Freeze.day), col(Freeze.reason)).where(
            freeze, col(Freeze.day).between(start, end)
        )
    ).all()
    return History(
        succeeded=succeeded,
        failed={d for d, o in outcomes if o == "failed"} - succeeded,
        in_progress={d for d, o in outcomes if o == "going"},
        frozen=dict(frozen),
    )


def _run_outcome(status: RunStatus) -> str:
    if status is RunStatus.SUCCESS:
        return "success"
    if status in _BAD_RUN:
        return "failed"
    return "going" if status in _GOING_RUN else "other"


def _group_outcome(status: GroupRunStatus) -> str:
    if status is GroupRunStatus.SUCCESS:
        return "success"
    if status in _BAD_GROUP:
        return "failed"
    return "going" if status is GroupRunStatus.RUNNING else "other"


def store_dates(session: Session, backfill: Backfill, plans: Sequence[DatePlan]) -> None:
    """One row per date, in the order they are taken (one executemany, not 1,000 objects)."""
    rows = [
        {
            "backfill_id": backfill.id,
            "day": p.date,
            "position": position,
            "state": "pending" if p.action == "run" else "skip",
            "reason": p.reason,
        }
        for position, p in enumerate(plans)
    ]
    if rows:
        session.execute(insert(BackfillDate), rows)


def get_backfill(session: Session, backfill_id: int, *, lock: bool = False) -> Backfill:
    row = session.get(Backfill, backfill_id, with_for_update=lock)
    if row is None:
        raise NotFound("backfill", backfill_id)
    return row


def dates_of(session: Session, backfill_id: int) -> Sequence[BackfillDate]:
    return session.exec(
        select(BackfillDate)
        .where(BackfillDate.backfill_id == backfill_id)
        .order_by(col(BackfillDate.position))
    ).all()


def started_statuses(session: Session, backfill: Backfill) -> dict[int, str]:
    """BackfillDate id -> the status of the run (or group run) it started."""
    if backfill.group_id is not None:
        rows = session.exec(
            select(BackfillDate.id, GroupRun.status)
            .join(GroupRun, col(GroupRun.id) == col(BackfillDate.group_run_id))
            .where(BackfillDate.backfill_id == backfill.id)
        ).all()
    else:
        rows = session.exec(
            select(BackfillDate.id, Run.status)
            .join(Run, col(Run.id) == col(BackfillDate.run_id))
            .where(BackfillDate.backfill_id == backfill.id)
        ).all()
    return {int(i or 0): str(s) for i, s in rows}


def is_finished(backfill: Backfill, status: str) -> bool:
    """Whether the run (or group run) of a started date has ended."""
    if backfill.group_id is not None:
        return GroupRunStatus(status) in GROUP_ENDED
    return RunStatus(status) in TERMINAL


def unfinished(session: Session, backfill: Backfill) -> int:
    """How many of its runs (or group runs) have not ended: the cap counts these."""
    if backfill.group_id is not None:
        stmt = (
            select(func.count())
            .select_from(BackfillDate)
            .join(GroupRun, col(GroupRun.id) == col(BackfillDate.group_run_id))
            .where(
                BackfillDate.backfill_id == backfill.id,
                col(GroupRun.status).not_in([s.value for s in GROUP_ENDED]),
            )
        )
    else:
        stmt = (
            select(func.count())
            .select_from(Run)
            .where(
                Run.backfill_id == backfill.id,
                col(Run.status).not_in([s.value for s in TERMINAL]),
            )
        )
    return int(session.exec(stmt).one())


def next_pending(session: Session, backfill_id: int, limit: int) -> Sequence[BackfillDate]:
    return session.exec(
        select(BackfillDate)
        .where(BackfillDate.backfill_id == backfill_id, BackfillDate.state == "pending")
        .order_by(col(BackfillDate.position))
        .limit(limit)
    ).all()


def touch(backfill: Backfill, status: str, *, at: datetime, reason: str | None = None) -> None:
    backfill.status = status
    backfill.updated_at = at
    if reason is not None:
        backfill.reason = reason
    if status in ENDED:
        backfill.finished_at = at
