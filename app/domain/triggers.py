"""Pure trigger maths: when a schedule fires next, and a forecast of its next fires.

No clock reads, no I/O: `after` is passed in. The walk goes over local DATES of the
schedule's timezone; each date's wall times come from the schedule, pass the calendar
(skip, or move to the next/previous open day) and map to instants with zoneinfo. A day
whose UTC offset stays the same maps its wall times by one subtraction and lazily (a
`*/10 * * * * *` forecast touches only the times it returns); a day with a DST change
applies the schedule's DST rules (`_dst.py`) to the wall times near the change. Which days
are steady, and when a zone changes, comes from `_zone_changes.py`. See
docs/reference/schedules.md.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import count

from app.clock import ensure_aware
from app.domain._dst import Occurrence, SkippedOccurrence, wall_events
from app.domain._plan import Plan
from app.domain._walltime import to_instant
from app.domain._zone_changes import MARGIN, ONE_DAY, SteadyOffsets, offsets_near, one_change
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
    zone = plan.zone
    offsets = SteadyOffsets(zone)
    near_after = (after_utc + MARGIN).date()  # later local dates lie wholly after `after`
    # Without a calendar (and not an aware `once`) a day's fires are its own nominal times:
    # a steady day then takes the short path below.
    plain = calendar is None and not plan.exact
    idle = 0
    while True:
        ahead = plan.skip_to(day)  # days that cannot fire are passed over at once
        idle += (ahead - day).days
        day = ahead
        if day > plan.last_day or idle >= HORIZON_DAYS:
            break
        idle += 1
        offset = offsets.steady(day) if plain else None
        if offset is not None:  # the common day, inlined: fires only, one subtraction each
            times = plan.times_for(day)
            if day <= near_after:  # only the first days can hold times before `after`
                times = times[_first_after(times, day, after_utc + offset) :]
            for wall in times:
                instant = datetime.combine(day, wall, tzinfo=UTC) - offset
                if instant <= last_fire:
                    continue  # several nominal times on one instant fire once
                last_fire, idle = instant, 0
                yield instant, Occurrence(instant, datetime.combine(day, wall, tzinfo=zone))
        else:
            for instant, item in _events_on(plan, day, after_utc, offsets):
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
        day += ONE_DAY


def _events_on(
    plan: Plan, day: date, after_utc: datetime, offsets: SteadyOffsets
) -> Iterator[Event]:
    """Fires on local date `day` (its own and those moved onto it), or its skipped ones."""
    times = plan.times_for(day)
    if plan.on_closed == "skip" and not times:
        return  # nothing nominal and nothing moves here: the calendar need not be asked
    reason = plan.closed_reason(day)
    if reason is not None:
        if times and plan.shift_target(day) is None:
            low, _ = offsets_near(plan.zone, day)
            for wall in times[_first_after(times, day, after_utc + low) :]:
                yield _skipped(plan, day, wall, reason)
        return
    sources = plan.shifted_into(day)
    offset = None if sources or plan.exact else offsets.steady(day)
    if offset is not None:
        yield from _steady_fires(plan, day, times, offset, after_utc)
        return
    low, _ = offsets_near(plan.zone, day)
    own = times[_first_after(times, day, after_utc + low) :]
    if not sources:  # lazily: a forecast may need only the first few of 86,400
        yield from _exact_events(plan, day, ((wall, None) for wall in own), after_utc)
        return
    walls: list[tuple[time, str | None]] = [(wall, None) for wall in own]
    for source in sources:
        note = f"shifted from {source.isoformat()} ({plan.closed_reason(source)})"
        walls += [(wall, note) for wall in plan.times_for(source)]
    walls.sort(key=lambda entry: entry[0])  # stable: a day's own time before a shifted one
    yield from _exact_events(plan, day, walls, after_utc)


def _exact_events(
    plan: Plan, day: date, walls: Iterable[tuple[time, str | None]], after_utc: datetime
) -> Iterator[Event]:
    """Fires and DST skips of a day near a DST change, in time order, lazily.

    Every instant of a wall time lies within [wall - high, wall - low] (the offsets around
    the day), so wall times up to `after_utc + low` are passed over, and an event is let out
    once no later wall time can come before it.
    """
    zone = plan.zone
    low, high = offsets_near(zone, day)
    floor = after_utc + low
    # (naive UTC instant, rank, order, aware instant, event): compared without time zones
    pending: list[tuple[datetime, int, int, datetime, Occurrence | SkippedOccurrence]] = []
    order = count()
    split = None if plan.exact else one_change(zone, day)
    for wall, note in walls:
        naive = datetime.combine(day, wall)
        if naive <= floor:
            continue
        ready = naive - high
        while pending and pending[0][0] < ready:
            _, _, _, instant, item = heapq.heappop(pending)
            yield instant, item
        if split is not None and note is None:
            # A wall time away from the change exists once: by arithmetic, not zoneinfo.
            change, before, after = split
            earlier, later = naive - before, naive - after
            if (earlier < change) != (later >= change):
                naive_utc = earlier if earlier < change else later
                instant = naive_utc.replace(tzinfo=UTC)
                local = datetime.combine(day, wall, tzinfo=zone)
                event = Occurrence(instant, local)
                if not pending and naive_utc <= ready:  # nothing later can come before it
                    yield instant, event
                else:
                    heapq.heappush(pending, (naive_utc, 0, next(order), instant, event))
                continue
        for instant, rank, item in wall_events(plan, day, wall, note):
            naive_utc = instant.astimezone(UTC).replace(tzinfo=None)
            heapq.heappush(pending, (naive_utc, rank, next(order), instant, item))
    while pending:
        _, _, _, instant, item = heapq.heappop(pending)
        yield instant, item


def _first_after(times: tuple[time, ...], day: date, floor: datetime) -> int:
    """Index of the first wall time of `day` later than the naive local `floor`."""
    if floor.date() < day:
        return 0
    if floor.date() > day:
        return len(times)
    return bisect_right(times, floor.time())


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
