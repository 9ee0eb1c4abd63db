"""The `days` grammar of times/frequency schedules.

Either a weekday set ("mon-fri", "mon,wed,fri", ranges and lists mixed) or ONE ordinal
day a month ("first mon", "last fri", "last day", "first business day",
"last business day", "business day 3").
"""

from __future__ import annotations

import calendar as _stdcal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}

IsBusinessDay = Callable[[date], bool]


@dataclass(frozen=True, slots=True)
class WeekdaySet:
    weekdays: frozenset[int]

    def matches(self, day: date, is_business: IsBusinessDay) -> bool:
        return day.weekday() in self.weekdays


@dataclass(frozen=True, slots=True)
class OrdinalDay:
    """The n-th (or last, n=-1) weekday / calendar day / business day of each month."""

    n: int
    target: str  # a weekday name, "day" or "business day"

    def matches(self, day: date, is_business: IsBusinessDay) -> bool:
        return self.pick(day.year, day.month, is_business) == day.day

    def pick(self, year: int, month: int, is_business: IsBusinessDay) -> int | None:
        """The day of the month this rule selects, or None when the month has none."""
        month_len = _stdcal.monthrange(year, month)[1]
        if self.target == "day":
            wanted = month_len if self.n == -1 else self.n
            return wanted if wanted <= month_len else None
        if self.target == "business day":
            # Counted from the end the rule names, stopping at the wanted one: the calendar is
            # asked about a few days a month, not all of them.
            order = range(month_len, 0, -1) if self.n == -1 else range(1, month_len + 1)
            wanted = 1 if self.n == -1 else self.n
            for k in order:
                if is_business(date(year, month, k)):
                    wanted -= 1
                    if wanted == 0:
                        return k
            return None
        weekday = WEEKDAY_NAMES.index(self.target)
        first = (weekday - _stdcal.weekday(year, month, 1)) % 7 + 1
        days = list(range(first, month_len + 1, 7))
        if self.n == -1:
            return days[-1] if days else None
        return days[self.n - 1] if len(days) >= self.n else None


DaySpec = WeekdaySet | OrdinalDay


def normalize_days(text: str) -> str:
    return " ".join(text.lower().split())


def parse_days(text: str) -> DaySpec:
    """Parse a `days` string; ValueError says what is wrong."""
    words = normalize_days(text).split(" ")
    if words == [""]:
        raise ValueError("empty days (expected e.g. 'mon-fri' or 'last business day')")
    if words[0] == "business" and len(words) == 3 and words[1] == "day":
        if not words[2].isdigit() or not 1 <= int(words[2]) <= 31:
            raise ValueError(f"business day number {words[2]!r} must be 1 to 31")
        return OrdinalDay(n=int(words[2]), target="business day")
    if words[0] in _ORDINALS:
        target = " ".join(words[1:])
        if target not in (*WEEKDAY_NAMES, "day", "business day"):
            raise ValueError(
                f"{text!r}: after {words[0]!r} expected a weekday, 'day' or 'business day'"
            )
        return OrdinalDay(n=_ORDINALS[words[0]], target=target)
    if len(words) != 1:
        raise ValueError(f"{text!r} is neither a weekday list nor one ordinal day a month")
    return WeekdaySet(_parse_weekday_list(words[0]))


def _parse_weekday_list(text: str) -> frozenset[int]:
    days: set[int] = set()
    for item in text.split(","):
        first, dash, last = item.partition("-")
        start = _weekday(first)
        end = _weekday(last) if dash else start
        # A range may wrap the week ("fri-mon"), as people say it.
        length = (end - start) % 7 + 1
        days.update((start + k) % 7 for k in range(length))
    return frozenset(days)


def _weekday(name: str) -> int:
    if name not in WEEKDAY_NAMES:
        raise ValueError(f"unknown weekday {name!r} (expected one of {', '.join(WEEKDAY_NAMES)})")
    return WEEKDAY_NAMES.index(name)
