"""The dashboard's figures: runs per status over the last day, runs per hour by status,
recent failures, agents, and the next runs due (through the services, within the
viewer's instances)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.states import RunStatus
from app.models.schemas import RunPublic
from app.services import agents, dashboard, runs
from app.web.calls import Calls, dump
from app.web.status import STATUSES


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    counts: dict[str, int]
    hours: list[str]  # labels "14:00", in the viewer's zone
    zone: str  # the viewer's zone, as the chart's caption says it
    per_hour: dict[str, list[int]]  # status → count per hour
    failures: list[RunPublic]
    agents: list[dict[str, Any]]
    next_due: list[RunPublic] = field(default_factory=list)
    next_groups: list[dashboard.DueGroup] = field(default_factory=list)

    @property
    def agents_online(self) -> int:
        return sum(1 for a in self.agents if a.get("connected"))

    def due(self) -> list[dict[str, Any]]:
        """Next task runs and group runs due, soonest first (eight at most)."""
        items: list[dict[str, Any]] = [
            {"href": f"/groups/{g.gid}", "name": g.name, "at": g.trigger_time, "group": True}
            for g in self.next_groups
        ] + [
            {
                "href": f"/task-runs/{r.id}",
                "name": r.task_name or f"run {r.id}",
                "at": r.trigger_time,
                "group": False,
            }
            for r in self.next_due
            if r.trigger_time is not None
        ]
        return sorted(items, key=lambda item: item["at"])[:8]

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
    zone = _zone(calls.session.zone)
    return Dashboard(
        counts=figures.counts,
        # An hour counted in UTC starts at this local time (":30" in half-hour zones).
        hours=[start.astimezone(zone).strftime("%H:%M") for start in figures.hour_starts],
        zone=now.astimezone(zone).strftime("%Z") if figures.hour_starts else "UTC",
        per_hour=figures.per_hour,
        failures=failures.items,
        agents=fleet,
        next_due=figures.next_due,
        next_groups=figures.next_groups,
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")
