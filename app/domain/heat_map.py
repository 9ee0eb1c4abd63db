"""A year of business dates as a heat map: each day's outcome from the statuses of the runs
that carried its date, and the reason a day was skipped. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Outcome = Literal["none", "planned", "running", "success", "mixed", "failed", "skipped"]

_BAD = frozenset({"FAILED", "TERMINATED", "REJECTED"})
_GOING = frozenset({"ACTIVE", "TRIGGER", "STARTED", "RUNNING", "PAUSED", "PENDING_APPROVAL"})
_SKIPS = frozenset({"SKIPPED", "MISSED"})


@dataclass(frozen=True, kw_only=True)
class Day:
    day: date
    outcome: Outcome
    counts: Mapping[str, int]
    reason: str = ""  # why it was skipped (the ledger's reason, or the freeze's)


def outcome_of(counts: Mapping[str, int]) -> Outcome:
    """Failures and successes on one date make it mixed; anything still going wins over
    what has ended; a date with only skips is skipped."""
    present = {status for status, n in counts.items() if n}
    bad, good = bool(present & _BAD), "SUCCESS" in present
    if present & _GOING:
        return "running"
    if bad and good:
        return "mixed"
    if bad:
        return "failed"
    if good:
        return "success"
    if "IDLE" in present:
        return "planned"
    if present & _SKIPS:
        return "skipped"
    return "none"


def year_of_days(
    end: date,
    counts: Mapping[date, Mapping[str, int]],
    reasons: Mapping[date, str],
    frozen: Mapping[date, str],
    *,
    days: int = 371,
) -> list[list[Day]]:
    """Weeks (Monday first) from the Monday 53 weeks before `end` to the week of `end`; a
    frozen date with no run is skipped with the freeze's reason."""
    last = end + timedelta(days=6 - end.weekday())
    first = last - timedelta(days=days - 1)
    weeks: list[list[Day]] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        found = counts.get(day, {})
        outcome = outcome_of(found)
        reason = reasons.get(day, "")
        if day in frozen and outcome in ("none", "skipped"):
            outcome = "skipped"
            reason = reason or f"frozen{': ' + frozen[day] if frozen[day] else ''}"
        if offset % 7 == 0:
            weeks.append([])
        weeks[-1].append(Day(day=day, outcome=outcome, counts=dict(found), reason=reason))
    return weeks


def first_day(end: date, days: int = 371) -> date:
    """The first date `year_of_days(end)` shows: what the caller reads from."""
    return end + timedelta(days=6 - end.weekday()) - timedelta(days=days - 1)
