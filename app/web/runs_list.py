"""The Task Runs list: its filters, one page of rows (through the API's own query), and the
test a run pushed live must pass to join an open page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlencode

import anyio
from sqlmodel import col, select

from app.context import AppContext
from app.db.engine import session_scope
from app.db.tables import Run, Task, TaskGroup, User
from app.domain.roles import can_see_instance
from app.models.schemas import RunPage, RunPublic
from app.services.runs_view import run_public
from app.web.api import ApiClient

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
        }
        values.update(override)
        return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == 1)})

    def admits(self, run: Run, now: datetime) -> bool:
        """Would a run created after the page was drawn appear on it?"""
        if self.status and run.status != self.status:
            return False
        if self.q and self.q.lower() not in str(run.spec.get("task_name") or "").lower():
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


async def load_page(api: ApiClient, context: AppContext, filters: RunFilters) -> RunsPage:
    """One page through `GET /api/v1/runs` (its filters, instance scope and order)."""
    since = filters.since(context.clock.now())
    body = await api.get(
        "/runs",
        status=filters.status or None,
        q=filters.q or None,
        since=since.isoformat() if since else None,
        page=filters.page,
        page_size=PAGE_SIZE,
    )
    page = RunPage.model_validate(body)
    rows = await anyio.to_thread.run_sync(with_groups, context, page.items)
    return RunsPage(
        rows=rows, filters=filters, has_more=page.has_more, ids=[r.id for r in page.items]
    )


def with_groups(context: AppContext, runs: Sequence[RunPublic]) -> list[RunRow]:
    task_ids = {r.task for r in runs if r.task is not None}
    names: dict[int, str] = {}
    if task_ids:
        stmt = (
            select(Task.id, TaskGroup.name)
            .join(TaskGroup, col(Task.group_id) == col(TaskGroup.id))
            .where(col(Task.id).in_(task_ids))
        )
        with session_scope(context.engine) as session:
            names = {
                int(tid): str(name) for tid, name in session.exec(stmt).all() if tid is not None
            }
    return [RunRow(r, names.get(r.task) if r.task is not None else None) for r in runs]


def load_runs(context: AppContext, user: User, ids: Iterable[int]) -> list[Run]:
    """The runs among `ids` that `user` may see, newest first."""
    wanted = sorted(set(ids), reverse=True)
    if not wanted:
        return []
    with session_scope(context.engine) as session:
        rows = session.exec(
            select(Run).where(col(Run.id).in_(wanted)).order_by(col(Run.id).desc())
        ).all()
    return [r for r in rows if can_see_instance(user.instances, r.instance)]


def rows_of(context: AppContext, runs: Sequence[Run]) -> list[RunRow]:
    return with_groups(context, [run_public(r) for r in runs])
