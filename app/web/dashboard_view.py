"""The dashboard's figures: runs per status over the last day, runs per hour by status,
recent failures, agents, and the next runs due (read-only queries within the viewer's
instances; recent failures and agents come through the API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import ColumnElement, Engine, func, true
from sqlmodel import col, select

from app.db.engine import session_scope
from app.db.tables import Run, User
from app.models.schemas import RunPage, RunPublic
from app.web.api import ApiClient
from app.web.status import STATUSES

CARD_STATUSES = (
    "IDLE",
    "ACTIVE",
    "TRIGGER",
    "STARTED",
    "RUNNING",
    "SUCCESS",
    "FAILED",
    "TERMINATED",
)
HOURS = 24


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    counts: dict[str, int]
    hours: list[str]  # labels "14:00"
    per_hour: dict[str, list[int]]  # status → count per hour
    failures: list[RunPublic]
    agents: list[dict[str, Any]]
    next_due: list[Run] = field(default_factory=list)

    @property
    def agents_online(self) -> int:
        return sum(1 for a in self.agents if a.get("connected"))

    def chart(self) -> dict[str, Any]:
        """Chart.js data: one stacked dataset per status that has runs."""
        return {
            "labels": self.hours,
            "datasets": [
                {"label": s, "status": s, "data": self.per_hour[s]}
                for s in STATUSES
                if any(self.per_hour.get(s, []))
            ],
        }


def _scope(user: User) -> ColumnElement[bool]:
    """Runs of the instances the viewer may see."""
    return true() if "*" in user.instances else col(Run.instance).in_(user.instances)


def _hour(engine: Engine) -> ColumnElement[Any]:
    if engine.dialect.name == "postgresql":
        return func.to_char(func.date_trunc("hour", col(Run.trigger_time)), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", col(Run.trigger_time))


def figures(
    engine: Engine, user: User, now: datetime
) -> tuple[dict[str, int], list[str], dict[str, list[int]], list[Run]]:
    since = now - timedelta(hours=HOURS)
    start = (now - timedelta(hours=HOURS - 1)).replace(minute=0, second=0, microsecond=0)
    keys = [(start + timedelta(hours=i)).strftime("%Y-%m-%d %H") for i in range(HOURS)]
    bucket = _hour(engine)
    with session_scope(engine) as session:
        scope = _scope(user)
        counts = dict(
            session.exec(
                select(Run.status, func.count())
                .where(col(Run.trigger_time) >= since, scope)
                .group_by(col(Run.status))
            ).all()
        )
        counts["IDLE"] = int(
            session.exec(
                select(func.count()).select_from(Run).where(Run.status == "IDLE", scope)
            ).one()
        )
        rows = session.exec(
            select(bucket, Run.status, func.count())
            .where(col(Run.trigger_time) >= start, col(Run.trigger_time) <= now, scope)
            .group_by(bucket, col(Run.status))
        ).all()
        due = list(
            session.exec(
                select(Run)
                .where(Run.status == "IDLE", scope)
                .order_by(col(Run.trigger_time))
                .limit(8)
            ).all()
        )
    per_hour: dict[str, list[int]] = {}
    index = {k: i for i, k in enumerate(keys)}
    for hour, status, count in rows:
        if str(hour) in index:
            per_hour.setdefault(str(status), [0] * HOURS)[index[str(hour)]] += int(count)
    labels = [k[-2:] + ":00" for k in keys]
    return ({s: int(counts.get(s, 0)) for s in CARD_STATUSES}, labels, per_hour, due)


async def load_dashboard(api: ApiClient, engine: Engine, now: datetime) -> Dashboard:
    counts, labels, per_hour, due = await anyio.to_thread.run_sync(
        figures, engine, api.session.user, now
    )
    failures = RunPage.model_validate(await api.get("/runs", status="FAILED", page_size=6))
    agents = await api.get("/agents")
    return Dashboard(
        counts=counts,
        hours=labels,
        per_hour=per_hour,
        failures=failures.items,
        agents=agents,
        next_due=due,
    )
