"""Fire times at both 2026 DST changes, in zones with odd shifts, offsets and histories.

Expected values are local wall times with their offset, read off tzdata's 2026 rules:
New York 03-08 02:00->03:00 / 11-01 02:00->01:00; Berlin 03-29 02:00->03:00 / 10-25
03:00->02:00; London 03-29 01:00->02:00 / 10-25 02:00->01:00; Lord Howe (30 minutes)
10-04 02:00->02:30 / 04-05 02:00->01:30; Santiago 09-06 00:00->01:00 / 04-04 24:00->23:00.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.domain.schedules import parse_schedule
from app.domain.triggers import forecast


def fires(schedule: dict[str, Any], after: str, count: int) -> list[str]:
    start = datetime.fromisoformat(after).astimezone(UTC)
    result = forecast(parse_schedule(schedule), start, count)
    return [occurrence.local.isoformat(timespec="minutes") for occurrence in result.occurrences]


NY, BERLIN, LONDON = "America/New_York", "Europe/Berlin", "Europe/London"
LORD_HOWE, SANTIAGO = "Australia/Lord_Howe", "America/Santiago"

CASES = [
    # --- spring forward: a wall time in the gap fires once, at the first instant after it
    (NY, {"kind": "times", "times": ["02:30"]}, "2026-03-07T12:00-05:00", 2,
     ["2026-03-08T03:00-04:00", "2026-03-09T02:30-04:00"]),
    (NY, {"kind": "cron", "cron": "*/30 1-3 * * *"}, "2026-03-08T00:00-05:00", 5,
     ["2026-03-08T01:00-05:00", "2026-03-08T01:30-05:00", "2026-03-08T03:00-04:00",
      "2026-03-08T03:30-04:00", "2026-03-09T01:00-04:00"]),
    (NY, {"kind": "frequency", "every_minutes": 15, "window": {"start": "01:30", "end": "03:15"}},
     "2026-03-08T00:00-05:00", 4,
     ["2026-03-08T01:30-05:00", "2026-03-08T01:45-05:00", "2026-03-08T03:00-04:00",
      "2026-03-08T03:15-04:00"]),
    (BERLIN, {"kind": "cron", "cron": "30 2 * * *"}, "2026-03-28T12:00+01:00", 2,
     ["2026-03-29T03:00+02:00", "2026-03-30T02:30+02:00"]),
    (BERLIN, {"kind": "times", "times": ["02:00", "02:59", "03:00", "03:01"]},
     "2026-03-29T00:00+01:00", 2, ["2026-03-29T03:00+02:00", "2026-03-29T03:01+02:00"]),
    (LONDON, {"kind": "times", "times": ["01:15", "02:00"]}, "2026-03-29T00:00+00:00", 3,
     ["2026-03-29T02:00+01:00", "2026-03-30T01:15+01:00", "2026-03-30T02:00+01:00"]),
    (LORD_HOWE, {"kind": "times", "times": ["02:15"]}, "2026-10-03T12:00+10:30", 2,
     ["2026-10-04T02:30+11:00", "2026-10-05T02:15+11:00"]),
    (LORD_HOWE, {"kind": "frequency", "every_minutes": 10,
                 "window": {"start": "01:50", "end": "02:40"}}, "2026-10-04T00:00+10:30", 3,
     ["2026-10-04T01:50+10:30", "2026-10-04T02:30+11:00", "2026-10-04T02:40+11:00"]),
    (SANTIAGO, {"kind": "cron", "cron": "0 0 * * *"}, "2026-09-05T12:00-04:00", 2,
     ["2026-09-06T01:00-03:00", "2026-09-07T00:00-03:00"]),
    (SANTIAGO, {"kind": "times", "times": ["00:30", "01:00", "01:30"]},
     "2026-09-05T12:00-04:00", 3,
     ["2026-09-06T01:00-03:00", "2026-09-06T01:30-03:00", "2026-09-07T00:30-03:00"]),
    # --- fall back: a repeated wall time fires once, on its first pass
    (NY, {"kind": "times", "times": ["01:30"]}, "2026-10-31T12:00-04:00", 2,
     ["2026-11-01T01:30-04:00", "2026-11-02T01:30-05:00"]),
    (NY, {"kind": "cron", "cron": "0 * * * *"}, "2026-10-31T23:30-04:00", 4,
     ["2026-11-01T00:00-04:00", "2026-11-01T01:00-04:00", "2026-11-01T02:00-05:00",
      "2026-11-01T03:00-05:00"]),
    # every 30 minutes counts wall-clock time: 01:30 EDT to 02:00 EST is 90 real minutes
    (NY, {"kind": "frequency", "every_minutes": 30, "window": {"start": "00:30", "end": "02:30"}},
     "2026-11-01T00:00-04:00", 5,
     ["2026-11-01T00:30-04:00", "2026-11-01T01:00-04:00", "2026-11-01T01:30-04:00",
      "2026-11-01T02:00-05:00", "2026-11-01T02:30-05:00"]),
    (BERLIN, {"kind": "cron", "cron": "30 2 * * *"}, "2026-10-24T12:00+02:00", 2,
     ["2026-10-25T02:30+02:00", "2026-10-26T02:30+01:00"]),
    (BERLIN, {"kind": "frequency", "every_minutes": 30,
              "window": {"start": "02:00", "end": "03:00"}},
     "2026-10-25T00:00+02:00", 4,
     ["2026-10-25T02:00+02:00", "2026-10-25T02:30+02:00", "2026-10-25T03:00+01:00",
      "2026-10-26T02:00+01:00"]),
    (LONDON, {"kind": "frequency", "every_minutes": 20,
              "window": {"start": "00:40", "end": "02:00"}}, "2026-10-25T00:00+01:00", 5,
     ["2026-10-25T00:40+01:00", "2026-10-25T01:00+01:00", "2026-10-25T01:20+01:00",
      "2026-10-25T01:40+01:00", "2026-10-25T02:00+00:00"]),
    (LORD_HOWE, {"kind": "cron", "cron": "*/15 1-2 * * *"}, "2026-04-05T00:00+11:00", 8,
     ["2026-04-05T01:00+11:00", "2026-04-05T01:15+11:00", "2026-04-05T01:30+11:00",
      "2026-04-05T01:45+11:00", "2026-04-05T02:00+10:30", "2026-04-05T02:15+10:30",
      "2026-04-05T02:30+10:30", "2026-04-05T02:45+10:30"]),
    (SANTIAGO, {"kind": "cron", "cron": "30 23,0 * * *"}, "2026-04-04T12:00-03:00", 3,
     ["2026-04-04T23:30-03:00", "2026-04-05T00:30-04:00", "2026-04-05T23:30-04:00"]),
    # --- no DST: a quarter-hour offset zone, and Apia (DST dropped in 2021)
    ("Asia/Kathmandu", {"kind": "cron", "cron": "0 */6 * * *"}, "2026-03-08T00:00+05:45", 3,
     ["2026-03-08T06:00+05:45", "2026-03-08T12:00+05:45", "2026-03-08T18:00+05:45"]),
    ("Asia/Kathmandu", {"kind": "frequency", "every_minutes": 45,
                        "window": {"start": "23:00", "end": "23:59"}},
     "2026-10-25T00:00+05:45", 3,
     ["2026-10-25T23:00+05:45", "2026-10-25T23:45+05:45", "2026-10-26T23:00+05:45"]),
    ("Pacific/Apia", {"kind": "times", "times": ["03:30"]}, "2026-04-04T12:00+13:00", 2,
     ["2026-04-05T03:30+13:00", "2026-04-06T03:30+13:00"]),
    ("Pacific/Apia", {"kind": "cron", "cron": "30 2,3 27 9 *"}, "2026-09-01T00:00+13:00", 2,
     ["2026-09-27T02:30+13:00", "2026-09-27T03:30+13:00"]),
]  # fmt: skip


@pytest.mark.parametrize(("zone", "schedule", "after", "count", "expected"), CASES)
def test_dst_table(
    zone: str, schedule: dict[str, Any], after: str, count: int, expected: list[str]
) -> None:
    assert fires({**schedule, "timezone": zone}, after, count) == expected


def test_gap_fire_says_why_it_moved() -> None:
    schedule = parse_schedule({"kind": "times", "times": ["02:30"], "timezone": NY})
    result = forecast(schedule, datetime(2026, 3, 8, tzinfo=UTC), 1)
    assert result.occurrences[0].note == "DST gap: 02:30 does not exist, fires at 03:00"
    assert result.occurrences[0].at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_plain_times_carry_no_note() -> None:
    schedule = parse_schedule({"kind": "times", "times": ["01:30"], "timezone": NY})
    result = forecast(schedule, datetime(2026, 11, 1, tzinfo=UTC), 2)
    assert [occurrence.note for occurrence in result.occurrences] == [None, None]


@pytest.mark.parametrize(
    ("at", "expected_utc"),
    [
        ("2026-11-01T01:30:00", "2026-11-01T05:30:00+00:00"),  # naive: the first pass
        ("2026-11-01T01:30:00-05:00", "2026-11-01T06:30:00+00:00"),  # aware: that instant
        ("2026-03-08T02:30:00", "2026-03-08T07:00:00+00:00"),  # in the gap
    ],
)
def test_once_across_dst(at: str, expected_utc: str) -> None:
    schedule = parse_schedule({"kind": "once", "at": at, "timezone": NY})
    result = forecast(schedule, datetime(2026, 1, 1, tzinfo=UTC), 5)
    assert [o.at.isoformat() for o in result.occurrences] == [expected_utc]


def test_apia_has_no_dst_in_2026() -> None:
    # Samoa abolished DST in 2021; tzdata carries a fixed +13:00 for 2026.
    apia = ZoneInfo("Pacific/Apia")
    offsets = {datetime(2026, month, 1, tzinfo=apia).utcoffset() for month in range(1, 13)}
    assert len(offsets) == 1
