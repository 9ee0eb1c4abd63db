"""A schedule compiled for walking: its nominal wall times per local date, and the calendar.

Everything here is per call (no global state besides the holiday tables), so memo dicts
live on the plan and die with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, time, timedelta
from zoneinfo import ZoneInfo

from app.domain._cron import parse_cron
from app.domain._cron_fields import month_shape
from app.domain._days import WeekdaySet, parse_days
from app.domain._walltime import load_zone, parse_wall_time
from app.domain.calendars import CalendarSpec
from app.domain.schedules import (
    CronSchedule,
    FrequencySchedule,
    OnceSchedule,
    Schedule,
    TimesSchedule,
)

# How far on_closed looks for an open day; longer closures skip instead.
SHIFT_LIMIT_DAYS = 366

TimesFor = Callable[[date], tuple[time, ...]]


class Plan:
    def __init__(self, schedule: Schedule, calendar: CalendarSpec | None) -> None:
        self.zone: ZoneInfo = load_zone(schedule.timezone)
        self.on_closed = schedule.on_closed
        # Interval-like schedules keep elapsed time across a DST change unless told otherwise.
        self.elapsed = schedule.interval_like and schedule.dst_interval == "elapsed"
        self.dst_gap = schedule.dst_gap
        self.dst_fold = schedule.dst_fold
        # An aware `once` names one instant: no DST rule applies to it.
        self.exact = isinstance(schedule, OnceSchedule) and schedule.at.utcoffset() is not None
        self.calendar = calendar
        self.first_day = schedule.start_date or date.min
        self.last_day = schedule.end_date or date.max
        self._reasons: dict[date, str | None] = {}
        self._next_picked: Callable[[date], date] | None = None
        self.times_for: TimesFor = self._compile(schedule)

    def closed_reason(self, day: date) -> str | None:
        if self.calendar is None:
            return None
        try:
            return self._reasons[day]
        except KeyError:
            reason = self._reasons[day] = self.calendar.closed_reason(day)
            return reason

    def is_business(self, day: date) -> bool:
        # Without a calendar a business day is Monday to Friday; with one, an open day.
        if self.calendar is None:
            return day.weekday() < 5
        return self.closed_reason(day) is None

    def in_bounds(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def shift_target(self, day: date) -> date | None:
        """The open day a closed `day`'s fires move to, or None (skip them)."""
        step = self._shift_step()
        if step is None:
            return None
        other = day
        for _ in range(SHIFT_LIMIT_DAYS):
            other += step
            if not self.in_bounds(other):
                return None
            if self.closed_reason(other) is None:
                return other
        return None

    def shifted_into(self, day: date) -> list[date]:
        """Closed days whose fires move to the open `day` (the inverse of shift_target)."""
        step = self._shift_step()
        found: list[date] = []
        if step is None:
            return found
        other = day
        for _ in range(SHIFT_LIMIT_DAYS):
            other -= step
            if not self.in_bounds(other) or self.closed_reason(other) is None:
                break
            found.append(other)
        return found

    def skip_to(self, day: date) -> date:
        """The first day from `day` on that can hold a fire or a skip: an ordinal schedule
        jumps to its day of the month, unless closed days may shift fires elsewhere."""
        if self._next_picked is None or self._shift_step() is not None:
            return day
        return self._next_picked(day)

    def _shift_step(self) -> timedelta | None:
        if self.calendar is None or self.on_closed == "skip":
            return None
        return timedelta(days=1 if self.on_closed == "next_open_day" else -1)

    def _compile(self, schedule: Schedule) -> TimesFor:
        if isinstance(schedule, CronSchedule):
            return self._compile_cron(schedule)
        if isinstance(schedule, OnceSchedule):
            return self._compile_once(schedule)
        if isinstance(schedule, TimesSchedule):
            wall = tuple(sorted({parse_wall_time(text) for text in schedule.times}))
        else:
            wall = _frequency_times(schedule)
        spec = parse_days(schedule.days)
        if isinstance(spec, WeekdaySet):
            weekdays = spec.weekdays
            return lambda day: wall if day.weekday() in weekdays else ()
        # An ordinal picks one day a month: work it out once per month.
        picks: dict[tuple[int, int], int | None] = {}

        def picked(year: int, month: int) -> int | None:
            if (year, month) not in picks:
                picks[(year, month)] = spec.pick(year, month, self.is_business)
            return picks[(year, month)]

        def ordinal_times(day: date) -> tuple[time, ...]:
            return wall if picked(day.year, day.month) == day.day else ()

        def next_picked(day: date) -> date:
            for year, month, first in _months_from(day):
                pick = picked(year, month)
                if pick is not None and pick >= first:
                    return date(year, month, pick)
            return _beyond(day)

        self._next_picked = next_picked
        return ordinal_times

    def _compile_cron(self, schedule: CronSchedule) -> TimesFor:
        expr = parse_cron(schedule.cron)
        cron_times = expr.wall_times()
        # The matching days of a month, worked out once: the walk then jumps between them.
        matching: dict[tuple[int, int], tuple[int, ...]] = {}
        by_shape: dict[tuple[int, int], tuple[int, ...]] = {}

        def days_of(year: int, month: int) -> tuple[int, ...]:
            found = matching.get((year, month))
            if found is None:
                found = ()
                if expr.in_month(year, month):
                    shape = month_shape(year, month)
                    found = by_shape.get(shape)
                    if found is None:
                        found = by_shape[shape] = expr.days_of_shape(*shape)
                matching[(year, month)] = found
            return found

        def next_matching(day: date) -> date:
            numbers = days_of(day.year, day.month)
            if day.day in numbers:  # the walk's usual question: is today a matching day?
                return day
            for year, month, first in _months_from(day):
                for number in days_of(year, month):
                    if number >= first:
                        return date(year, month, number)
            return _beyond(day)

        self._next_picked = next_matching
        return lambda day: cron_times if day.day in days_of(day.year, day.month) else ()

    def _compile_once(self, schedule: OnceSchedule) -> TimesFor:
        at = schedule.at
        if at.tzinfo is not None and at.utcoffset() is not None:
            # An aware `at` names one instant; fold keeps it on the right side of a fall-back.
            at = at.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
        wall = (at.time().replace(fold=at.fold),)
        day = at.date()
        # The walk covers the day itself and only the days its fire can be shifted to.
        step = self._shift_step()
        reach, none = timedelta(days=SHIFT_LIMIT_DAYS), timedelta(0)
        forward = step is not None and step.days > 0
        backward = step is not None and step.days < 0
        self.last_day = min(self.last_day, day + (reach if forward else none))
        self.first_day = max(self.first_day, day - (reach if backward else none))
        return lambda other: wall if other == day else ()


