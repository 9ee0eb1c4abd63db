"""Fire times at both 2026 DST changes, in zones with odd shifts, offsets and histories.

Expected values are local wall times with their offset, read off tzdata's 2026 rules:
New York 03-08 02:00->03:00 / 11-01 02:00->01:00; Berlin 03-29 02:00->03:00 / 10-25
03:00->02:00; London 03-29 01:00->02:00 / 10-25 02:00->01:00; Lord Howe (30 minutes)
10-04 02:00->02:30 / 04-05 02:00->01:30; Santiago 09-06 00:00->01:00 / 04-04 24:00->23:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
    # interval-like schedules keep elapsed time: the repeated hour fires again, no hole
    (NY, {"kind": "cron", "cron": "0 * * * *"}, "2026-10-31T23:30-04:00", 4,
     ["2026-11-01T00:00-04:00", "2026-11-01T01:00-04:00", "2026-11-01T01:00-05:00",
      "2026-11-01T02:00-05:00"]),
    (NY, {"kind": "frequency", "every_minutes": 30, "window": {"start": "00:30", "end": "02:30"}},
     "2026-11-01T00:00-04:00", 7,
     ["2026-11-01T00:30-04:00", "2026-11-01T01:00-04:00", "2026-11-01T01:30-04:00",
      "2026-11-01T01:00-05:00", "2026-11-01T01:30-05:00", "2026-11-01T02:00-05:00",
      "2026-11-01T02:30-05:00"]),
    # ... unless told to count wall-clock time: 01:30 EDT to 02:00 EST is 90 real minutes
    (NY, {"kind": "frequency", "every_minutes": 30, "window": {"start": "00:30", "end": "02:30"},
          "dst_interval": "wall_clock"},
     "2026-11-01T00:00-04:00", 5,
     ["2026-11-01T00:30-04:00", "2026-11-01T01:00-04:00", "2026-11-01T01:30-04:00",
      "2026-11-01T02:00-05:00", "2026-11-01T02:30-05:00"]),
    (BERLIN, {"kind": "cron", "cron": "30 2 * * *"}, "2026-10-24T12:00+02:00", 2,
     ["2026-10-25T02:30+02:00", "2026-10-26T02:30+01:00"]),
    (BERLIN, {"kind": "frequency", "every_minutes": 30,
              "window": {"start": "02:00", "end": "03:00"}},
     "2026-10-25T00:00+02:00", 6,
     ["2026-10-25T02:00+02:00", "2026-10-25T02:30+02:00", "2026-10-25T02:00+01:00",
      "2026-10-25T02:30+01:00", "2026-10-25T03:00+01:00", "2026-10-26T02:00+01:00"]),
    (LONDON, {"kind": "frequency", "every_minutes": 20,
              "window": {"start": "00:40", "end": "02:00"}}, "2026-10-25T00:00+01:00", 8,
     ["2026-10-25T00:40+01:00", "2026-10-25T01:00+01:00", "2026-10-25T01:20+01:00",
      "2026-10-25T01:40+01:00", "2026-10-25T01:00+00:00", "2026-10-25T01:20+00:00",
      "2026-10-25T01:40+00:00", "2026-10-25T02:00+00:00"]),
    (LORD_HOWE, {"kind": "cron", "cron": "*/15 1-2 * * *"}, "2026-04-05T00:00+11:00", 8,
     ["2026-04-05T01:00+11:00", "2026-04-05T01:15+11:00", "2026-04-05T01:30+11:00",
      "2026-04-05T01:45+11:00", "2026-04-05T01:30+10:30", "2026-04-05T01:45+10:30",
      "2026-04-05T02:00+10:30", "2026-04-05T02:15+10:30"]),
    # --- Vixie's rule at spring-forward: 7 * * * * keeps its hourly beat (no 02:00 extra)
    (LONDON, {"kind": "cron", "cron": "7 * * * *"}, "2026-03-29T00:00+00:00", 3,
     ["2026-03-29T00:07+00:00", "2026-03-29T02:07+01:00", "2026-03-29T03:07+01:00"]),
    (LONDON, {"kind": "cron", "cron": "7 * * * *", "dst_interval": "wall_clock"},
     "2026-03-29T00:00+00:00", 3,
     ["2026-03-29T00:07+00:00", "2026-03-29T02:00+01:00", "2026-03-29T02:07+01:00"]),
    (LONDON, {"kind": "cron", "cron": "*/30 * * * *"}, "2026-10-25T00:45+01:00", 5,
     ["2026-10-25T01:00+01:00", "2026-10-25T01:30+01:00", "2026-10-25T01:00+00:00",
      "2026-10-25T01:30+00:00", "2026-10-25T02:00+00:00"]),
    # --- the gap and fold rules of fixed-time schedules
    (NY, {"kind": "times", "times": ["02:30"], "dst_gap": "skip"}, "2026-03-07T12:00-05:00", 2,
     ["2026-03-09T02:30-04:00", "2026-03-10T02:30-04:00"]),
    (NY, {"kind": "times", "times": ["01:30"], "dst_fold": "second"},
     "2026-10-31T12:00-04:00", 2, ["2026-11-01T01:30-05:00", "2026-11-02T01:30-05:00"]),
    (NY, {"kind": "cron", "cron": "30 1 * * *", "dst_fold": "both"},
     "2026-10-31T12:00-04:00", 3,
     ["2026-11-01T01:30-04:00", "2026-11-01T01:30-05:00", "2026-11-02T01:30-05:00"]),
    (BERLIN, {"kind": "once", "at": "2026-10-25T02:30:00", "dst_fold": "second"},
     "2026-10-01T00:00+02:00", 2, ["2026-10-25T02:30+01:00"]),
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


def test_hourly_london_across_both_2026_changes() -> None:
    """Every real hour fires exactly once; the hour the clock skips and the one it repeats
    are marked."""
    schedule = parse_schedule({"kind": "cron", "cron": "0 * * * *", "timezone": LONDON})
    for change in (datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)):
        result = forecast(schedule, change - timedelta(hours=3, minutes=1), 6)
        hours = [change + timedelta(hours=k) for k in range(-3, 3)]
        assert [o.at for o in result.occurrences] == hours
    spring = forecast(schedule, datetime(2026, 3, 28, 22, 59, tzinfo=UTC), 3)
    assert [(o.local.isoformat(timespec="minutes"), o.note) for o in spring.occurrences] == [
        ("2026-03-28T23:00+00:00", None),
        ("2026-03-29T00:00+00:00", None),
        ("2026-03-29T02:00+01:00", None),
    ]
    assert [(s.local.isoformat(timespec="minutes"), s.reason, s.kind) for s in spring.skipped] == [
        (
            "2026-03-29T01:00+00:00",
            "DST gap: 01:00 does not exist on 2026-03-29; the interval runs on in elapsed time",
            "dst",
        )
    ]
    autumn = forecast(schedule, datetime(2026, 10, 24, 23, 59, tzinfo=UTC), 3)
    assert [(o.local.isoformat(timespec="minutes"), o.note) for o in autumn.occurrences] == [
        ("2026-10-25T01:00+01:00", "DST fold: 01:00 occurs twice, first pass (elapsed time)"),
        ("2026-10-25T01:00+00:00", "DST fold: 01:00 occurs twice, fires again (elapsed time)"),
        ("2026-10-25T02:00+00:00", None),
    ]
    assert autumn.skipped == []


@pytest.mark.parametrize(
    ("schedule", "after", "fired", "dropped"),
    [
        (
            {"kind": "times", "times": ["02:30"], "dst_gap": "skip"},
            datetime(2026, 3, 8, tzinfo=UTC),
            [("2026-03-09T02:30-04:00", None)],
            [
                (
                    "2026-03-08T02:30-05:00",
                    "DST gap: 02:30 does not exist on 2026-03-08 (dst_gap: skip)",
                )
            ],
        ),
        (
            {"kind": "times", "times": ["01:30"]},
            datetime(2026, 11, 1, tzinfo=UTC),
            [("2026-11-01T01:30-04:00", None)],
            [
                (
                    "2026-11-01T01:30-05:00",
                    "DST fold: 01:30 occurs twice, second pass not fired (dst_fold: first)",
                )
            ],
        ),
        (
            {"kind": "times", "times": ["01:30"], "dst_fold": "second"},
            datetime(2026, 11, 1, tzinfo=UTC),
            [("2026-11-01T01:30-05:00", "DST fold: 01:30 occurs twice, fires on the second pass")],
            [
                (
                    "2026-11-01T01:30-04:00",
                    "DST fold: 01:30 occurs twice, first pass not fired (dst_fold: second)",
                )
            ],
        ),
        (
            {"kind": "times", "times": ["01:30"], "dst_fold": "both"},
            datetime(2026, 11, 1, tzinfo=UTC),
            [
                (
                    "2026-11-01T01:30-04:00",
                    "DST fold: 01:30 occurs twice, first pass (dst_fold: both)",
                ),
                (
                    "2026-11-01T01:30-05:00",
                    "DST fold: 01:30 occurs twice, fires again (dst_fold: both)",
                ),
            ],
            [],
        ),
    ],
)
def test_dst_rules_note_what_they_moved_doubled_or_dropped(
    schedule: dict[str, Any],
    after: datetime,
    fired: list[tuple[str, str | None]],
    dropped: list[tuple[str, str]],
) -> None:
    # One more fire than listed: the walk passes every skip before the next day's fire.
    result = forecast(parse_schedule({**schedule, "timezone": NY}), after, len(fired) + 1)
    got = [(o.local.isoformat(timespec="minutes"), o.note) for o in result.occurrences]
    assert got[: len(fired)] == fired
    assert [(s.local.isoformat(timespec="minutes"), s.reason) for s in result.skipped] == dropped


@pytest.mark.parametrize(
    ("schedule", "interval_like"),
    [
        ({"kind": "cron", "cron": "7 * * * *"}, True),
        ({"kind": "cron", "cron": "*/30 * * * *"}, True),
        ({"kind": "cron", "cron": "0-59/5 8 * * *"}, True),
        ({"kind": "cron", "cron": "0 8-18/2 * * *"}, True),
        ({"kind": "cron", "cron": "*/10 0 3 * * ?"}, True),  # Quartz seconds
        ({"kind": "cron", "cron": "30 2 * * *"}, False),
        ({"kind": "cron", "cron": "0 0 12 ? * MON-FRI"}, False),
        ({"kind": "cron", "cron": "@hourly"}, True),
        ({"kind": "cron", "cron": "@daily"}, False),
        ({"kind": "frequency", "every_minutes": 15}, True),
        ({"kind": "times", "times": ["01:30"]}, False),
        ({"kind": "once", "at": "2026-11-01T01:30:00"}, False),
    ],
)
def test_which_schedules_are_interval_like(schedule: dict[str, Any], interval_like: bool) -> None:
    assert parse_schedule(schedule).interval_like is interval_like


def test_dst_fields_left_at_their_defaults_are_not_written_back() -> None:
    from app.domain.schedules import schedule_to_dict

    plain = {"kind": "cron", "cron": "0 8 * * *"}
    assert schedule_to_dict(parse_schedule({**plain, "dst_fold": "first"})) == plain
    chosen = {**plain, "dst_gap": "skip", "dst_fold": "both", "dst_interval": "wall_clock"}
    assert schedule_to_dict(parse_schedule(chosen)) == chosen
