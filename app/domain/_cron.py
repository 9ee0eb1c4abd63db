"""Five-field cron expressions (min hour dom mon dow), Vixie semantics, parsed to sets.

Our own parser rather than croniter: the trigger maths iterates local dates and needs
only "which days" and "which wall times", which sets answer exactly (no DST quirks).
"""

from __future__ import annotations

import calendar as _stdcal
from dataclasses import dataclass
from datetime import date, time

_MONTHS = {name.lower(): i for i, name in enumerate(_stdcal.month_abbr) if name}
_WEEKDAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

# (name used in messages, low, high, names)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _WEEKDAYS),
)

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

    def matches_date(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom_ok = day.day in self.days
        dow_ok = (day.isoweekday() % 7) in self.weekdays
        # Vixie: when both day fields are restricted, either one matching is enough.
        if self.day_restricted and self.weekday_restricted:
            return dom_ok or dow_ok
        return dom_ok and dow_ok

    def wall_times(self) -> tuple[time, ...]:
        return tuple(time(h, m) for h in sorted(self.hours) for m in sorted(self.minutes))


def parse_cron(text: str) -> CronExpr:
    """Parse a cron expression; ValueError names the offending field."""
    source = text.strip()
    source = _MACROS.get(source.lower(), source)
    parts = source.split()
    if len(parts) != 5:
        raise ValueError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
        )
    sets = [_parse_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    return CronExpr(
        minutes=sets[0],
        hours=sets[1],
        days=sets[2],
        months=sets[3],
        weekdays=weekdays,
        day_restricted=not parts[2].startswith("*"),
        weekday_restricted=not parts[4].startswith("*"),
    )


def _parse_field(
    text: str, name: str, low: int, high: int, names: dict[str, int]
) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError(f"{name} field {text!r} has an empty list item")
        values.update(_parse_item(item, name, low, high, names))
    return frozenset(values)


def _parse_item(item: str, name: str, low: int, high: int, names: dict[str, int]) -> range:
    span, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"{name} field step {step_text!r} must be a positive number")
        step = int(step_text)
    if span == "*":
        return range(low, high + 1, step)
    first_text, dash, last_text = span.partition("-")
    first = _value(first_text, name, low, high, names)
    if dash:
        last = _value(last_text, name, low, high, names)
        if name == "day-of-week" and last == 0 and first > 0:
            last = 7  # "fri-sun" reads as 5-7
    else:
        # Vixie: "a/n" means "from a to the end in steps of n".
        last = high if step_text else first
    if last < first:
        raise ValueError(f"{name} field range {span!r} runs backwards")
    return range(first, last + 1, step)


def _value(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    if not text.isdigit():
        raise ValueError(f"{name} field value {text!r} is not a number or a known name")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{name} field value {value} out of range {low}-{high}")
    return value
