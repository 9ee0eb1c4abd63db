"""Cron parsing (fields, names, steps, Vixie dom/dow) and next_fire_time on cron schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.domain._cron import parse_cron
from app.domain.schedules import parse_schedule
from app.domain.triggers import next_fire_time


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "minutes", "hours"),
    [
        ("* * * * *", set(range(60)), set(range(24))),
        ("*/15 9-17/4 * * *", {0, 15, 30, 45}, {9, 13, 17}),
        ("5,10-12 0 * * *", {5, 10, 11, 12}, {0}),
        ("7/20 23 * * *", {7, 27, 47}, {23}),
        ("@hourly", {0}, set(range(24))),
    ],
)
def test_time_fields(text: str, minutes: set[int], hours: set[int]) -> None:
    expr = parse_cron(text)
    assert expr.minutes == minutes
    assert expr.hours == hours


@pytest.mark.parametrize(
    ("text", "months", "weekdays"),
    [
        ("0 0 * jan-mar,DEC mon-fri", {1, 2, 3, 12}, {1, 2, 3, 4, 5}),
        ("0 0 * * 7", set(range(1, 13)), {0}),
        ("0 0 * * fri-sun", set(range(1, 13)), {5, 6, 0}),
        ("0 0 * */5 0-6/3", {1, 6, 11}, {0, 3, 6}),
    ],
)
def test_names_and_steps(text: str, months: set[int], weekdays: set[int]) -> None:
    expr = parse_cron(text)
    assert expr.months == months
    assert expr.weekdays == weekdays


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 25 * * *", "hour field value 25 out of range 0-23"),
        ("60 * * * *", "minute field value 60 out of range 0-59"),
        ("0 0 0 * *", "day-of-month field value 0 out of range 1-31"),
        ("0 0 * 13 *", "month field value 13 out of range 1-12"),
        ("0 0 * * 8", "day-of-week field value 8 out of range 0-7"),
        ("0 0 * * funday", "day-of-week field value 'funday' is not a number"),
        ("*/0 * * * *", "minute field step '0' must be a positive number"),
        ("0 0 0 1 1 ? 2028-2026", "year field range '2028-2026' runs backwards"),
        ("0 0 * *", "expected 5 fields"),
        ("0 0 1,,2 * *", "day-of-month field '1,,2' has an empty list item"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cron(text)


@pytest.mark.parametrize(
    ("text", "day", "fires"),
    [
        # Both day fields restricted: either matches (Vixie).
        ("0 0 13 * fri", date(2026, 3, 13), True),  # Friday the 13th
        ("0 0 13 * fri", date(2026, 3, 6), True),  # a Friday
        ("0 0 13 * fri", date(2026, 5, 13), True),  # a Wednesday the 13th
        ("0 0 13 * fri", date(2026, 3, 12), False),
        # A field starting with "*" counts as unrestricted: both must match.
        ("0 0 */2 * fri", date(2026, 3, 13), True),
        ("0 0 */2 * fri", date(2026, 3, 6), False),
        ("0 0 * * fri", date(2026, 3, 12), False),
        ("0 0 31 * *", date(2026, 4, 30), False),
    ],
)
def test_vixie_day_fields(text: str, day: date, fires: bool) -> None:
    assert parse_cron(text).matches_date(day) is fires


@pytest.mark.parametrize(
    ("cron", "zone", "after", "expected"),
    [
        ("30 8 * * 1-5", "UTC", utc(2026, 1, 2, 8, 30), utc(2026, 1, 5, 8, 30)),
        ("30 8 * * 1-5", "Europe/Berlin", utc(2026, 7, 1), utc(2026, 7, 1, 6, 30)),
        ("30 8 * * 1-5", "Europe/Berlin", utc(2026, 1, 1), utc(2026, 1, 1, 7, 30)),
        ("*/10 * * * *", "Asia/Kathmandu", utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 0, 5)),
        ("0 0 29 2 *", "UTC", utc(2026, 1, 1), utc(2028, 2, 29)),
        ("0 0 31 2 *", "UTC", utc(2026, 1, 1), None),
        ("@daily", "America/New_York", utc(2026, 6, 1, 4, 0), utc(2026, 6, 2, 4, 0)),
    ],
)
def test_next_fire_time(cron: str, zone: str, after: datetime, expected: datetime | None) -> None:
    schedule = parse_schedule({"kind": "cron", "cron": cron, "timezone": zone})
    assert next_fire_time(schedule, after) == expected


def test_next_fire_time_is_strictly_after_and_utc() -> None:
    schedule = parse_schedule({"kind": "cron", "cron": "0 * * * *", "timezone": "Europe/Berlin"})
    fired = next_fire_time(schedule, utc(2026, 5, 1, 10, 0))
    assert fired == utc(2026, 5, 1, 11, 0)
    assert fired is not None and fired.tzinfo is UTC


def test_naive_after_is_refused() -> None:
    schedule = parse_schedule({"kind": "cron", "cron": "0 * * * *"})
    with pytest.raises(ValueError, match="naive"):
        next_fire_time(schedule, datetime(2026, 1, 1))


def test_end_and_start_dates_bound_local_dates() -> None:
    schedule = parse_schedule(
        {
            "kind": "cron",
            "cron": "0 23 * * *",
            "timezone": "America/New_York",
            "start_date": "2026-06-10",
            "end_date": "2026-06-11",
        }
    )
    assert next_fire_time(schedule, utc(2026, 1, 1)) == utc(2026, 6, 11, 3, 0)  # 10th 23:00 EDT
    assert next_fire_time(schedule, utc(2026, 6, 11, 3, 0)) == utc(2026, 6, 12, 3, 0)
    assert next_fire_time(schedule, utc(2026, 6, 12, 3, 0)) is None
