"""Combined calendars as pure values: the order of the rules, nested include/exclude,
categories, cycles, and business days counted through the combination."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.domain.calendars import CalendarSpec, find_cycle, supported_categories
from app.domain.schedules import parse_schedule
from app.domain.triggers import forecast

WEEKENDS = CalendarSpec(name="weekends", skip_weekends=True)
US = CalendarSpec(name="us", country="US")
BRIDGE = CalendarSpec(name="bridge", extra_dates=frozenset({date(2026, 1, 2)}))
SATURDAY = date(2026, 3, 7)
WORKING_SATURDAY = CalendarSpec(name="sat", extra_dates=frozenset({SATURDAY}))
DESK = CalendarSpec(name="desk", include=(US, WEEKENDS, BRIDGE), exclude=(WORKING_SATURDAY,))


@pytest.mark.parametrize(
    ("day", "closed", "kind", "reason"),
    [
        (date(2026, 1, 1), True, "calendar", "from calendar us: holiday: New Year's Day"),
        (date(2026, 1, 2), True, "calendar", "from calendar bridge: closed: extra date"),
        (date(2026, 1, 3), True, "calendar", "from calendar weekends: weekend"),
        (SATURDAY, False, "excluded",
         "open: closed in excluded calendar sat (closed: extra date)"),
        (date(2026, 1, 5), False, "open", None),
    ],
)  # fmt: skip
def test_union_and_difference(day: date, closed: bool, kind: str, reason: str | None) -> None:
    verdict = DESK.verdict(day)
    assert (verdict.closed, verdict.kind, verdict.reason) == (closed, kind, reason)
    assert DESK.is_open(day) is not closed


def test_own_dates_speak_before_combinations_and_nesting_carries_reasons() -> None:
    own = CalendarSpec(
        name="own",
        extra_dates=frozenset({SATURDAY}),
        working_dates=frozenset({date(2026, 1, 1)}),
        include=(US,),
        exclude=(WORKING_SATURDAY,),
    )
    assert own.closed_reason(SATURDAY) == "closed: extra date"  # own extra beats exclude
    assert own.closed_reason(date(2026, 1, 1)) is None  # own working date beats include
    outer = CalendarSpec(name="outer", include=(DESK,))
    assert outer.closed_reason(date(2026, 1, 1)) == (
        "from calendar desk: from calendar us: holiday: New Year's Day"
    )
    assert outer.verdict(date(2026, 1, 1)).calendar == "desk"
    assert outer.is_open(SATURDAY)  # opened inside desk: not closed there, so not here


def test_categories_mark_the_reason_and_are_offered_per_country() -> None:
    bavaria = CalendarSpec(name="by", country="DE", subdivision="BY", categories=("catholic",))
    assert bavaria.closed_reason(date(2025, 8, 15)) == "holiday: Assumption Day (catholic)"
    assert bavaria.verdict(date(2025, 8, 15)).category == "catholic"
    # categories replace the default: only catholic ones, so public Labour Day is open
    assert bavaria.closed_reason(date(2025, 5, 1)) is None
    both = CalendarSpec(
        name="by2", country="DE", subdivision="BY", categories=("public", "catholic")
    )
    assert both.closed_reason(date(2025, 5, 1)) == "holiday: Labor Day"
    assert set(supported_categories("DE")) >= {"public", "catholic"}
    assert supported_categories("GB") == ("public",)


def test_find_cycle_names_the_path() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert find_cycle(graph, "a") == ["a", "b", "c", "a"]
    assert find_cycle(graph, "d") == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": []}, "a") is None
    assert find_cycle({"x": ["x"]}, "x") == ["x", "x"]


def test_business_days_are_counted_through_the_combined_calendar() -> None:
    schedule = parse_schedule(
        {"kind": "times", "times": ["09:00"], "days": "first business day", "calendar": "desk"}
    )
    after = datetime(2025, 12, 15, tzinfo=UTC)
    first = forecast(schedule, after, 1, DESK).occurrences[0]
    # 1 Jan a holiday (us), 2 Jan a bridge day, 3-4 Jan a weekend: Monday 5 January
    assert first.local.date() == date(2026, 1, 5)
    plain = forecast(schedule, after, 1, US).occurrences[0]
    assert plain.local.date() == date(2026, 1, 2)
