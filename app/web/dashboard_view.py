"""The dashboard's figures: runs per status over the last day, runs per hour by status,
recent failures, agents, and the next runs due (through the services, within the
viewer's instances)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.domain.states import RunStatus
from app.models.schemas import RunPublic
from app.services import agents, dashboard, runs
from app.web.calls import Calls, dump
from app.web.status import STATUSES


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    counts: dict[str, int]
    hours: list[str]  # labels "14:00"
    per_hour: dict[str, list[int]]  # status → count per hour
    failures: list[RunPublic]
    agents: list[dict[str, Any]]
    next_due: list[RunPublic] = field(default_factory=list)

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


async def load_dashboard(calls: Calls, now: datetime) -> Dashboard:
    context = calls.context
    figures = await calls.read(dashboard.figures, now=now)
    failures = await calls.read(runs.list_runs, status=[RunStatus.FAILED], page_size=6)
    fleet = dump(await calls.read(agents.list_agents, hub=context.hub))
    return Dashboard(
        counts=figures.counts,
        hours=figures.hours,
        per_hour=figures.per_hour,
        failures=failures.items,
        agents=fleet,
        next_due=figures.next_due,
    )
