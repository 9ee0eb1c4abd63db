"""Wall-clock helpers: parse "HH:MM[:SS]" and map a local wall time to one instant.

A wall time that a DST change skips maps to the first valid instant after it; one that
occurs twice maps to the first (fold=0). Both rules come from DESIGN.md.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_TIME_RE = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?$")


def parse_wall_time(text: str) -> time:
    """Parse "HH:MM" or "HH:MM:SS"; ValueError says what is wrong."""
    match = _TIME_RE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not HH:MM or HH:MM:SS")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{text!r} is not a time of day (00:00 to 23:59:59)")
    return time(hour, minute, second)


# Files in a zoneinfo tree that are not IANA zones a schedule may name: the host's own zone
# (follows whatever the machine is set to), tzdata's placeholder and POSIX default rules,
# and the duplicate trees (`right/` counts leap seconds, which civil clocks do not).
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
_NOT_ZONE_PREFIXES = ("posix/", "right/")


def load_zone(name: str) -> ZoneInfo:
    """ZoneInfo for an IANA name; ValueError when tzdata does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r} (expected an IANA name)") from exc


def check_zone_name(name: str) -> None:
    """ValueError unless `name` is an IANA zone or one of tzdata's documented aliases
    (`US/Eastern`, `Asia/Calcutta`: the `backward` links); never the host's `localtime`."""
    if name in _NOT_ZONES or name.startswith(_NOT_ZONE_PREFIXES):
        raise ValueError(
            f"{name!r} is not an IANA timezone name (write a zone such as Europe/London)"
        )
    if name not in _iana_names():
        raise ValueError(f"unknown timezone {name!r} (expected an IANA name)")
    load_zone(name)


def zone_names() -> list[str]:
    """Every name `check_zone_name` accepts, sorted (for pickers)."""
    return sorted(_iana_names())


@cache
def _iana_names() -> frozenset[str]:
    return frozenset(
        name
        for name in available_timezones()
        if name not in _NOT_ZONES and not name.startswith(_NOT_ZONE_PREFIXES)
    )


def to_instant(day: date, wall: time, zone: ZoneInfo) -> tuple[datetime, bool]:
    """UTC instant at which `wall` on `day` fires, and whether the wall time was in a gap."""
    naive = datetime.combine(day, wall)
    # fold=0: for a repeated wall time this is the first pass, which is the one we fire.
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant, False
    return gap_end(naive, zone), True


def gap_end(naive: datetime, zone: ZoneInfo) -> datetime:
    """First instant after the skipped wall time `naive`: the transition that skipped it."""
    # fold=1 maps through the post-transition offset (an instant before the change),
    # fold=0 through the pre-transition offset (after it); the change lies in between.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    after_offset = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return high
