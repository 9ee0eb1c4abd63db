"""Which dates of a range a backfill runs, which it skips and why. Pure: no I/O, no clock.

A schedule "has" a local date when at least one of its occurrences falls on it (after the
calendar: closed days have none, or move theirs to an open day). A backfill makes ONE run
(or group run) per such date, however many times the schedule fires that day: the run does
the date's work, its business date is the date. Without a schedule every date is a run date.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from app.domain._plan import Plan
from app.domain.calendars import CalendarSpec
from app.domain.schedules import Schedule

Mode = Literal["missing", "failed", "all"]
Order = Literal["oldest", "newest"]
Action = Literal["run", "skip"]
MODES: tuple[str, ...] = ("missing", "failed", "all")
ORDERS: tuple[str, ...] = ("oldest", "newest")

# A range longer than this is refused whatever the confirmation (a hundred years of days).
MAX_RANGE_DAYS = 36_600

# Reasons (the holiday and freeze reasons carry their names).
OUTSIDE = "outside start/end date"
NOT_SCHEDULED = "not a scheduled day"
WEEKEND = "weekend"
SUCCEEDED = "already succeeded"
IN_PROGRESS = "a run of this date is in progress"
NOT_FAILED = "no failed run"


@dataclass(frozen=True, slots=True)
class DatePlan:
    date: date
    action: Action
    reason: str | None = None  # why it is skipped; for a run, why it runs (mode) or None


@dataclass(frozen=True, kw_only=True)
class History:
    """What already happened to the dates of the range (one entry per date)."""

    succeeded: Set[date] = frozenset()
    failed: Set[date] = frozenset()  # a run of the date ended badly and none succeeded
    in_progress: Set[date] = frozenset()
    frozen: Mapping[date, str] = field(default_factory=dict)  # day -> freeze reason


def check_range(start: date, end: date) -> None:
    """ValueError naming `end` when the range is empty or too long."""
    if end < start:
        raise ValueError(f"end: {end.isoformat()} is before start {start.isoformat()}")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValueError(f"end: a backfill covers at most {MAX_RANGE_DAYS} dates")


def plan_dates(
    *,
    start: date,
    end: date,
    schedule: Schedule | None,
    calendar: CalendarSpec | None,
    mode: Mode = "missing",
    order: Order = "oldest",
    history: History | None = None,
) -> list[DatePlan]:
    """Every date from `start` to `end` (both included) with its action, in the order the
    backfill takes them (`oldest` or `newest` first)."""
    check_range(start, end)
    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} is not one of {', '.join(MODES)}")
    if order not in ORDERS:
        raise ValueError(f"order: {order!r} is not one of {', '.join(ORDERS)}")
    seen = history or History()
    plan = Plan(schedule, calendar) if schedule is not None else None
    bounds = _bounds(schedule)
    result = [_decide(day, plan, bounds, mode, seen) for day in _days(start, end)]
    if order == "newest":
        result.reverse()
    return result


def run_dates(plans: list[DatePlan]) -> list[date]:
    return [p.date for p in plans if p.action == "run"]


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _bounds(schedule: Schedule | None) -> tuple[date, date]:
    if schedule is None:
        return date.min, date.max
    return schedule.start_date or date.min, schedule.end_date or date.max


def _decide(
    day: date, plan: Plan | None, bounds: tuple[date, date], mode: Mode, seen: History
) -> DatePlan:
    if not bounds[0] <= day <= bounds[1]:
        return DatePlan(day, "skip", OUTSIDE)
    if day in seen.frozen:
        why = seen.frozen[day]
        return DatePlan(day, "skip", f"frozen: {why}" if why else "frozen")
    if plan is not None:
        closed = _closed_reason(plan, day)
        if closed is not None:
            return DatePlan(day, "skip", closed)
    if day in seen.in_progress:
        return DatePlan(day, "skip", IN_PROGRESS)
    if mode == "all":
        return DatePlan(day, "run", None)
    if day in seen.succeeded:
        return DatePlan(day, "skip", SUCCEEDED)
    if mode == "failed":
        if day in seen.failed:
            return DatePlan(day, "run", "failed before")
        return DatePlan(day, "skip", NOT_FAILED)
    return DatePlan(day, "run", None)


def _closed_reason(plan: Plan, day: date) -> str | None:
    """Why the schedule has no occurrence on `day`, or None when it has one."""
    closed = plan.closed_reason(day)
    if closed is not None:
        target = plan.shift_target(day) if plan.times_for(day) else None
        if target is not None:
            return f"{closed} (its run moves to {target.isoformat()})"
        return closed
    if plan.times_for(day) or plan.shifted_into(day):
        return None
    # No fire that day: say "weekend" where that is all there is to it.
    return WEEKEND if day.weekday() >= 5 else NOT_SCHEDULED
