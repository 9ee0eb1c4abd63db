"""Pure trigger maths: when a schedule fires next, and a forecast of its next fires.

No clock reads, no I/O: `after` is passed in. The walk goes over local DATES of the
schedule's timezone; each date's wall times come from the schedule, pass the calendar
(skip, or move to the next/previous open day) and map to instants with zoneinfo. A day
whose UTC offset stays the same maps its wall times by one subtraction and lazily (a
`*/10 * * * * *` forecast touches only the times it returns); a day with a DST change
applies the schedule's DST rules (`_dst.py`) to each wall time. See
docs/reference/schedules.md.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import count
from zoneinfo import ZoneInfo

from app.clock import ensure_aware
from app.domain._dst import Occurrence, SkippedOccurrence, wall_events
from app.domain._plan import Plan
from app.domain._walltime import to_instant
from app.domain.calendars import CalendarSpec
from app.domain.schedules import Schedule

__all__ = ["Forecast", "Occurrence", "SkippedOccurrence", "forecast", "next_fire_time"]

# Give up after this many days without a fire: covers "Feb 29 only" (8 years around 2100).
HORIZON_DAYS = 8 * 366 + 2


@dataclass(frozen=True)
class Forecast:
    occurrences: list[Occurrence] = field(default_factory=list)
    skipped: list[SkippedOccurrence] = field(default_factory=list)


Event = tuple[datetime, Occurrence | SkippedOccurrence]


def next_fire_time(
    schedule: Schedule, after: datetime, calendar: CalendarSpec | None = None
) -> datetime | None:
    """First fire strictly after `after` (aware), as aware UTC; None when there is none."""
    return first_fire(walk(schedule, after, calendar))


def forecast(
    schedule: Schedule, after: datetime, count: int, calendar: CalendarSpec | None = None
) -> Forecast:
    """The next `count` fires after `after`, and the occurrences skipped on the way."""
    return collect(walk(schedule, after, calendar), count)


def first_fire(events: Iterator[Event]) -> datetime | None:
    """The instant of the first occurrence a walk yields (None: it yields none)."""
    return next((item.at for _, item in events if isinstance(item, Occurrence)), None)


def collect(events: Iterator[Event], count: int) -> Forecast:
    """The first `count` occurrences of a walk, and what it skipped on the way to them."""
    result = Forecast()
    if count <= 0:
        return result
    for _, item in events:
        if isinstance(item, Occurrence):
            result.occurrences.append(item)
            if len(result.occurrences) == count:
                break
        else:
            result.skipped.append(item)
    return result


def walk(schedule: Schedule, after: datetime, calendar: CalendarSpec | None) -> Iterator[Event]:
    """Fires and skips strictly after `after`, in time order, one fire per instant."""
    after = ensure_aware(after)
    plan = Plan(schedule, calendar)
    # One day early: a fire of the previous local date can still lie after `after`.
    day = max(after.astimezone(plan.zone).date() - timedelta(days=1), plan.first_day)
    last_fire = after
    after_utc = after.astimezone(UTC).replace(tzinfo=None)
    idle = 0
    while day <= plan.last_day and idle < HORIZON_DAYS:
        ahead = plan.skip_to(day)
        if ahead != day:  # days that cannot fire are passed over at once
            idle += (ahead - day).days
            day = ahead
            continue
        idle += 1
        for instant, item in _events_on(plan, day, after_utc):
            if instant <= after:
                continue
            if isinstance(item, Occurrence):
                if instant <= last_fire:
                    continue  # several nominal times on one instant fire once
                last_fire = instant
                idle = 0
            yield instant, item
        if day == date.max:
            break
        day += timedelta(days=1)


def _events_on(plan: Plan, day: date, after_utc: datetime) -> Iterator[Event]:
    """Fires on local date `day` (its own and those moved onto it), or its skipped ones."""
    times = plan.times_for(day)
    if plan.on_closed == "skip" and not times:
        return  # nothing nominal and nothing moves here: the calendar need not be asked
    reason = plan.closed_reason(day)
    if reason is not None:
        if times and plan.shift_target(day) is None:
            low, _ = _offsets_near(plan.zone, day)
            for wall in times[_first_after(times, day, after_utc + low) :]:
                yield _skipped(plan, day, wall, reason)
        return
    sources = plan.shifted_into(day)
    offset = None if sources or plan.exact else _steady_offset(plan.zone, day)
    if offset is not None:
        yield from _steady_fires(plan, day, times, offset, after_utc)
        return
    walls: list[tuple[time, str | None]] = [(wall, None) for wall in times]
    for source in sources:
        note = f"shifted from {source.isoformat()} ({plan.closed_reason(source)})"
        walls += [(wall, note) for wall in plan.times_for(source)]
    walls.sort(key=lambda entry: entry[0])  # stable: a day's own time before a shifted one
    yield from _exact_events(plan, day, walls, after_utc)


def _exact_events(
    plan: Plan, day: date, walls: list[tuple[time, str | None]], after_utc: datetime
) -> Iterator[Event]:
    """Fires and DST skips of a day near a DST change, in time order, lazily.

    Every instant of a wall time lies within [wall - high, wall - low] (the offsets around
    the day), so wall times up to `after_utc + low` are passed over, and an event is let out
    once no later wall time can come before it.
    """
    low, high = _offsets_near(plan.zone, day)
    floor = after_utc + low
    pending: list[tuple[datetime, int, int, Occurrence | SkippedOccurrence]] = []
    order = count()
    for wall, note in walls:
        naive = datetime.combine(day, wall)
        if naive <= floor:
            continue
        ready = naive - high
        while pending and pending[0][0].replace(tzinfo=None) < ready:
            instant, _, _, item = heapq.heappop(pending)
            yield instant, item
        for instant, rank, item in wall_events(plan, day, wall, note):
            heapq.heappush(pending, (instant, rank, next(order), item))
    while pending:
        instant, _, _, item = heapq.heappop(pending)
        yield instant, item


def _first_after(times: tuple[time, ...], day: date, floor: datetime) -> int:
    """Index of the first wall time of `day` later than the naive local `floor`."""
    if floor.date() < day:
        return 0
    if floor.date() > day:
        return len(times)
    return bisect_right(times, floor.time())


def _offsets_near(zone: ZoneInfo, day: date) -> tuple[timedelta, timedelta]:
    """The smallest and largest UTC offset the zone has within a day of `day`."""
    midnight = datetime.combine(day, time())
    offset = zone.utcoffset(midnight)
    assert offset is not None
    start = midnight - offset
    probes = [start - _MARGIN, start, start + _MARGIN]
    probes += _changes_list(zone, start - _MARGIN, start + _MARGIN)
    offsets = [found for probe in probes if (found := _offset_at(zone, probe)) is not None]
    return min(offsets, default=offset), max(offsets, default=offset)


def _steady_offset(zone: ZoneInfo, day: date) -> timedelta | None:
    """The UTC offset of `day` when no DST change lies within a day of it (None otherwise:
    the day then takes the exact, per-wall-time path)."""
    midnight = datetime.combine(day, time())
    offset = zone.utcoffset(midnight)
    assert offset is not None
    start = midnight - offset  # naive UTC
    if _changes_between(zone, start - _MARGIN, start + _MARGIN):
        return None
    return offset


# A change this close to a day's start may touch the day (offsets differ by at most 26 h).
_MARGIN = timedelta(hours=26)
_PROBE = timedelta(hours=6)


def _changes_between(zone: ZoneInfo, low: datetime, high: datetime) -> bool:
    """Whether the zone's offset changes between the naive UTC instants `low` and `high`."""
    return bool(_changes_list(zone, low, high))


