"""A year of business dates: each day's outcome and the reason it was skipped."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.heat_map import first_day, outcome_of, year_of_days

OUTCOMES = [
    ({}, "none"),
    ({"SUCCESS": 3}, "success"),
    ({"FAILED": 1}, "failed"),
    ({"TERMINATED": 1}, "failed"),
    ({"SUCCESS": 2, "FAILED": 1}, "mixed"),
    ({"SUCCESS": 2, "RUNNING": 1}, "running"),
    ({"PENDING_APPROVAL": 1}, "running"),
    ({"IDLE": 1}, "planned"),
    ({"SKIPPED": 4}, "skipped"),
    ({"MISSED": 1}, "skipped"),
    ({"SKIPPED": 1, "SUCCESS": 1}, "success"),
    ({"SUCCESS": 0}, "none"),
]


@pytest.mark.parametrize(("counts", "expected"), OUTCOMES)
def test_outcome_of(counts: dict[str, int], expected: str) -> None:
    assert outcome_of(counts) == expected


def test_year_is_whole_weeks_monday_first_ending_with_the_week_of_end() -> None:
    end = date(2026, 12, 2)  # a Wednesday
    weeks = year_of_days(end, {}, {}, {})
    assert len(weeks) == 53 and all(len(w) == 7 for w in weeks)
    assert weeks[0][0].day == first_day(end) and weeks[0][0].day.weekday() == 0
    assert weeks[-1][-1].day == date(2026, 12, 6)


def test_days_carry_outcomes_ledger_reasons_and_freezes() -> None:
    end = date(2026, 12, 2)
    counts = {date(2026, 12, 1): {"SUCCESS": 1}, date(2026, 11, 26): {"SKIPPED": 1}}
    reasons = {date(2026, 11, 26): "skipped: calendar (Thanksgiving)"}
    frozen = {date(2026, 11, 30): "release freeze", date(2026, 12, 1): "too late"}
    days = {d.day: d for week in year_of_days(end, counts, reasons, frozen) for d in week}
    assert days[date(2026, 12, 1)].outcome == "success"  # it ran anyway: the run wins
    assert days[date(2026, 11, 26)].outcome == "skipped"
    assert days[date(2026, 11, 26)].reason == "skipped: calendar (Thanksgiving)"
    assert days[date(2026, 11, 30)].outcome == "skipped"
    assert days[date(2026, 11, 30)].reason == "frozen: release freeze"
    assert days[date(2026, 11, 29)].outcome == "none"
