"""How the group views are drawn: the Gantt's bars as percentages of the group run's span,
and the colour class of a grid cell or a heat-map day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.critical_path import Span
from app.services.group_gantt import Gantt

# Heat-map outcomes → the status colour class their cell takes (app.css's s-*).
OUTCOME_CSS = {
    "none": "hm-none",
    "planned": "s-idle",
    "running": "s-running",
    "success": "s-success",
    "mixed": "s-paused",
    "failed": "s-failed",
    "skipped": "s-skipped",
}
OUTCOME_LABEL = {
    "none": "no run",
    "planned": "planned",
    "running": "running or waiting",
    "success": "all succeeded",
    "mixed": "some failed",
    "failed": "failed",
    "skipped": "skipped",
}


@dataclass(frozen=True)
class Bar:
    kind: str
    left: float  # percent of the axis
    width: float
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Tick:
    left: float
    at: datetime


def bars(gantt: Gantt, spans: list[Span]) -> list[Bar]:
    total = max((gantt.end - gantt.start).total_seconds(), 1e-6)
    found = []
    for span in spans:
        left = (span.start - gantt.start).total_seconds() / total * 100
        width = (span.end - span.start).total_seconds() / total * 100
        found.append(
            Bar(span.kind, round(left, 3), round(max(width, 0.3), 3), span.start, span.end)
        )
    return found


_STEPS = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400]


def ticks(gantt: Gantt, most: int = 8) -> list[Tick]:
    """Round instants along the axis, at most `most` of them."""
    total = (gantt.end - gantt.start).total_seconds()
    if total <= 0:
        return [Tick(0.0, gantt.start)]
    step = next((s for s in _STEPS if total / s <= most), _STEPS[-1])
    first = gantt.start.timestamp() // step * step + step
    found = [Tick(0.0, gantt.start)]
    at = first
    while at < gantt.end.timestamp():
        moment = gantt.start + timedelta(seconds=at - gantt.start.timestamp())
        found.append(Tick(round((at - gantt.start.timestamp()) / total * 100, 3), moment))
        at += step
    return found
