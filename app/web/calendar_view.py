"""A calendar's year at a glance: twelve month grids (weeks from Monday) with each closed
day marked by why (holiday, weekend, extra closed date, an included calendar) and each day a
rule opened (a working date, a day closed in an excluded calendar)."""

from __future__ import annotations

import calendar as stdcal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Day:
    day: date
    # "open", "holiday", "weekend", "extra", "calendar" (closed by an included calendar),
    # "working" (open by exception), "excluded" (open: closed in an excluded calendar)
    kind: str
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
    # Every day a rule decided other than a plain weekend: (day, kind, reason), in order.
    reasons: list[tuple[date, str, str]] = field(default_factory=list)

    @property
    def closed(self) -> int:
        return sum(m.closed for m in self.months)


_KINDS = {
    "extra_date": "extra",
    "holiday": "holiday",
    "weekend": "weekend",
    "calendar": "calendar",
    "working_date": "working",
    "excluded": "excluded",
}


def _kind(item: Mapping[str, Any]) -> str:
    if item.get("kind") in _KINDS:
        return _KINDS[str(item["kind"])]
    reason = str(item["reason"])
    if reason.startswith("holiday"):
        return "holiday"
    if reason == "weekend":
        return "weekend"
    if reason.startswith("from calendar"):
        return "calendar"
    return "extra"


def _holiday_name(reason: str) -> str | None:
    """ "holiday: X" -> X; "from calendar C: holiday: X" -> "X (from C)"."""
    if reason.startswith("holiday: "):
        return reason.split(": ", 1)[1]
    if reason.startswith("from calendar ") and ": holiday: " in reason:
        source, _, name = reason[len("from calendar ") :].partition(": holiday: ")
        return f"{name} (from {source})"
    return None


def year_view(
    year: int,
    closed: Iterable[Mapping[str, Any]],
    working: Iterable[str],
    opened: Iterable[Mapping[str, Any]] = (),
) -> Year:
    """`closed`: the API's closed days ({"date", "reason"}, with "kind" from the preview);
    `working`: ISO dates open by exception; `opened`: the preview's opened days."""
    decided: dict[date, Day] = {}
    for item in closed:
        day = date.fromisoformat(str(item["date"]))
        decided[day] = Day(day, _kind(item), str(item["reason"]))
    closed_days = set(decided)
    for item in opened:
        day = date.fromisoformat(str(item["date"]))
        decided[day] = Day(day, _kind(item), str(item["reason"]))
    for text in working:
        day = date.fromisoformat(text)
        decided.setdefault(day, Day(day, "working", "open: working date"))
    months = []
    grid = stdcal.Calendar(firstweekday=0)
    for number in range(1, 13):
        weeks: list[list[Day | None]] = []
        for week in grid.monthdatescalendar(year, number):
            row: list[Day | None] = []
            for day in week:
                if day.month != number:
                    row.append(None)
                else:
                    row.append(decided.get(day, Day(day, "open")))
            weeks.append(row)
        count = sum(1 for d in closed_days if d.month == number)
        months.append(Month(stdcal.month_name[number], weeks, count))
    holidays = sorted(
        (d, name) for d in closed_days if (name := _holiday_name(decided[d].reason)) is not None
    )
    reasons = sorted(
        (d, v.kind, v.reason) for d, v in decided.items() if v.kind not in ("weekend", "open")
    )
    return Year(year, months, holidays, reasons)
