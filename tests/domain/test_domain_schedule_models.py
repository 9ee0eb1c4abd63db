"""Schedule models: every refused input names its field; export -> import -> export is stable."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from app.domain.schedules import (
    CronSchedule,
    FrequencySchedule,
    OnceSchedule,
    TimesSchedule,
    parse_schedule,
    schedule_to_dict,
)

CRON = {"kind": "cron", "cron": "30 8 * * 1-5"}
TIMES = {"kind": "times", "times": ["09:00"]}
FREQ = {"kind": "frequency", "every_minutes": 15}


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        (
            {**CRON, "cron": "0 25 * * *"},
            ("cron", "cron"),
            "cron: hour field value 25 out of range 0-23",
        ),
        ({**CRON, "cron": "0 0 * 13 *"}, ("cron", "cron"), "cron: month field value 13"),
        ({**CRON, "cron": "0 0 * *"}, ("cron", "cron"), "cron: expected 5 fields"),
        (
            {**TIMES, "times": ["25:00"]},
            ("times", "times", 0),
            "times: '25:00' is not a time of day",
        ),
        ({**TIMES, "times": ["09:00", "9am"]}, ("times", "times", 1), "times: '9am' is not HH:MM"),
        ({**TIMES, "times": ["12:60"]}, ("times", "times", 0), "times: '12:60'"),
        ({**TIMES, "times": []}, ("times", "times"), "times: at least one time is required"),
        (
            {**FREQ, "window": {"start": "18:00", "end": "08:00"}},
            ("frequency", "window", "end"),
            "end: 08:00 is before the window start 18:00",
        ),
        (
            {**FREQ, "window": {"start": "24:00", "end": "08:00"}},
            ("frequency", "window", "start"),
            "start: '24:00'",
        ),
        (
            {**FREQ, "every_minutes": 0},
            ("frequency", "every_minutes"),
            "greater than or equal to 1",
        ),
        (
            {**FREQ, "every_minutes": 1441},
            ("frequency", "every_minutes"),
            "less than or equal to 1440",
        ),
        ({**CRON, "timezone": "Mars/Olympus"}, ("cron", "timezone"), "timezone: unknown timezone"),
        ({**CRON, "timezone": "../etc/passwd"}, ("cron", "timezone"), "timezone: unknown timezone"),
        ({**TIMES, "days": "mon-funday"}, ("times", "days"), "days: unknown weekday 'funday'"),
        ({**TIMES, "days": "first business"}, ("times", "days"), "days: "),
        ({**TIMES, "days": "business day 40"}, ("times", "days"), "days: business day number"),
        ({**TIMES, "days": "first mon, last fri"}, ("times", "days"), "days: "),
        ({**FREQ, "days": ""}, ("frequency", "days"), "days: empty days"),
        ({**CRON, "colour": "red"}, ("cron", "colour"), "Extra inputs are not permitted"),
        (
            {**FREQ, "window": {"start": "08:00", "end": "09:00", "x": 1}},
            ("frequency", "window", "x"),
            "Extra inputs",
        ),
        (
            {**CRON, "start_date": "2026-05-02", "end_date": "2026-05-01"},
            ("cron", "end_date"),
            "end_date: 2026-05-01 is before start_date 2026-05-02",
        ),
        ({**CRON, "on_closed": "tomorrow"}, ("cron", "on_closed"), "Input should be"),
        ({"kind": "once", "at": "soon"}, ("once", "at"), "Input should be a valid datetime"),
        (
            {"kind": "hourly"},
            ("kind",),
            "kind: 'hourly' is not one of cron, times, frequency, once",
        ),
        ({"cron": "* * * * *"}, ("kind",), "kind: None is not one of"),
    ],
)
def test_refused_inputs_name_the_field(
    data: dict[str, Any], loc: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_schedule(data)
    errors = caught.value.errors()
    assert [error["loc"] for error in errors] == [loc]
    assert message in errors[0]["msg"]


@pytest.mark.parametrize(
    ("data", "model"),
    [
        (CRON, CronSchedule),
        ({**CRON, "cron": "@daily"}, CronSchedule),
        ({**TIMES, "times": ["09:00", "13:30:15"], "days": "Mon-Fri"}, TimesSchedule),
        ({**FREQ, "window": {"start": "08:00", "end": "08:00"}}, FrequencySchedule),
        ({**FREQ, "every_minutes": 1440, "days": "last business day"}, FrequencySchedule),
        ({"kind": "once", "at": "2026-12-24T18:00:00"}, OnceSchedule),
        (
            {"kind": "once", "at": "2026-12-24T18:00:00+01:00", "timezone": "Europe/Berlin"},
            OnceSchedule,
        ),
    ],
)
def test_accepted(data: dict[str, Any], model: type) -> None:
    assert isinstance(parse_schedule(data), model)


ROUND_TRIPS: list[dict[str, Any]] = [
    CRON,
    {**CRON, "timezone": "Europe/Berlin", "calendar": "de-by", "on_closed": "next_open_day"},
    {**TIMES, "days": "mon-fri", "start_date": "2026-01-01", "end_date": "2026-12-31"},
    {**FREQ, "window": {"start": "08:00", "end": "18:00"}, "days": "mon,wed,fri"},
    {"kind": "once", "at": "2026-12-24T18:00:00", "timezone": "America/New_York"},
    {"kind": "once", "at": "2026-12-24T18:00:00+01:00"},
]


@pytest.mark.parametrize("data", ROUND_TRIPS)
def test_export_import_export_is_identical(data: dict[str, Any]) -> None:
    exported = schedule_to_dict(parse_schedule(data))
    assert exported == data  # defaults left out, the rest as given
    assert schedule_to_dict(parse_schedule(exported)) == exported


def test_export_normalises_then_stays_put() -> None:
    exported = schedule_to_dict(parse_schedule({**TIMES, "days": " Mon-FRI ", "timezone": "UTC"}))
    assert exported == {**TIMES, "days": "mon-fri"}
    assert schedule_to_dict(parse_schedule(exported)) == exported


def test_typed_fields() -> None:
    schedule = parse_schedule(
        {"kind": "once", "at": "2026-12-24T18:00:00", "start_date": "2026-01-01"}
    )
    assert isinstance(schedule, OnceSchedule)
    assert schedule.at == datetime(2026, 12, 24, 18)
    assert schedule.start_date == date(2026, 1, 1)
    assert schedule.timezone == "UTC" and schedule.on_closed == "skip"
