"""Holiday calendars, ordinal days of a month, and what closed days do to fires."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from app.domain.calendars import CalendarSpec, validate_calendar_fields
from app.domain.schedules import parse_schedule
from app.domain.triggers import forecast

US = CalendarSpec(name="us", country="US", skip_weekends=True)
BAVARIA = CalendarSpec(name="by", country="DE", subdivision="BY", skip_weekends=True)
WEEKENDS = CalendarSpec(name="weekends", skip_weekends=True)


@pytest.mark.parametrize(
    ("calendar", "day", "reason"),
    [
        (US, date(2026, 12, 25), "holiday: Christmas Day"),
        (US, date(2026, 7, 3), "holiday: Independence Day (observed)"),
        (US, date(2026, 7, 4), "holiday: Independence Day"),  # the name beats "weekend"
        (US, date(2026, 7, 11), "weekend"),
        (US, date(2026, 7, 10), None),
        (CalendarSpec(name="us7", country="US"), date(2026, 7, 11), None),
        (BAVARIA, date(2026, 1, 6), "holiday: Epiphany"),
        (BAVARIA, date(2026, 6, 4), "holiday: Corpus Christi"),
        (CalendarSpec(name="de", country="DE"), date(2026, 1, 6), None),  # not federal
        (CalendarSpec(name="x", extra_dates=frozenset({date(2026, 3, 3)})), date(2026, 3, 3),
         "closed: extra date"),
        (CalendarSpec(name="x", country="US", working_dates=frozenset({date(2026, 12, 25)})),
         date(2026, 12, 25), None),
        (CalendarSpec(name="x", skip_weekends=True, working_dates=frozenset({date(2026, 7, 11)})),
         date(2026, 7, 11), None),
        (CalendarSpec(name="x", extra_dates=frozenset({date(2026, 3, 3)}),
                      working_dates=frozenset({date(2026, 3, 3)})), date(2026, 3, 3),
         "closed: extra date"),
    ],
)  # fmt: skip
def test_closed_reason(calendar: CalendarSpec, day: date, reason: str | None) -> None:
    assert calendar.closed_reason(day) == reason
    assert calendar.is_open(day) is (reason is None)


def test_calendar_is_a_cheap_hashable_value() -> None:
    twin = CalendarSpec(name="us", country="US", skip_weekends=True)
    assert twin == US and hash(twin) == hash(US)
    assert len({US, twin, BAVARIA}) == 2


@pytest.mark.parametrize(
    ("country", "subdivision", "names"),
    [("XX", None, "country"), ("DE", "ZZ", "subdivision"), (None, "BY", "subdivision")],
)
def test_validate_calendar_fields_refuses(
    country: str | None, subdivision: str | None, names: str
) -> None:
    with pytest.raises(ValueError, match=f"^{names}: "):
        validate_calendar_fields(country, subdivision)


@pytest.mark.parametrize(("country", "subdivision"), [("US", None), ("DE", "BY"), (None, None)])
def test_validate_calendar_fields_accepts(country: str | None, subdivision: str | None) -> None:
    validate_calendar_fields(country, subdivision)


def days_of(
    schedule: dict[str, Any], after: date, count: int, calendar: CalendarSpec | None
) -> list[str]:
    start = datetime(after.year, after.month, after.day, tzinfo=UTC)
    result = forecast(
        parse_schedule({"kind": "times", "times": ["09:00"], **schedule}), start, count, calendar
    )
    return [o.local.date().isoformat() for o in result.occurrences]


@pytest.mark.parametrize(
    ("days", "calendar", "expected"),
    [
        # Jan 31 2026 is a Saturday.
        ("last business day", None, ["2026-01-30", "2026-02-27", "2026-03-31", "2026-04-30"]),
        ("last business day", US, ["2026-01-30", "2026-02-27", "2026-03-31", "2026-04-30"]),
        ("first business day", US, ["2026-01-02", "2026-02-02", "2026-03-02", "2026-04-01"]),
        ("first business day", None, ["2026-01-01", "2026-02-02", "2026-03-02", "2026-04-01"]),
        # Jan 1 holiday; in Bavaria Jan 6 (Epiphany) too.
        ("business day 3", US, ["2026-01-06", "2026-02-04", "2026-03-04", "2026-04-03"]),
        ("business day 3", BAVARIA, ["2026-01-07", "2026-02-04", "2026-03-04", "2026-04-07"]),
        ("first mon", None, ["2026-01-05", "2026-02-02", "2026-03-02", "2026-04-06"]),
        ("second tue", None, ["2026-01-13", "2026-02-10", "2026-03-10", "2026-04-14"]),
        ("fourth thu", None, ["2026-01-22", "2026-02-26", "2026-03-26", "2026-04-23"]),
        ("last fri", None, ["2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24"]),
        ("last day", None, ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]),
        ("first day", None, ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]),
    ],
)
def test_ordinal_days(days: str, calendar: CalendarSpec | None, expected: list[str]) -> None:
    assert days_of({"days": days}, date(2026, 1, 1), 4, calendar) == expected


def test_last_business_day_skips_a_holiday_at_month_end() -> None:
    # Dec 31 2027 (a Friday) is New Year's Day (observed) in the US.
    assert days_of({"days": "last business day"}, date(2027, 12, 1), 1, US) == ["2027-12-30"]


def test_business_day_without_a_resolved_calendar_is_monday_to_friday() -> None:
    # The schedule names a calendar but the caller passed none: uncalendared.
    named = {"days": "first business day", "calendar": "us"}
    assert days_of(named, date(2026, 1, 1), 1, None) == ["2026-01-01"]


def test_last_friday_can_be_a_week_before_month_end() -> None:
    # Dec 2026: Friday the 25th, the 31st is a Thursday.
    assert days_of({"days": "last fri"}, date(2026, 12, 1), 1, None) == ["2026-12-25"]


def test_thanksgiving_is_the_fourth_thursday() -> None:
    assert days_of({"days": "fourth thu"}, date(2026, 11, 1), 1, None) == ["2026-11-26"]


def test_weekday_lists() -> None:
    after = date(2026, 3, 2)  # a Monday
    assert days_of({"days": "mon,wed-thu"}, after, 4, None) == [
        "2026-03-02", "2026-03-04", "2026-03-05", "2026-03-09",
    ]  # fmt: skip
    assert days_of({"days": "sat-mon"}, after, 3, None) == [
        "2026-03-02",
        "2026-03-07",
        "2026-03-08",
    ]
