"""Cron expressions parsed to sets: Vixie's 5 fields and Quartz's 6 or 7.

Our own parser rather than croniter: the trigger maths iterates local dates and needs
only "which days" and "which wall times", which sets answer exactly (no DST quirks), and
no library gives both Vixie's and Quartz's rules with L/W/# and a year field.

Dialects, told apart by the number of fields:
- 5 fields `min hour dom mon dow` (Vixie): day-of-week 0-7, 0 and 7 = Sunday.
- 6 or 7 fields `sec min hour dom mon dow [year]` (Quartz): day-of-week 1-7, 1 = Sunday,
  7 = Saturday; year 1970-2099. Names (`MON`, `monday`, `JAN`) mean the same in both.
- Macros `@yearly @annually @monthly @weekly @daily @midnight @hourly`. `@reboot` and
  Jenkins' `H` are refused: a schedule needs fire times, and `H` is a hash of a job name.

Rules:
- Steps: `*/n` and `a/n` run to the field's end; in day-of-week the end is Saturday, so
  `5/2` is Friday only and `1/2` is Mon, Wed, Fri. A range whose end is below its start
  wraps (`22-2`, `FRI-MON`, `NOV-FEB`); steps count along the wrapped range.
- Day-of-month OR day-of-week (Vixie, both dialects): when both fields are restricted a day
  matching either fires; otherwise both must match. A field that starts with `*` (so `*`
  and `*/n`) or is `?` counts as unrestricted.
- Specials: `L` last day of the month, `L-n` n days before it, `15W` the weekday nearest the
  15th without leaving the month, `LW` the last weekday; `5L` the last Friday, `1#2` the
  second Monday (day numbers in the dialect's numbering); `L` alone in day-of-week is Saturday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache

from app.domain._cron_fields import (
    MONTH_NAMES,
    WEEKDAY_NAMES,
    DaySpecials,
    FieldSpec,
    month_shape,
    parse_day_field,
    parse_field,
)

_SECOND = FieldSpec("second", 0, 59)
_MINUTE = FieldSpec("minute", 0, 59)
_HOUR = FieldSpec("hour", 0, 23)
_DAY = FieldSpec("day-of-month", 1, 31)
_MONTH = FieldSpec("month", 1, 12, MONTH_NAMES)
_YEAR = FieldSpec("year", 1970, 2099, wraps=False)
_VIXIE_WEEKDAY = FieldSpec("day-of-week", 0, 7, WEEKDAY_NAMES, step_end=6)
_QUARTZ_WEEKDAY = FieldSpec("day-of-week", 1, 7, {name: n + 1 for name, n in WEEKDAY_NAMES.items()})
_VIXIE_TO_SUNDAY0 = {n: n % 7 for n in range(8)}
_QUARTZ_TO_SUNDAY0 = {n: n - 1 for n in range(1, 8)}

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True, slots=True)
class CronExpr:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday (7 folded into 0)
    day_restricted: bool
    weekday_restricted: bool
    seconds: frozenset[int] = frozenset({0})
    years: frozenset[int] | None = None  # None: every year
    day_specials: DaySpecials = DaySpecials()
    weekday_specials: DaySpecials = DaySpecials()
    # A wildcard or step in the second, minute or hour field: runs in elapsed time across
    # a DST change (Vixie cron's rule), unlike a job at fixed times.
    interval_like: bool = False

    def matches_date(self, day: date) -> bool:
        return day.day in self.days_of_month(day.year, day.month)

    def days_of_month(self, year: int, month: int) -> tuple[int, ...]:
        """The day numbers of a month that match, in order."""
        if not self.in_month(year, month):
            return ()
        return self.days_of_shape(*month_shape(year, month))

    def in_month(self, year: int, month: int) -> bool:
        """Whether the month and year fields admit this month at all."""
        return month in self.months and (self.years is None or year in self.years)

    def days_of_shape(self, first_weekday: int, length: int) -> tuple[int, ...]:
        """The matching day numbers of an admitted month of `length` days whose 1st falls
        on `first_weekday` (0 = Monday): nothing else about the month matters, so callers
        can keep the answer per shape (there are 28 of them)."""
        every_day = len(self.days) >= 31 and not self.day_specials
        every_weekday = len(self.weekdays) == 7 and not self.weekday_specials
        if every_day and every_weekday:
            return _DAY_NUMBERS[length]
        # Vixie: when both day fields are restricted, either one matching is enough.
        either = self.day_restricted and self.weekday_restricted
        by_day: set[int] = set()
        if not every_day:
            by_day = {n for n in self.days if n <= length}
            if self.day_specials:
                by_day |= self.day_specials.days_in(first_weekday, length)
            if every_weekday and not either:
                return tuple(sorted(by_day))
        # Day n falls on (first_weekday + n - 1) % 7 counted from Monday; +1: from Sunday.
        weekdays = self.weekdays
        by_weekday: set[int] = set()
        if weekdays:
            by_weekday = {n for n in _DAY_NUMBERS[length] if (first_weekday + n) % 7 in weekdays}
        if self.weekday_specials:
            by_weekday |= self.weekday_specials.days_in(first_weekday, length)
        if every_day:
            return tuple(sorted(by_weekday))
        return tuple(sorted(by_day | by_weekday if either else by_day & by_weekday))

    def wall_times(self) -> tuple[time, ...]:
        return _wall_times(self.hours, self.minutes, self.seconds)


_DAY_NUMBERS = {length: tuple(range(1, length + 1)) for length in (28, 29, 30, 31)}


@lru_cache(maxsize=1024)
def _wall_times(
    hours: frozenset[int], minutes: frozenset[int], seconds: frozenset[int]
) -> tuple[time, ...]:
    """Every wall time of a day the fields allow, built once per distinct fields: a schedule
    every second has 86,400 of them, and every plan of it (each fire) asks again."""
    return tuple(
        time(h, m, s) for h in sorted(hours) for m in sorted(minutes) for s in sorted(seconds)
    )


def normalise(text: str) -> list[str]:
    """The fields of an expression, macros expanded; ValueError for @reboot, H, a wrong count."""
    source = text.strip()
    if source.lower() == "@reboot":
        raise ValueError(
            "@reboot is not supported: it fires when a machine starts, and a schedule "
            "needs fire times"
        )
    if source.startswith("@"):
        if source.lower() not in _MACROS:
            raise ValueError(f"unknown macro {source!r}; use one of {', '.join(_MACROS)}")
        source = _MACROS[source.lower()]
    parts = source.split()
    if len(parts) not in (5, 6, 7):
        raise ValueError(
            "expected 5 fields (minute hour day-of-month month day-of-week) or 6-7 "
            f"(second minute hour day-of-month month day-of-week [year]), got {len(parts)}"
        )
    for part in parts:
        if any(item[:1].upper() == "H" for item in part.split(",")):
            raise ValueError(
                f"{part!r}: H (a hash of the job name, as in Jenkins) is not supported; "
                "Almanac does not do hashed times, write the value"
            )
    return parts


@lru_cache(maxsize=4096)
def parse_cron(text: str) -> CronExpr:
    """Parse a cron expression; ValueError names the offending field. Cached (the result is
    immutable): planning thousands of tasks parses the same few expressions again and again."""
    parts = normalise(text)
    quartz = len(parts) > 5
    seconds = parse_field(parts[0], _SECOND) if quartz else frozenset({0})
    minute, hour, dom, month, dow = parts[1:6] if quartz else parts
    years = parse_field(parts[6], _YEAR) if len(parts) == 7 and parts[6] != "*" else None
    weekday_spec, to_sunday0 = (
        (_QUARTZ_WEEKDAY, _QUARTZ_TO_SUNDAY0) if quartz else (_VIXIE_WEEKDAY, _VIXIE_TO_SUNDAY0)
    )
    days, day_specials = (
        (frozenset(range(1, 32)), DaySpecials()) if dom == "?" else parse_day_field(dom, _DAY)
    )
    weekdays, weekday_specials = (
        (frozenset(range(7)), DaySpecials())
        if dow == "?"
        else parse_day_field(dow, weekday_spec, to_sunday0)
    )
    return CronExpr(
        minutes=parse_field(minute, _MINUTE),
        hours=parse_field(hour, _HOUR),
        days=days,
        months=parse_field(month, _MONTH),
        weekdays=weekdays,
        day_restricted=not dom.startswith(("*", "?")),
        weekday_restricted=not dow.startswith(("*", "?")),
        seconds=seconds,
        years=years,
        day_specials=day_specials,
        weekday_specials=weekday_specials,
        interval_like=any(
            "*" in part or "/" in part for part in (minute, hour, *(parts[:1] if quartz else ()))
        ),
    )
