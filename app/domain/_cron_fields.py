"""One cron field read into a set of values, plus the day fields' special forms.

Lists (`a,b`), ranges (`a-b`, wrapping past the field's end when `b < a`: `22-2`, `FRI-MON`),
steps (`*/n`, `a-b/n`, and Vixie's `a/n` = from a to the field's end) and names in any case.
Day-of-month adds `L`, `L-n`, `nW`, `LW`; day-of-week adds `nL`, `n#k` and `L` (Saturday).
`?` ("no restriction") is read by the caller. ValueError messages name the field.
"""

from __future__ import annotations

import calendar as _stdcal
from dataclasses import dataclass, field
from functools import lru_cache

MONTH_NAMES = {name.lower(): i for i, name in enumerate(_stdcal.month_abbr) if name} | {
    name.lower(): i for i, name in enumerate(_stdcal.month_name) if name
}
_DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
WEEKDAY_NAMES = {n[:3]: i for i, n in enumerate(_DAY_NAMES)} | {
    n: i for i, n in enumerate(_DAY_NAMES)
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str  # as said in messages
    low: int
    high: int
    names: dict[str, int] = field(default_factory=dict)
    # The last value of `*` and of `a/n` (day-of-week: 6, so a step never reaches 7 = Sunday).
    step_end: int | None = None
    wraps: bool = True  # may a range run past `high` back to `low`?


@dataclass(frozen=True, slots=True)
class DaySpecials:
    """Day-of-month and day-of-week forms that depend on the month, not a fixed value."""

    last_minus: frozenset[int] = frozenset()  # L (0), L-n (n)
    nearest_weekday: frozenset[int] = frozenset()  # 15W
    last_weekday: bool = False  # LW
    last_of: frozenset[int] = frozenset()  # 5L: last Friday (0 = Sunday)
    nth_of: frozenset[tuple[int, int]] = frozenset()  # 1#2: (Monday, second)

    def __bool__(self) -> bool:
        return bool(
            self.last_minus
            or self.nearest_weekday
            or self.last_weekday
            or self.last_of
            or self.nth_of
        )

    def days_in(self, first_weekday: int, length: int) -> set[int]:
        """The day numbers these forms pick in a month of `length` days that starts on
        `first_weekday` (0 = Monday)."""
        if not self:
            return set()
        picked = {length - n for n in self.last_minus if length - n >= 1}
        if self.last_weekday:
            picked.add(_nearest_weekday(first_weekday, length, length))
        picked.update(
            _nearest_weekday(first_weekday, target, length)
            for target in self.nearest_weekday
            if target <= length  # 31W in April: no such day, no fire (as Quartz)
        )
        for sunday0 in self.last_of:
            first = _first_day_on(first_weekday, sunday0)
            picked.add(first + (length - first) // 7 * 7)
        for sunday0, week in self.nth_of:
            number = _first_day_on(first_weekday, sunday0) + 7 * (week - 1)
            if number <= length:
                picked.add(number)
        return picked


@lru_cache(maxsize=4096)
def month_shape(year: int, month: int) -> tuple[int, int]:
    """(weekday of the 1st, 0 = Monday; number of days) of a month."""
    return _stdcal.monthrange(year, month)


def _first_day_on(first_weekday: int, sunday0: int) -> int:
    """The first day of a month starting on `first_weekday` (0 = Monday) that falls on the
    weekday `sunday0` (0 = Sunday)."""
    return 1 + ((sunday0 - 1) % 7 - first_weekday) % 7


def _nearest_weekday(first_weekday: int, target: int, length: int) -> int:
    """The weekday (Mon-Fri) nearest the `target` day of a month, never leaving it."""
    weekday = (first_weekday + target - 1) % 7  # 5 = Saturday, 6 = Sunday
    if weekday == 5:
        return target - 1 if target > 1 else target + 2
    if weekday == 6:
        return target + 1 if target < length else target - 2
    return target


def parse_field(text: str, spec: FieldSpec) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError(f"{spec.name} field {text!r} has an empty list item")
        values.update(_parse_item(item, spec))
    return frozenset(values)


def parse_day_field(
    text: str, spec: FieldSpec, weekday_of: dict[int, int] | None = None
) -> tuple[frozenset[int], DaySpecials]:
    """A day-of-month field (weekday_of None) or a day-of-week field: plain values and specials.

    `weekday_of` maps the dialect's day-of-week numbers to 0 = Sunday ... 6 = Saturday.
    """
    plain: list[str] = []
    last_minus: set[int] = set()
    nearest: set[int] = set()
    last_of: set[int] = set()
    nth_of: set[tuple[int, int]] = set()
    last_weekday = False
    for item in text.split(","):
        upper = item.upper()
        if weekday_of is None and upper == "LW":
            last_weekday = True
        elif weekday_of is None and upper.startswith("L"):
            last_minus.add(_last_offset(item, spec))
        elif weekday_of is None and upper.endswith("W") and item[:-1]:
            nearest.add(_value(item[:-1], spec))
        elif weekday_of is not None and upper.endswith("L") and item[:-1]:
            last_of.add(weekday_of[_value(item[:-1], spec)])
        elif weekday_of is not None and "#" in item:
            day_text, _, nth_text = item.partition("#")
            if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
                raise ValueError(f"{spec.name} field {item!r}: the week after # must be 1-5")
            nth_of.add((weekday_of[_value(day_text, spec)], int(nth_text)))
        elif weekday_of is not None and upper == "L":
            plain.append(str(next(k for k, v in weekday_of.items() if v == 6)))  # L = Saturday
        else:
            plain.append(item)
    values = parse_field(",".join(plain), spec) if plain else frozenset()
    if weekday_of is not None:
        values = frozenset(weekday_of[v] for v in values)
    specials = DaySpecials(
        frozenset(last_minus),
        frozenset(nearest),
        last_weekday,
        frozenset(last_of),
        frozenset(nth_of),
    )
    return values, specials


def _last_offset(item: str, spec: FieldSpec) -> int:
    offset = item[1:]
    if offset == "":
        return 0
    if offset[0] != "-" or not offset[1:].isdigit() or int(offset[1:]) > 30:
        raise ValueError(f"{spec.name} field {item!r}: write L or L-n with n from 0 to 30")
    return int(offset[1:])


def _parse_item(item: str, spec: FieldSpec) -> list[int]:
    span, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"{spec.name} field step {step_text!r} must be a positive number")
        step = int(step_text)
    end = spec.high if spec.step_end is None else spec.step_end
    if span == "*":
        return list(range(spec.low, end + 1, step))
    first_text, dash, last_text = span.partition("-")
    first = _value(first_text, spec)
    if not dash:
        # Vixie: "a/n" means "from a to the end in steps of n".
        return list(range(first, max(first, end) + 1 if step_text else first + 1, step))
    last = _value(last_text, spec)
    if last >= first:
        return list(range(first, last + 1, step))
    if not spec.wraps:
        raise ValueError(f"{spec.name} field range {span!r} runs backwards")
    # A wrap-around range runs to the end of the cycle and on from its start: 22-2, FRI-MON.
    cycle_end = end if spec.step_end is not None else spec.high
    values = [*range(first, cycle_end + 1), *range(spec.low, last + 1)]
    return values[::step]


def _value(text: str, spec: FieldSpec) -> int:
    lowered = text.lower()
    if lowered in spec.names:
        return spec.names[lowered]
    if not text.isdigit():
        raise ValueError(f"{spec.name} field value {text!r} is not a number or a known name")
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise ValueError(f"{spec.name} field value {value} out of range {spec.low}-{spec.high}")
    return value
