"""Pure trigger maths: when a schedule fires next, and a forecast of its next fires.

No clock reads, no I/O: `after` is passed in. The walk goes over local DATES of the
schedule's timezone; each date's wall times come from the schedule, pass the calendar
(skip, or move to the next/previous open day) and map to instants with zoneinfo (DST gap:
the first valid instant after; fall-back: the first pass). See DESIGN.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from app.clock import ensure_aware
from app.domain._plan import Plan
from app.domain._walltime import to_instant
from app.domain.calendars import CalendarSpec
from app.domain.schedules import Schedule

# Give up after this many days without a fire: covers "Feb 29 only" (8 years around 2100).
HORIZON_DAYS = 8 * 366 + 2


@dataclass(frozen=True)
class Occurrence:
    at: datetime  # aware UTC
    local: datetime  # aware, in the schedule's timezone
    note: str | None = None  # why it is not the plain nominal time (shift, DST gap)


@dataclass(frozen=True)
class SkippedOccurrence:
    local: datetime  # the nominal wall time, with the schedule's timezone attached
    reason: str  # "holiday: Christmas Day", "weekend", "closed: extra date"


@dataclass(frozen=True)
class Forecast:
    occurrences: list[Occurrence] = field(default_factory=list)
    skipped: list[SkippedOccurrence] = field(default_factory=list)


Event = tuple[datetime, Occurrence | SkippedOccurrence]


def next_fire_time(
    schedule: Schedule, after: datetime, calendar: CalendarSpec | None = None
) -> datetime | None:
    """First fire strictly after `after` (aware), as aware UTC; None when there is none."""
    for _, item in _walk(schedule, after, calendar):
        if isinstance(item, Occurrence):
            return item.at
    return None


def forecast(
    schedule: Schedule, after: datetime, count: int, calendar: CalendarSpec | None = None
) -> Forecast:
    """The next `count` fires after `after`, and the occurrences skipped on the way."""
    result = Forecast()
    if count <= 0:
        return result
    for _, item in _walk(schedule, after, calendar):
        if isinstance(item, Occurrence):
            result.occurrences.append(item)
            if len(result.occurrences) == count:
                break
        else:
            result.skipped.append(item)
    return result


def _walk(schedule: Schedule, after: datetime, calendar: CalendarSpec | None) -> Iterator[Event]:
    """Fires and skips strictly after `after`, in time order, one fire per instant."""
    after = ensure_aware(after)
    plan = Plan(schedule, calendar)
    # One day early: a fire of the previous local date can still lie after `after`.
    day = max(after.astimezone(plan.zone).date() - timedelta(days=1), plan.first_day)
    last_fire = after
    idle = 0
    while day <= plan.last_day and idle < HORIZON_DAYS:
        ahead = plan.skip_to(day)
        if ahead != day:  # days that cannot fire are passed over at once
            idle += (ahead - day).days
            day = ahead
            continue
        idle += 1
        for instant, item in _events_on(plan, day):
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


def _events_on(plan: Plan, day: date) -> list[Event]:
    """Fires on local date `day` (its own and those moved onto it), or its skipped ones."""
    if plan.on_closed == "skip" and not plan.times_for(day):
        return []  # nothing nominal and nothing moves here: the calendar need not be asked
    reason = plan.closed_reason(day)
    if reason is not None:
        times = plan.times_for(day)
        if not times or plan.shift_target(day) is not None:
            return []
        return [_skipped(plan, day, wall, reason) for wall in times]
    ranked: list[tuple[datetime, int, Occurrence]] = []
    for wall in plan.times_for(day):
        ranked.append(_fire(plan, day, wall, None))
    for source in plan.shifted_into(day):
        note = f"shifted from {source.isoformat()} ({plan.closed_reason(source)})"
        for wall in plan.times_for(source):
            ranked.append(_fire(plan, day, wall, note))
    # On one instant the plain nominal time wins over a DST-moved or shifted one.
    ranked.sort(key=lambda entry: (entry[0], entry[1]))
    return [(instant, occurrence) for instant, _, occurrence in ranked]


def _fire(
    plan: Plan, day: date, wall: time, shift_note: str | None
) -> tuple[datetime, int, Occurrence]:
    instant, in_gap = to_instant(day, wall, plan.zone)
    local = instant.astimezone(plan.zone)
    notes = [shift_note] if shift_note else []
    if in_gap:
        notes.append(f"DST gap: {_clock(wall)} does not exist, fires at {_clock(local.time())}")
    rank = (2 if shift_note else 0) + (1 if in_gap else 0)
    return instant, rank, Occurrence(at=instant, local=local, note="; ".join(notes) or None)


def _skipped(plan: Plan, day: date, wall: time, reason: str) -> Event:
    instant, _ = to_instant(day, wall, plan.zone)
    nominal = datetime.combine(day, wall, tzinfo=plan.zone)
    return instant, SkippedOccurrence(local=nominal, reason=reason)


def _clock(wall: time) -> str:
    return wall.strftime("%H:%M:%S" if wall.second else "%H:%M")
