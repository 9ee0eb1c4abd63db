"""The Task Runs list: its filters, one page of rows (through the runs service), and the
test a run pushed live must pass to join an open page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlencode

from app.context import AppContext
from app.db.engine import session_scope
from app.domain.states import RunStatus
from app.models.schemas import RunPublic
from app.services import run_reads, runs
from app.services.actor import Actor
from app.web.calls import Calls
from app.web.run_filters import MoreFilters, viewer_zone

PAGE_SIZE = 50
Range = Literal["", "6h", "12h", "24h", "3d", "7d"]
RANGES: dict[str, timedelta] = {
    "6h": timedelta(hours=6),
    "12h": timedelta(hours=12),
    "24h": timedelta(hours=24),
    "3d": timedelta(days=3),
    "7d": timedelta(days=7),
}
FILTER_STATUSES = (
    "RUNNING",
    "SUCCESS",
    "FAILED",
    "TERMINATED",
    "IDLE",
    "ACTIVE",
    "TRIGGER",
    "STARTED",
    "PAUSED",
    "SKIPPED",
    "PENDING_APPROVAL",
)


@dataclass(frozen=True, kw_only=True)
class RunFilters:
    q: str = ""
    status: str = ""
    range: Range = ""
    page: int = 1
    # Keyset cursors (run ids): the page below `before`, or the one just above `after`;
    # `page` then only numbers the page.
    before: int = 0
    after: int = 0
    more: MoreFilters = MoreFilters()

    @property
    def first_page(self) -> bool:
        return self.page == 1 and not self.before and not self.after

    def older(self, ids: Sequence[int]) -> str:
        """The query of the next page down (older runs), by key (by number when sorted)."""
        if self.more.run_query().reorders:
            return self.query(page=self.page + 1, before=0, after=0)
        return self.query(page=self.page + 1, before=ids[-1] if ids else 0, after=0)

    def newer(self, ids: Sequence[int]) -> str:
        """The query of the page above (newer runs), by key; page 2 goes back to the top."""
        if self.more.run_query().reorders:
            return self.query(page=max(self.page - 1, 1), before=0, after=0)
        if self.page <= 2 or not ids:
            return self.query(page=1, before=0, after=0)
        return self.query(page=self.page - 1, before=0, after=ids[0])

    def since(self, now: datetime) -> datetime | None:
        delta = RANGES.get(self.range)
        return now - delta if delta else None

    def query(self, **override: str | int) -> str:
        """The query string of these filters (with changes), without empty values."""
        values: dict[str, str | int] = {
            "q": self.q,
            "status": self.status,
            "range": self.range,
            "page": self.page,
            "before": self.before,
            "after": self.after,
        }
        values.update(self.more.values())
        values.update(override)
        return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == 1)})

    def admits(self, run: RunPublic, now: datetime) -> bool:
        """Would a run created after the page was drawn appear on it?"""
        if not self.more.admits(run):
            return False
        if self.status and run.status != self.status:
            return False
        if self.q and self.q.lower() not in str(run.task_name or "").lower():
            return False
        since = self.since(now)
        return since is None or (run.trigger_time is not None and run.trigger_time >= since)


@dataclass(frozen=True)
class RunRow:
    run: RunPublic
    group: str | None = None


@dataclass(frozen=True)
class RunsPage:
    rows: list[RunRow]
    filters: RunFilters
    has_more: bool
    ids: list[int] = field(default_factory=list)


async def load_page(calls: Calls, context: AppContext, filters: RunFilters) -> RunsPage:
    """One page of the runs service's list (its filters, instance scope and order)."""
    if filters.more.error:  # the page shows the error, and no rows
        return RunsPage(rows=[], filters=filters, has_more=False)
    since = filters.since(context.clock.now())
    start, until = filters.more.bounds(viewer_zone(calls.session.user.timezone))
    if start is not None:
        since = max(since, start) if since else start
    more = filters.more.run_query()
    keyed_off = more.reorders
    page = await calls.read(
        runs.list_runs,
        status=[RunStatus(filters.status)] if filters.status else None,
        q=filters.q or None,
        group=filters.more.group,
        since=since,
        until=until,
        page=filters.page,
        page_size=PAGE_SIZE,
        # a sorted page goes by number: its cursors (from a newest-first link) no longer apply
        before=None if keyed_off else filters.before or None,
        after=None if keyed_off else filters.after or None,
        more=more,
    )
    rows = await calls.run(lambda: rows_of(context, calls.actor, page.items))
    return RunsPage(
        rows=rows, filters=filters, has_more=page.has_more, ids=[r.id for r in page.items]
    )


def load_runs(context: AppContext, actor: Actor, ids: Iterable[int]) -> list[RunPublic]:
    """The runs among `ids` that `actor` may see, newest first."""
    with session_scope(context.engine) as session:
        return run_reads.runs_by_ids(session, actor=actor, ids=ids)


def rows_of(context: AppContext, actor: Actor, runs: Sequence[RunPublic]) -> list[RunRow]:
    """Each run with the name of its task's group."""
    task_ids = {r.task for r in runs if r.task is not None}
    with session_scope(context.engine) as session:
        names = run_reads.group_names(session, actor=actor, task_ids=task_ids)
    return [RunRow(r, names.get(r.task) if r.task is not None else None) for r in runs]
