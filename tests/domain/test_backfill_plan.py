"""The backfill plan: every date of the range with run or skip and the reason, per mode and
order, through the schedule's calendar (holidays by name), bounds and freezes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.domain.backfill_plan import (
    MAX_RANGE_DAYS,
    DatePlan,
    History,
    check_range,
    plan_dates,
    run_dates,
)
from app.domain.calendars import CalendarSpec
from app.domain.schedules import parse_schedule

GERMANY = CalendarSpec(name="de", country="DE", skip_weekends=True)
WEEKDAYS = parse_schedule(
    {"kind": "times", "times": ["09:00"], "days": "mon-fri", "calendar": "de"}
)
APRIL = (date(2026, 4, 1), date(2026, 4, 30))


def _open_april_days() -> list[date]:
    """Computed independently: weekdays of April 2026 but Good Friday and Easter Monday."""
    days = [date(2026, 4, d) for d in range(1, 31)]
    return [d for d in days if d.weekday() < 5 and d not in (date(2026, 4, 3), date(2026, 4, 6))]


def test_a_month_runs_its_open_days_and_names_the_holidays() -> None:
    plans = plan_dates(start=APRIL[0], end=APRIL[1], schedule=WEEKDAYS, calendar=GERMANY)
    assert [p.date for p in plans] == [date(2026, 4, d) for d in range(1, 31)]
    assert run_dates(plans) == _open_april_days()
    reasons = {p.date: p.reason for p in plans if p.action == "skip"}
    assert reasons[date(2026, 4, 3)] == "holiday: Good Friday"
    assert reasons[date(2026, 4, 6)] == "holiday: Easter Monday"
    assert reasons[date(2026, 4, 4)] == "weekend"
    assert len(reasons) == 30 - 20


def test_newest_first_reverses_the_order() -> None:
    plans = plan_dates(
        start=APRIL[0], end=APRIL[1], schedule=WEEKDAYS, calendar=GERMANY, order="newest"
    )
    assert run_dates(plans) == list(reversed(_open_april_days()))


def test_days_the_schedule_never_fires_are_not_scheduled() -> None:
    schedule = parse_schedule({"kind": "times", "times": ["09:00"], "days": "mon,wed"})
    plans = plan_dates(
        start=date(2026, 4, 6), end=date(2026, 4, 12), schedule=schedule, calendar=None
    )
    assert [(p.date.day, p.action, p.reason) for p in plans] == [
        (6, "run", None),
        (7, "skip", "not a scheduled day"),
        (8, "run", None),
        (9, "skip", "not a scheduled day"),
        (10, "skip", "not a scheduled day"),
        (11, "skip", "weekend"),
        (12, "skip", "weekend"),
    ]


def test_a_schedule_firing_many_times_a_day_backfills_once_per_date() -> None:
    schedule = parse_schedule({"kind": "frequency", "every_minutes": 15})
    plans = plan_dates(
        start=date(2026, 4, 1), end=date(2026, 4, 3), schedule=schedule, calendar=None
    )
    assert run_dates(plans) == [date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 3)]


def test_start_and_end_dates_of_the_schedule_bound_it() -> None:
    schedule = parse_schedule(
        {"kind": "cron", "cron": "0 6 * * *", "start_date": "2026-04-03", "end_date": "2026-04-04"}
    )
    plans = plan_dates(
        start=date(2026, 4, 2), end=date(2026, 4, 5), schedule=schedule, calendar=None
    )
    assert [(p.action, p.reason) for p in plans] == [
        ("skip", "outside start/end date"),
        ("run", None),
        ("run", None),
        ("skip", "outside start/end date"),
    ]


def test_a_closed_day_whose_fire_moves_says_where() -> None:
    schedule = parse_schedule(
        {"kind": "times", "times": ["09:00"], "calendar": "de", "on_closed": "next_open_day"}
    )
    plans = plan_dates(
        start=date(2026, 4, 3), end=date(2026, 4, 7), schedule=schedule, calendar=GERMANY
    )
    assert [(p.date.day, p.action) for p in plans] == [
        (3, "skip"),
        (4, "skip"),
        (5, "skip"),
        (6, "skip"),
        (7, "run"),
    ]
    assert plans[0].reason == "holiday: Good Friday (its run moves to 2026-04-07)"


def test_without_a_schedule_every_date_runs() -> None:
    plans = plan_dates(start=date(2026, 4, 4), end=date(2026, 4, 5), schedule=None, calendar=None)
    assert run_dates(plans) == [date(2026, 4, 4), date(2026, 4, 5)]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("missing", {1: "skip", 2: "run", 3: "run", 7: "skip"}),
        ("failed", {1: "skip", 2: "run", 3: "skip", 7: "skip"}),
        ("all", {1: "run", 2: "run", 3: "run", 7: "skip"}),
    ],
)
def test_modes_choose_by_what_already_happened(mode: str, expected: dict[int, str]) -> None:
    history = History(
        succeeded={date(2026, 4, 1)},
        failed={date(2026, 4, 2)},
        in_progress={date(2026, 4, 7)},
    )
    plans = plan_dates(
        start=date(2026, 4, 1),
        end=date(2026, 4, 7),
        schedule=None,
        calendar=None,
        mode=mode,  # type: ignore[arg-type]
        history=history,
    )
    got = {p.date.day: p.action for p in plans if p.date.day in expected}
    assert got == expected
    reasons = {p.date.day: p.reason for p in plans}
    if mode != "all":
        assert reasons[1] == "already succeeded"
    assert reasons[7] == "a run of this date is in progress"
    if mode == "failed":
        assert reasons[3] == "no failed run"


def test_frozen_dates_are_skipped_with_the_freeze_reason() -> None:
    history = History(frozen={date(2026, 4, 2): "month end"})
    plans = plan_dates(
        start=date(2026, 4, 1), end=date(2026, 4, 2), schedule=None, calendar=None, history=history
    )
    assert plans[1] == DatePlan(date(2026, 4, 2), "skip", "frozen: month end")


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (date(2026, 4, 2), date(2026, 4, 1), "end"),
        (date(2000, 1, 1), date(2000, 1, 1) + timedelta(days=MAX_RANGE_DAYS), "end"),
    ],
)
def test_bad_ranges_name_the_field(start: date, end: date, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        check_range(start, end)


@pytest.mark.parametrize(("key", "value"), [("mode", "some"), ("order", "random")])
def test_bad_mode_or_order_names_the_field(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"^{key}: "):
        plan_dates(start=APRIL[0], end=APRIL[1], schedule=None, calendar=None, **{key: value})  # type: ignore[arg-type]
