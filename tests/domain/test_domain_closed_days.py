"""What a closed day does to fires: skip with the reason, or move to the next/previous open day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.calendars import CalendarSpec
from app.domain.schedules import parse_schedule
from app.domain.triggers import Forecast, forecast, next_fire_time

US = CalendarSpec(name="us", country="US", skip_weekends=True)
NY = ZoneInfo("America/New_York")


def run(
    schedule: dict[str, Any], after: datetime, count: int, calendar: CalendarSpec | None = US
) -> Forecast:
    base = {} if "kind" in schedule else {"kind": "times", "times": ["09:00"]}
    full = {**base, "timezone": "America/New_York", **schedule}
    return forecast(parse_schedule(full), after, count, calendar)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def dates(result: Forecast) -> list[str]:
    return [o.local.date().isoformat() for o in result.occurrences]


def test_skip_lists_the_holiday_by_name() -> None:
    result = run({"days": "mon-fri"}, local(2026, 12, 23, 12), 3)
    assert dates(result) == ["2026-12-24", "2026-12-28", "2026-12-29"]
    assert [(s.local, s.reason) for s in result.skipped] == [
        (local(2026, 12, 25, 9), "holiday: Christmas Day")
    ]


def test_skipped_weekends_appear_when_the_schedule_wants_them() -> None:
    result = run({"days": "mon-sun"}, local(2026, 7, 2, 12), 1)
    assert dates(result) == ["2026-07-06"]
    assert [(s.local.date().isoformat(), s.reason) for s in result.skipped] == [
        ("2026-07-03", "holiday: Independence Day (observed)"),
        ("2026-07-04", "holiday: Independence Day"),
        ("2026-07-05", "weekend"),
    ]


def test_extra_dates_are_closed() -> None:
    calendar = CalendarSpec(name="x", extra_dates=frozenset({date(2026, 3, 3)}))
    result = run({}, local(2026, 3, 2, 12), 1, calendar)
    assert dates(result) == ["2026-03-04"]
    assert [s.reason for s in result.skipped] == ["closed: extra date"]


def test_working_date_overrides_the_holiday() -> None:
    calendar = CalendarSpec(name="x", country="US", working_dates=frozenset({date(2026, 12, 25)}))
    assert dates(run({}, local(2026, 12, 24, 12), 1, calendar)) == ["2026-12-25"]


def test_next_open_day_carries_a_note() -> None:
    result = run({"days": "fri", "on_closed": "next_open_day"}, local(2026, 12, 20), 2)
    assert dates(result) == ["2026-12-28", "2027-01-04"]  # Jan 1 2027 is a holiday too
    notes = [o.note for o in result.occurrences]
    assert notes == [
        "shifted from 2026-12-25 (holiday: Christmas Day)",
        "shifted from 2027-01-01 (holiday: New Year's Day)",
    ]
    assert result.occurrences[0].local == local(2026, 12, 28, 9)  # same wall time
    assert result.skipped == []


def test_previous_open_day() -> None:
    result = run({"days": "fri", "on_closed": "previous_open_day"}, local(2026, 6, 30), 2)
    assert dates(result) == ["2026-07-02", "2026-07-10"]
    assert (
        result.occurrences[0].note
        == "shifted from 2026-07-03 (holiday: Independence Day (observed))"
    )


def test_previous_open_day_never_fires_before_after() -> None:
    # The Jul 3 fire moved to Thursday 09:00, which is already behind us.
    result = run({"days": "fri", "on_closed": "previous_open_day"}, local(2026, 7, 2, 12), 1)
    assert dates(result) == ["2026-07-10"]
    assert result.skipped == []


def test_shifted_fires_never_double_up() -> None:
    # Christmas (Fri) and the weekend all move onto Monday 09:00, which fires anyway: once.
    result = run({"days": "mon-sun", "on_closed": "next_open_day"}, local(2026, 12, 24, 12), 2)
    assert dates(result) == ["2026-12-28", "2026-12-29"]
    assert result.occurrences[0].note is None
    backwards = run(
        {"days": "mon-sun", "on_closed": "previous_open_day"}, local(2026, 12, 23, 12), 2
    )
    assert dates(backwards) == ["2026-12-24", "2026-12-28"]


def test_shift_past_end_date_is_skipped() -> None:
    schedule = {"days": "fri", "on_closed": "next_open_day", "end_date": "2026-12-27"}
    result = run(schedule, local(2026, 12, 20), 5)
    assert dates(result) == []
    assert [s.reason for s in result.skipped] == ["holiday: Christmas Day"]


def test_cron_respects_the_calendar() -> None:
    schedule = parse_schedule({"kind": "cron", "cron": "0 9 * * *", "timezone": "America/New_York"})
    after = local(2026, 12, 24, 12)
    assert next_fire_time(schedule, after, US) == local(2026, 12, 28, 9).astimezone(UTC)
    assert next_fire_time(schedule, after) == local(2026, 12, 25, 9).astimezone(UTC)


def test_named_calendar_without_a_resolved_one_is_ignored() -> None:
    result = run({"calendar": "us"}, local(2026, 12, 24, 12), 1, None)
    assert dates(result) == ["2026-12-25"]


def test_once_on_a_holiday() -> None:
    once = {"kind": "once", "at": "2026-12-25T18:00:00"}
    assert dates(run(once, local(2026, 1, 1), 3)) == []
    assert dates(run({**once, "on_closed": "next_open_day"}, local(2026, 1, 1), 3)) == [
        "2026-12-28"
    ]
    assert dates(run(once, local(2026, 12, 26), 3)) == []


def test_skipped_in_forecast_stay_inside_its_span() -> None:
    # 3 fires end on Dec 24; Christmas lies beyond them and is not reported yet.
    result = run({"days": "mon-fri"}, local(2026, 12, 21, 12), 3)
    assert dates(result) == ["2026-12-22", "2026-12-23", "2026-12-24"]
    assert result.skipped == []


def _brute_force(rule: str, first: date, months: int) -> list[str]:
    """The rule's day in each month, found by asking every day of the month."""
    found = []
    year, month = first.year, first.month
    for _ in range(months):
        days = [date(year, month, d) for d in range(1, 32) if _valid(year, month, d)]
        open_days = [d for d in days if US.closed_reason(d) is None]
        if rule == "last business day":
            found.append(open_days[-1])
        elif rule == "business day 3":
            found.append(open_days[2])
        else:  # first mon, skipped when the calendar closes it
            found.append([d for d in days if d.weekday() == 0][0])
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return [d.isoformat() for d in found if US.closed_reason(d) is None]


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def test_ordinal_days_over_years_agree_with_asking_every_day() -> None:
    for rule in ("last business day", "business day 3", "first mon"):
        expected = _brute_force(rule, date(2026, 1, 1), 60)[:40]
        assert dates(run({"days": rule}, local(2026, 1, 1), 40)) == expected, rule
    # A first Monday that is a holiday (Labor Day) is skipped, with its name.
    september = run({"days": "first mon"}, local(2026, 8, 15), 1)
    assert dates(september) == ["2026-10-05"]
    assert [(s.local.date().isoformat(), s.reason) for s in september.skipped] == [
        ("2026-09-07", "holiday: Labor Day")
    ]
