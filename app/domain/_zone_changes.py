"""A zone's UTC offset changes, as the trigger walk needs them: which local dates are steady
(no change within a day of them), how long a steady run of days lasts, the offsets around a
date, and the instant of a date's one change. Found by probing zoneinfo every 6 hours and
kept per month and year (tzdata has no two changes that cancel within 6 hours).

Instants here are naive UTC datetimes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)
# A change this close to a day's start may touch the day (offsets differ by at most 26 h).
MARGIN = timedelta(hours=26)
_PROBE = timedelta(hours=6)
_SECOND = timedelta(seconds=1)


def offsets_near(zone: ZoneInfo, day: date) -> tuple[timedelta, timedelta]:
    """The smallest and largest UTC offset the zone has within a day of `day`."""
    midnight = datetime.combine(day, time())
    offset = zone.utcoffset(midnight)
    assert offset is not None
    start = midnight - offset
    probes = [start - MARGIN, start, start + MARGIN]
    probes += _changes_list(zone, start - MARGIN, start + MARGIN)
    offsets = [found for probe in probes if (found := offset_at(zone, probe)) is not None]
    return min(offsets, default=offset), max(offsets, default=offset)


def _steady_offset(zone: ZoneInfo, day: date) -> timedelta | None:
    """The UTC offset of `day` when no DST change lies within a day of it (None otherwise:
    the day then takes the exact, per-wall-time path)."""
    midnight = datetime.combine(day, time())
    offset = zone.utcoffset(midnight)
    assert offset is not None
    start = midnight - offset  # naive UTC
    if _changes_between(zone, start - MARGIN, start + MARGIN):
        return None
    return offset


class SteadyOffsets:
    """`_steady_offset` along a walk: once a day is found steady, the run of days up to the
    next DST change's reach shares its offset, so most days cost one comparison."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.first, self.last = date.max, date.min
        self.offset = timedelta(0)

    def steady(self, day: date) -> timedelta | None:
        if self.first <= day <= self.last:
            return self.offset
        offset = _steady_offset(self.zone, day)
        if offset is not None:
            self.first, self.last, self.offset = (
                day,
                _steady_through(self.zone, day, offset),
                offset,
            )
        return offset


def _steady_through(zone: ZoneInfo, day: date, offset: timedelta) -> date:
    """The last day from the steady `day` on that no offset change comes near (the days in
    between keep `offset`: the change nearest their start lies after the last one)."""
    start = datetime.combine(day, time()) - offset  # naive UTC
    limit = _next_probe(zone, start, strictly=True)
    if limit is None:  # no change for a year or more: steady that far
        limit = start + _FAR
    # Day start + k days must stay more than MARGIN before the change.
    spare = limit - MARGIN - start
    days = max(0, -(-spare // ONE_DAY) - 1)
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


_FAR = timedelta(days=366)


def _changes_between(zone: ZoneInfo, low: datetime, high: datetime) -> bool:
    """Whether the zone's offset changes between the naive UTC instants `low` and `high`."""
    found = _next_probe(zone, low, strictly=False)
    return found is not None and found <= high


def _next_probe(zone: ZoneInfo, moment: datetime, *, strictly: bool) -> datetime | None:
    """The first probe instant of `_month_changes` at (or, `strictly`, after) the naive UTC
    `moment`, looking into the next year at most; None when there is none."""
    for year in (moment.year, moment.year + 1):
        if year > 9999:
            break
        probes = _year_changes(zone, year)
        index = (bisect_right if strictly else bisect_left)(probes, moment)
        if index < len(probes):
            return probes[index]
    return None


@lru_cache(maxsize=4096)
def _year_changes(zone: ZoneInfo, year: int) -> tuple[datetime, ...]:
    """A year's probe instants (`_month_changes` of each month), in order."""
    return tuple(sorted(c for month in range(1, 13) for c in _month_changes(zone, year, month)))


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
    offset = offset_at(zone, moment)
    while moment < end:
        following = min(moment + _PROBE, end)
        next_offset = offset_at(zone, following)
        if next_offset != offset:
            found.append(following)  # the change lies in (moment, following]
            found.append(moment)
        moment, offset = following, next_offset
    return tuple(found)


def offset_at(zone: ZoneInfo, instant: datetime) -> timedelta | None:
    return instant.replace(tzinfo=UTC).astimezone(zone).utcoffset()


@lru_cache(maxsize=4096)
def one_change(zone: ZoneInfo, day: date) -> tuple[datetime, timedelta, timedelta] | None:
    """(the instant, naive UTC, of the zone's one offset change near `day`; the offset before
    it; after it), or None when there is not exactly one change within a day of `day`."""
    midnight = datetime.combine(day, time())
    offset = zone.utcoffset(midnight)
    assert offset is not None
    start = midnight - offset
    probes = _changes_list(zone, start - MARGIN, start + MARGIN)
    if len(probes) != 2:
        return None
    later, earlier = probes  # the change lies in (earlier, later]
    before, after = offset_at(zone, earlier), offset_at(zone, later)
    if before is None or after is None:
        return None
    while later - earlier > _SECOND:  # bisect to the second: tzdata changes on whole seconds
        middle = earlier + (later - earlier) // 2
        middle -= timedelta(microseconds=middle.microsecond)
        if middle <= earlier:
            middle = earlier + _SECOND
        if offset_at(zone, middle) == before:
            earlier = middle
        else:
            later = middle
    return later, before, after


_SECOND = timedelta(seconds=1)
