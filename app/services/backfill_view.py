"""A backfill as the API shows it: its plan, and each date's progress from its run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlmodel import Session

from app.db import backfills as rows
from app.db.backfill_tables import Backfill, BackfillDate
from app.domain.backfill_plan import DatePlan
from app.models.backfill_schemas import BackfillDatePublic, BackfillPublic


def preview_public(backfill: Backfill, plans: Sequence[DatePlan]) -> BackfillPublic:
    """A plan not stored (dry run): every date with its action and reason."""
    dates = [BackfillDatePublic(date=p.date, action=p.action, reason=p.reason) for p in plans]
    return _public(backfill, dates, status="dry_run")


def backfill_public(
    session: Session, backfill: Backfill, *, with_dates: bool = True
) -> BackfillPublic:
    """A stored backfill with its progress: dates pending, running, done (and how their runs
    ended), cancelled."""
    items = rows.dates_of(session, backfill.id or 0)
    statuses = rows.started_statuses(session, backfill)
    dates = [_date_public(backfill, item, statuses.get(item.id or 0)) for item in items]
    public = _public(backfill, dates, status=backfill.status)
    public.progress = dict(Counter(d.state for d in dates if d.action == "run" and d.state))
    public.statuses = dict(Counter(d.status for d in dates if d.status))
    if not with_dates:
        public.dates = []
    return public


def _date_public(backfill: Backfill, item: BackfillDate, status: str | None) -> BackfillDatePublic:
    if item.state == "skip":
        state = "skipped"
    elif item.state == "started":
        state = "done" if status and rows.is_finished(backfill, status) else "running"
    else:
        state = item.state
    return BackfillDatePublic(
        date=item.day,
        action="skip" if item.state == "skip" else "run",
        reason=item.reason,
        state=state,
        status=status,
        run=item.run_id,
        group_run=item.group_run_id,
    )


def _public(backfill: Backfill, dates: list[BackfillDatePublic], *, status: str) -> BackfillPublic:
    runs = sum(1 for d in dates if d.action == "run")
    return BackfillPublic(
        id=backfill.id,
        task=backfill.task_id,
        group=backfill.group_id,
        name=backfill.target_name,
        start=backfill.start,
        end=backfill.end,
        mode=backfill.mode,
        order=backfill.order,
        max_concurrent=backfill.max_concurrent,
        params=dict(backfill.params),
        status=status,
        reason=backfill.reason,
        instance=backfill.instance,
        created_by=backfill.created_by,
        created_at=backfill.created_at,
        finished_at=backfill.finished_at,
        total=len(dates),
        run_count=runs,
        skip_count=len(dates) - runs,
        dates=dates,
    )
