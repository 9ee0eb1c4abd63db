"""Cron dialects: Quartz 6/7 fields, ?, L, W, LW, nL, n#k, wrap-around ranges, refusals.

Expected dates are worked out by hand from the 2026 calendar: 1 January 2026 is a Thursday,
1 March a Sunday, 1 May a Friday, 1 August a Saturday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from app.domain._cron import parse_cron
from app.domain.schedules import parse_schedule
from app.domain.triggers import forecast, next_fire_time


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def next_fires(cron: str, after: datetime, count: int) -> list[datetime]:
    schedule = parse_schedule({"kind": "cron", "cron": cron, "timezone": "UTC"})
    return [o.at for o in forecast(schedule, after, count).occurrences]


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        # Seconds: a Quartz expression fires on them.
        ("*/10 * * * * *", utc(2026, 1, 1), [utc(2026, 1, 1, 0, 0, 10), utc(2026, 1, 1, 0, 0, 20)]),
        (
            "30 15 10 * * ?",
            utc(2026, 1, 1),
            [utc(2026, 1, 1, 10, 15, 30), utc(2026, 1, 2, 10, 15, 30)],
        ),
        ("0,30 0 9 * * ?", utc(2026, 1, 1), [utc(2026, 1, 1, 9), utc(2026, 1, 1, 9, 0, 30)]),
        # ? in day-of-month; Quartz day-of-week numbers run 1 = Sunday .. 7 = Saturday.
        ("0 0 12 ? * MON-FRI", utc(2026, 1, 2, 12), [utc(2026, 1, 5, 12), utc(2026, 1, 6, 12)]),
        ("0 0 12 ? * 2", utc(2026, 1, 1), [utc(2026, 1, 5, 12), utc(2026, 1, 12, 12)]),
        ("0 0 12 ? * 1,7", utc(2026, 1, 1), [utc(2026, 1, 3, 12), utc(2026, 1, 4, 12)]),
        ("0 0 12 ? * 2/2", utc(2026, 1, 1), [utc(2026, 1, 2, 12), utc(2026, 1, 5, 12)]),  # M W F
        ("0 0 12 ? * 6#1", utc(2026, 1, 1), [utc(2026, 1, 2, 12), utc(2026, 2, 6, 12)]),
        # Year field.
        ("0 0 0 1 1 ? 2028", utc(2026, 1, 1), [utc(2028, 1, 1)]),
        ("0 0 0 1 1 ? 2027,2029", utc(2027, 6, 1), [utc(2029, 1, 1)]),
        ("0 0 0 1 1 ? 2026-2028", utc(2026, 1, 1), [utc(2027, 1, 1), utc(2028, 1, 1)]),
        ("0 0 0 1 1 ? *", utc(2026, 1, 1), [utc(2027, 1, 1), utc(2028, 1, 1)]),
    ],
)
def test_quartz_fields(cron: str, after: datetime, expected: list[datetime]) -> None:
    assert next_fires(cron, after, len(expected)) == expected


def test_a_year_field_ends_the_schedule() -> None:
    schedule = parse_schedule({"kind": "cron", "cron": "0 0 0 1 1 ? 2026-2027", "timezone": "UTC"})
    assert next_fire_time(schedule, utc(2027, 1, 1)) is None


def test_seconds_are_wall_times() -> None:
    assert parse_cron("5,45 30 8 * * ?").wall_times() == (time(8, 30, 5), time(8, 30, 45))
    assert parse_cron("30 8 * * *").wall_times() == (time(8, 30),)


def test_a_seconds_forecast_is_ten_seconds_apart_across_a_dst_change() -> None:
    schedule = parse_schedule(
        {"kind": "cron", "cron": "*/10 * * * * *", "timezone": "Europe/London"}
    )
    got = [o.at for o in forecast(schedule, utc(2026, 3, 29, 0, 59, 40), 4).occurrences]
    assert got == [
        utc(2026, 3, 29, 0, 59, 50),
        utc(2026, 3, 29, 1, 0, 0),  # 02:00 BST, the first instant after the gap
        utc(2026, 3, 29, 1, 0, 10),
        utc(2026, 3, 29, 1, 0, 20),
    ]


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        ("0 0 L * *", date(2026, 2, 1), [date(2026, 2, 28), date(2026, 3, 31)]),
        ("0 0 L * *", date(2028, 2, 1), [date(2028, 2, 29)]),
        ("0 0 L-2 * *", date(2026, 4, 1), [date(2026, 4, 28), date(2026, 5, 29)]),
        # 15W: the 15th of August 2026 is a Saturday -> Friday the 14th; 15 March is a Sunday
        # -> Monday the 16th; 15 January is a Thursday -> itself.
        ("0 0 15W * *", date(2026, 8, 1), [date(2026, 8, 14), date(2026, 9, 15)]),
        ("0 0 15W * *", date(2026, 3, 1), [date(2026, 3, 16)]),
        ("0 0 15W * *", date(2026, 1, 1), [date(2026, 1, 15)]),
        # Never across the month: 1 August 2026 is a Saturday -> Monday the 3rd; 31 May is a
        # Sunday -> Friday the 29th; 31W has no day in April.
        ("0 0 1W * *", date(2026, 7, 31), [date(2026, 8, 3)]),
        ("0 0 31W * *", date(2026, 4, 1), [date(2026, 5, 29), date(2026, 7, 31)]),
        # LW: the last weekday (31 January 2026 is a Saturday, 31 May a Sunday).
        ("0 0 LW * *", date(2026, 1, 1), [date(2026, 1, 30), date(2026, 2, 27)]),
        ("0 0 LW * *", date(2026, 5, 1), [date(2026, 5, 29)]),
        # nL: the last Friday; Quartz 6L is the same day.
        ("0 0 * * 5L", date(2026, 2, 1), [date(2026, 2, 27), date(2026, 3, 27)]),
        ("0 0 0 ? * 6L", date(2026, 2, 1), [date(2026, 2, 27), date(2026, 3, 27)]),
        ("0 0 * * FRIL", date(2026, 2, 1), [date(2026, 2, 27)]),
        # n#k: second Monday; fifth Friday (January 2026 has one, February not).
        ("0 0 * * 1#2", date(2026, 1, 1), [date(2026, 1, 12), date(2026, 2, 9)]),
        ("0 0 * * MON#2", date(2026, 1, 1), [date(2026, 1, 12)]),
        ("0 0 * * 5#5", date(2026, 1, 1), [date(2026, 1, 30), date(2026, 5, 29)]),
        # L alone in day-of-week is Saturday.
        ("0 0 * * L", date(2026, 1, 1), [date(2026, 1, 3)]),
    ],
)
def test_last_nearest_and_nth_days(cron: str, after: date, expected: list[date]) -> None:
    start = datetime.combine(after, time(), tzinfo=UTC)
    assert [at.date() for at in next_fires(cron, start, len(expected))] == expected


@pytest.mark.parametrize(
    ("text", "minutes", "hours", "months", "weekdays"),
    [
        ("0 22-2 * * *", {0}, {22, 23, 0, 1, 2}, set(range(1, 13)), set(range(7))),
        ("0 22-2/2 * * *", {0}, {22, 0, 2}, set(range(1, 13)), set(range(7))),
        ("50-10/10 * * * *", {50, 0, 10}, set(range(24)), set(range(1, 13)), set(range(7))),
        ("0 0 * NOV-FEB *", {0}, {0}, {11, 12, 1, 2}, set(range(7))),
        ("0 0 * * FRI-MON", {0}, {0}, set(range(1, 13)), {5, 6, 0, 1}),
        ("0 0 * * sat-mon", {0}, {0}, set(range(1, 13)), {6, 0, 1}),
        ("0 0 * * 5-1", {0}, {0}, set(range(1, 13)), {5, 6, 0, 1}),
        ("0 0 0 ? * FRI-MON", {0}, {0}, set(range(1, 13)), {5, 6, 0, 1}),
        ("0 0 0 ? * 6-2", {0}, {0}, set(range(1, 13)), {5, 6, 0, 1}),  # Quartz numbers
        # Names in any case, abbreviated or whole.
        ("0 0 * Jan,fEb Monday,TUE", {0}, {0}, {1, 2}, {1, 2}),
        ("0 0 * january sunday", {0}, {0}, {1}, {0}),
        # Day-of-week steps stop at Saturday.
        ("0 12 * * 5/2", {0}, {12}, set(range(1, 13)), {5}),
        ("0 12 * * 1/2", {0}, {12}, set(range(1, 13)), {1, 3, 5}),
        ("0 12 * * */2", {0}, {12}, set(range(1, 13)), {0, 2, 4, 6}),
        ("0 12 * * 0-7/2", {0}, {12}, set(range(1, 13)), {0, 2, 4, 6}),
    ],
)
def test_wrap_around_names_and_steps(
    text: str, minutes: set[int], hours: set[int], months: set[int], weekdays: set[int]
) -> None:
    expr = parse_cron(text)
    assert (expr.minutes, expr.hours, expr.months, expr.weekdays) == (
        minutes,
        hours,
        months,
        weekdays,
    )


@pytest.mark.parametrize(
    ("text", "day", "fires"),
    [
        # Both restricted: either matches (OR), specials included.
        ("0 0 L * 5", date(2026, 2, 27), True),  # a Friday
        ("0 0 L * 5", date(2026, 4, 30), True),  # the last day, a Thursday
        ("0 0 L * 5", date(2026, 4, 29), False),
        ("0 0 0 15 * MON", date(2026, 1, 5), True),  # Quartz follows the same rule
        # ? and a field starting with * are unrestricted: both must match (AND).
        ("0 0 ? * 5", date(2026, 2, 27), True),
        ("0 0 ? * 5", date(2026, 2, 26), False),
        ("0 0 */2 * 5", date(2026, 2, 27), True),  # the 27th, odd: */2 holds 1, 3, ... 31
        ("0 0 */2 * 5", date(2026, 2, 20), False),
        ("0 0 L * ?", date(2026, 2, 28), True),
        ("0 0 L * ?", date(2026, 2, 27), False),
        ("0 0 ? * ?", date(2026, 2, 27), True),
    ],
)
def test_day_of_month_or_day_of_week(text: str, day: date, fires: bool) -> None:
    assert parse_cron(text).matches_date(day) is fires


@pytest.mark.parametrize(
    ("macro", "after", "expected"),
    [
        ("@yearly", utc(2026, 3, 1), utc(2027, 1, 1)),
        ("@ANNUALLY", utc(2026, 3, 1), utc(2027, 1, 1)),
        ("@monthly", utc(2026, 3, 2), utc(2026, 4, 1)),
        ("@weekly", utc(2026, 1, 1), utc(2026, 1, 4)),  # Sunday
        ("@daily", utc(2026, 1, 1, 1), utc(2026, 1, 2)),
        ("@midnight", utc(2026, 1, 1, 1), utc(2026, 1, 2)),
        ("@hourly", utc(2026, 1, 1, 1, 30), utc(2026, 1, 1, 2)),
    ],
)
def test_macros(macro: str, after: datetime, expected: datetime) -> None:
    assert next_fires(macro, after, 1) == [expected]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "@reboot",
            "@reboot is not supported: it fires when a machine starts, "
            "and a schedule needs fire times",
        ),
        ("@every 5m", "unknown macro '@every 5m'"),
        ("H 2 * * *", "H \\(a hash of the job name, as in Jenkins\\) is not supported"),
        ("H/15 * * * *", "Almanac does not do hashed times"),
        ("0 H(0-5) * * *", "is not supported"),
        ("0 0 * * 1#6", "day-of-week field '1#6': the week after # must be 1-5"),
        ("0 0 L-40 * *", "day-of-month field 'L-40': write L or L-n"),
        ("0 0 L+2 * *", "day-of-month field 'L\\+2': write L or L-n"),
        ("0 0 32W * *", "day-of-month field value 32 out of range 1-31"),
        ("0 0 0 ? * 8", "day-of-week field value 8 out of range 1-7"),
        ("0 0 0 ? * 0", "day-of-week field value 0 out of range 1-7"),
        ("0 0 0 1 1 ? 1969", "year field value 1969 out of range 1970-2099"),
        ("60 * * * * *", "second field value 60 out of range 0-59"),
        ("0 0 0 1 1 ? 2026 x", "expected 5 fields .* or 6-7 .* got 8"),
        ("0 0 ?? * *", "day-of-month field value '\\?\\?' is not a number"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cron(text)


def test_a_refusal_names_the_cron_field() -> None:
    with pytest.raises(ValueError, match="cron.*@reboot"):
        parse_schedule({"kind": "cron", "cron": "@reboot"})
