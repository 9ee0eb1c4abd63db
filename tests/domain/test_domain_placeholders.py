"""Placeholders: parsed and refused at save time, expanded (shell-quoted in commands) at
dispatch; business-day arithmetic checked against an independent computation."""

from __future__ import annotations

import shlex
from bisect import bisect_left
from datetime import date, timedelta

import holidays
import pytest

from app.domain.calendars import CalendarSpec
from app.domain.placeholders import (
    Placeholder,
    PlaceholderContext,
    PlaceholderError,
    add_business_days,
    check,
    check_fields,
    expand,
    parse,
)

CONTEXT = PlaceholderContext(
    business_date=date(2026, 12, 7),  # a Monday
    task="load",
    group="nightly",
    run_id=42,
    attempt=2,
    params={"region": "EU", "evil": "; rm -rf /", "n": 3, "flag": True},
    variables={"bucket": "s3://b"},
    upstream={"extract": {"rows": 10, "file": "a b.csv", "meta": {"k": [1]}}},
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${business_date}", "2026-12-07"),
        ("${business_date:%Y%m%d}", "20261207"),
        ("${business_date-1}", "2026-12-06"),
        ("${business_date+2}", "2026-12-09"),
        ("${business_date-1b}", "2026-12-04"),
        ("${business_date-1b:%Y%m%d}", "20261204"),
        ("${business_date+5b:%a %d}", "Mon 14"),
        ("${task}/${group}/${run_id}/${attempt}", "load/nightly/42/2"),
        ("${param.region}-${param.n}-${param.flag}", "EU-3-true"),
        ("${var.bucket}", "s3://b"),
        ("${upstream.extract.rows} ${upstream.extract.meta}", '10 {"k":[1]}'),
        ("$${business_date} costs $HOME", "${business_date} costs $HOME"),
        ("no placeholders", "no placeholders"),
    ],
)
def test_values_go_in_as_they_are_outside_a_command(text: str, expected: str) -> None:
    assert expand(text, CONTEXT, shell=False) == expected


def test_in_a_command_every_value_is_one_shell_word() -> None:
    command = expand("printf '%s\\n' ${param.evil} ${upstream.extract.file}", CONTEXT, shell=True)
    assert shlex.split(command) == ["printf", "%s\\n", "; rm -rf /", "a b.csv"]
    assert expand("echo ${business_date}", CONTEXT, shell=True) == "echo 2026-12-07"


@pytest.mark.parametrize(
    "text",
    [
        "${nope}",
        "${business_date:%H}",
        "${business_date:}",
        "${business_date-x}",
        "${business_date*2}",
        "${param.}",
        "${param.a-b}",
        "${upstream.only}",
        "${var.}",
        "${unclosed",
        "${param.undeclared}",
    ],
)
def test_unknown_or_bad_placeholders_are_refused(text: str) -> None:
    with pytest.raises(PlaceholderError):
        check(text, {"region"})


def test_var_and_upstream_are_checked_for_syntax_only_at_save_time() -> None:
    check("${var.anything} ${upstream.some task.out} ${param.region}", {"region"})
    assert parse("${upstream.a.b.c}") == [Placeholder(kind="upstream", task="a.b", name="c")]


def test_check_fields_names_each_field() -> None:
    problems = check_fields(
        command="echo ${param.x}",
        env={"A": "${business_date}", "B": "${bad}"},
        workdir="/data/${business_date:%Q}",
        mounts=["/ok:/ok", "/${oops}:/x"],
        param_names={"x"},
    )
    assert [field for field, _ in problems] == ["workdir", "env.B", "mounts[1]"]


def test_missing_values_fail_at_expansion() -> None:
    for text in ("${param.absent}", "${var.absent}", "${upstream.extract.absent}"):
        with pytest.raises(PlaceholderError):
            expand(text, CONTEXT, shell=True)


def _independent_open_days(first: date, last: date) -> list[date]:
    """Open days of a German (Bavaria) calendar with weekends closed, computed straight
    from the holidays package, day by day."""
    table = holidays.country_holidays("DE", subdiv="BY", years=range(first.year, last.year + 1))
    days = []
    day = first
    while day <= last:
        if day.weekday() < 5 and day not in table:
            days.append(day)
        day += timedelta(days=1)
    return days


def test_business_day_arithmetic_matches_an_independent_computation_over_five_years() -> None:
    calendar = CalendarSpec(name="de-by", country="DE", subdivision="BY", skip_weekends=True)
    open_days = _independent_open_days(date(2024, 1, 1), date(2029, 12, 31))
    index = {day: i for i, day in enumerate(open_days)}
    checked = 0
    day = date(2024, 2, 1)
    while day <= date(2028, 12, 31):
        # The position of `day` among open days: the next open day's for a closed day.
        at = bisect_left(open_days, day)
        for offset in (-1, 1, -3, 5, -20):
            if day in index:
                want = open_days[index[day] + offset]
            else:  # a closed day: +1 is the next open day, -1 the previous one
                want = open_days[at + offset - 1] if offset > 0 else open_days[at + offset]
            assert add_business_days(day, offset, calendar) == want, (day, offset)
            checked += 1
        day += timedelta(days=1)
    assert checked > 8000
    assert add_business_days(date(2026, 12, 7), 0, calendar) == date(2026, 12, 7)


def test_without_a_calendar_monday_to_friday_are_business_days() -> None:
    assert add_business_days(date(2026, 12, 7), -1, None) == date(2026, 12, 4)
    assert add_business_days(date(2026, 12, 5), 1, None) == date(2026, 12, 7)
