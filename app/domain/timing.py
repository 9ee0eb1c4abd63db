"""A task's or group's timing: its schedule, its extra schedules, its blackout windows.

Fires of all schedules are merged in time order and an instant fires once (the first
schedule listed wins it); a calendar skip at an instant another schedule fires is moot and
left out. A fire inside a blackout becomes a skip with the reason `blackout: NAME`. Pure, as
triggers.py: `after` is passed in.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from app.clock import ensure_aware
from app.domain.blackouts import Blackout
from app.domain.calendars import CalendarSpec
from app.domain.schedules import Schedule, parse_schedule
from app.domain.triggers import (
    HORIZON_DAYS,
    Event,
    Forecast,
    Occurrence,
    SkippedOccurrence,
    collect,
    first_fire,
    walk,
)

CalendarFor = Callable[[Schedule], CalendarSpec | None]
_HORIZON = timedelta(days=HORIZON_DAYS)


@dataclass(frozen=True)
class Timing:
    schedules: tuple[Schedule, ...]
    blackouts: tuple[Blackout, ...] = ()


def timing_of(
    schedule: Mapping[str, Any] | None,
    extra: Sequence[Mapping[str, Any]] | None = None,
    blackouts: Sequence[Mapping[str, Any]] | None = None,
) -> Timing | None:
    """The timing of stored JSON (a task's or group's columns); None without a schedule."""
    if not schedule:
        return None
    schedules = (parse_schedule(schedule), *(parse_schedule(item) for item in extra or ()))
    return Timing(schedules, tuple(Blackout.model_validate(item) for item in blackouts or ()))


def _no_calendar(schedule: Schedule) -> CalendarSpec | None:
    return None


def timing_walk(
    timing: Timing, after: datetime, calendar_for: CalendarFor = _no_calendar
) -> Iterator[Event]:
    """Fires and skips of all the schedules strictly after `after`, in time order."""
    after = ensure_aware(after)
    streams = [walk(schedule, after, calendar_for(schedule)) for schedule in timing.schedules]
    merged = heapq.merge(*streams, key=lambda event: event[0])  # ties: the first schedule first
    last_fire = after
    for instant, group in groupby(merged, key=lambda event: event[0]):
        if instant - last_fire > _HORIZON:
            return  # blackouts swallowed every fire for years: there is no next one
        events = [item for _, item in group]
        fire = next((item for item in events if isinstance(item, Occurrence)), None)
        for item in events:
            if isinstance(item, SkippedOccurrence):
                if fire is None or item.kind == "dst":
                    yield instant, item
        if fire is None:
            continue
        blackout = next((b for b in timing.blackouts if b.covers(fire.local)), None)
        if blackout is not None:
            reason = f"blackout: {blackout.name}"
            yield instant, SkippedOccurrence(fire.local, reason, kind="blackout", at=fire.at)
            continue
        last_fire = instant
        yield instant, fire


def timing_next_fire(
    timing: Timing, after: datetime, calendar_for: CalendarFor = _no_calendar
) -> datetime | None:
    return first_fire(timing_walk(timing, after, calendar_for))


def timing_forecast(
    timing: Timing, after: datetime, count: int, calendar_for: CalendarFor = _no_calendar
) -> Forecast:
    return collect(timing_walk(timing, after, calendar_for), count)