# How many months a jump to the next matching day looks through: past the walk's horizon.
_JUMP_MONTHS = 12 * 9


def _months_from(day: date) -> Iterator[tuple[int, int, int]]:
    """(year, month, first day number to consider) from `day`'s month on, for _JUMP_MONTHS."""
    year, month, first = day.year, day.month, day.day
    for _ in range(_JUMP_MONTHS):
        yield year, month, first
        if year == date.max.year and month == 12:
            return
        year, month, first = (year + 1, 1, 1) if month == 12 else (year, month + 1, 1)


def _beyond(day: date) -> date:
    """A day past the walk's horizon from `day` (or the last date there is)."""
    try:
        return day + timedelta(days=31 * _JUMP_MONTHS)
    except OverflowError:
        return date.max


def _frequency_times(schedule: FrequencySchedule) -> tuple[time, ...]:
    """Wall times of one day, counted in wall-clock time from the window start, ends included."""
    if schedule.window is None:
        start, end = 0, 24 * 3600 - 1
    else:
        start = _seconds(parse_wall_time(schedule.window.start))
        end = _seconds(parse_wall_time(schedule.window.end))
    step = schedule.every_minutes * 60
    return tuple(
        time(second // 3600, second // 60 % 60, second % 60)
        for second in range(start, end + 1, step)
    )


def _seconds(wall: time) -> int:
    return wall.hour * 3600 + wall.minute * 60 + wall.second
