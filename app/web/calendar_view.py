"""A calendar's year at a glance: twelve month grids (weeks from Monday) with each closed
day marked by why (holiday, weekend, extra closed date) and each working exception."""

from __future__ import annotations

import calendar as stdcal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Day:
    day: date
    kind: str  # "open", "holiday", "weekend", "extra", "working" (open by exception)
    reason: str = ""


@dataclass(frozen=True)
class Month:
    name: str
    weeks: list[list[Day | None]]
    closed: int


@dataclass(frozen=True)
class Year:
    year: int
    months: list[Month]
    holidays: list[tuple[date, str]]  # (day, name) in order

    @property
    def closed(self) -> int:
        return sum(m.closed for m in self.months)


def _kind(reason: str) -> str:
    if reason.startswith("holiday"):
        return "holiday"
    if reason == "weekend":
        return "weekend"
    return "extra"


def year_view(year: int, closed: Iterable[Mapping[str, Any]], working: Iterable[str]) -> Year:
    """`closed`: the API's closed days ({"date", "reason"}); `working`: ISO dates that are
    open by exception."""
    reasons = {date.fromisoformat(str(c["date"])): str(c["reason"]) for c in closed}
    open_anyway = {date.fromisoformat(d) for d in working}
    months = []
    grid = stdcal.Calendar(firstweekday=0)
    for number in range(1, 13):
        weeks: list[list[Day | None]] = []
        for week in grid.monthdatescalendar(year, number):
            row: list[Day | None] = []
            for day in week:
                if day.month != number:
                    row.append(None)
                elif day in reasons:
                    row.append(Day(day, _kind(reasons[day]), reasons[day]))
                elif day in open_anyway:
                    row.append(Day(day, "working", "open: working date"))
                else:
                    row.append(Day(day, "open"))
            weeks.append(row)
        count = sum(1 for d in reasons if d.month == number)
        months.append(Month(stdcal.month_name[number], weeks, count))
    holidays = sorted(
        (d, r.split(": ", 1)[1]) for d, r in reasons.items() if r.startswith("holiday: ")
    )
    return Year(year, months, holidays)