def _changes_list(zone: ZoneInfo, low: datetime, high: datetime) -> list[datetime]:
    """Probe instants (naive UTC) bracketing the zone's offset changes in [low, high]."""
    found: list[datetime] = []
    year, month = low.year, low.month
    while (year, month) <= (high.year, high.month):
        found += [c for c in _month_changes(zone, year, month) if low <= c <= high]
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


@lru_cache(maxsize=65536)
def _month_changes(zone: ZoneInfo, year: int, month: int) -> tuple[datetime, ...]:
    """Naive UTC instants (to the probe) at which the zone's offset changes in a UTC month,
    found by probing every 6 hours: tzdata has no two changes that cancel within 6 hours."""
    if not 1 <= year < 9999:
        return (datetime(year, month, 1),)  # the calendar's edges: always the exact path
    moment = datetime(year, month, 1)
    end = datetime(year + month // 12, month % 12 + 1, 1)
    found: list[datetime] = []
    offset = _offset_at(zone, moment)
    while moment < end:
        following = min(moment + _PROBE, end)
        next_offset = _offset_at(zone, following)
        if next_offset != offset:
            found.append(following)  # the change lies in (moment, following]
            found.append(moment)
        moment, offset = following, next_offset
    return tuple(found)


def _offset_at(zone: ZoneInfo, instant: datetime) -> timedelta | None:
    return instant.replace(tzinfo=UTC).astimezone(zone).utcoffset()


def _steady_fires(
    plan: Plan, day: date, times: tuple[time, ...], offset: timedelta, after_utc: datetime
) -> Iterator[Event]:
    """A steady day's fires, lazily, from the first one after `after_utc` (naive UTC; found
    by bisection)."""
    first = _first_after(times, day, after_utc + offset)
    zone = plan.zone
    for wall in times[first:]:
        instant = datetime.combine(day, wall, tzinfo=UTC) - offset
        yield instant, Occurrence(at=instant, local=datetime.combine(day, wall, tzinfo=zone))


def _skipped(plan: Plan, day: date, wall: time, reason: str) -> Event:
    instant, _ = to_instant(day, wall, plan.zone)
    nominal = datetime.combine(day, wall, tzinfo=plan.zone)
    return instant, SkippedOccurrence(local=nominal, reason=reason, at=instant)
