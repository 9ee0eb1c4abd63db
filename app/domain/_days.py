"""The `days` grammar of times/frequency schedules.

Either a weekday set ("mon-fri", "mon,wed,fri", ranges and lists mixed) or ONE ordinal
day a month ("first mon", "last fri", "last day", "first business day",
"last business day", "business day 3").
"""

from __future__ import annotations

import calendar as _stdcal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

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
        if self.target == "business day":
            return self._matches_business(day, is_business)
        month_len = _stdcal.monthrange(day.year, day.month)[1]
        if self.target == "day":
            wanted = month_len if self.n == -1 else self.n
            return day.day == wanted
        if day.weekday() != WEEKDAY_NAMES.index(self.target):
            return False
        if self.n == -1:
            return day.day + 7 > month_len
        return (day.day - 1) // 7 + 1 == self.n

    def _matches_business(self, day: date, is_business: IsBusinessDay) -> bool:
        if not is_business(day):
            return False
        if self.n == -1:
            month_len = _stdcal.monthrange(day.year, day.month)[1]
            later = (day + timedelta(days=k) for k in range(1, month_len - day.day + 1))
            return not any(is_business(other) for other in later)
        earlier = sum(1 for k in range(1, day.day) if is_business(day.replace(day=k)))
        return earlier + 1 == self.n


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
