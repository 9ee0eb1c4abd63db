"""Retry delays and misfire decisions, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.policies import (
    ConcurrencyPolicy,
    MisfireDecision,
    MisfirePolicy,
    decide_misfires,
    retry_delay,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ago(minutes: int) -> datetime:
    return NOW - timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("attempt", "base", "exponential", "cap", "expected"),
    [
        (1, 10, False, 3600, 10),
        (5, 10, False, 3600, 10),
        (1, 10, True, 3600, 10),
        (2, 10, True, 3600, 20),
        (4, 10, True, 3600, 80),
        (10, 10, True, 3600, 3600),
        (10_000, 10, True, 3600, 3600),
        (3, 10, True, 25, 25),
        (1, 100, False, 30, 30),
        (3, 0, True, 3600, 0),
    ],
)
def test_retry_delay(
    attempt: int, base: float, exponential: bool, cap: float, expected: float
) -> None:
    assert retry_delay(attempt, base, exponential, cap) == expected


def test_retry_delay_default_cap_is_an_hour() -> None:
    assert retry_delay(20, 60, True) == 3600


@pytest.mark.parametrize(("attempt", "base"), [(0, 10), (1, -1)])
def test_retry_delay_refuses_nonsense(attempt: int, base: float) -> None:
    with pytest.raises(ValueError):
        retry_delay(attempt, base, True)


@pytest.mark.parametrize(
    ("policy", "missed", "max_replays", "expected"),
    [
        # grace is 10 minutes in every row: 30 and 20 minutes ago are too old.
        (
            MisfirePolicy.RUN_ONCE,
            [ago(30), ago(5), ago(20), ago(1)],
            5,
            MisfireDecision(run=[ago(1)], missed=[ago(30), ago(20)], coalesced=[ago(5)]),
        ),
        (
            MisfirePolicy.SKIP,
            [ago(5), ago(30), ago(1)],
            5,
            MisfireDecision(missed=[ago(30), ago(5), ago(1)]),
        ),
        (
            MisfirePolicy.RUN_ALL,
            [ago(1), ago(9), ago(5), ago(30)],
            5,
            MisfireDecision(run=[ago(9), ago(5), ago(1)], missed=[ago(30)]),
        ),
        (
            MisfirePolicy.RUN_ALL,
            [ago(1), ago(9), ago(5), ago(3)],
            2,
            MisfireDecision(run=[ago(9), ago(5)], missed=[ago(3), ago(1)]),
        ),
        (
            MisfirePolicy.RUN_ONCE,
            [ago(30), ago(11)],
            5,
            MisfireDecision(missed=[ago(30), ago(11)]),
        ),
        (MisfirePolicy.RUN_ONCE, [], 5, MisfireDecision()),
        # The grace bound itself is still inside the grace period.
        (MisfirePolicy.RUN_ONCE, [ago(10)], 5, MisfireDecision(run=[ago(10)])),
        (MisfirePolicy.RUN_ALL, [ago(2), ago(1)], 0, MisfireDecision(missed=[ago(2), ago(1)])),
    ],
)
def test_decide_misfires(
    policy: MisfirePolicy, missed: list[datetime], max_replays: int, expected: MisfireDecision
) -> None:
    assert decide_misfires(missed, policy, NOW, 600, max_replays) == expected


def test_decide_misfires_works_on_aware_non_utc_and_refuses_naive() -> None:
    berlin = ago(1).astimezone(ZoneInfo("Europe/Berlin"))
    decision = decide_misfires([berlin], MisfirePolicy.RUN_ONCE, NOW, 60, 1)
    assert decision.run == [ago(1)]
    with pytest.raises(ValueError, match="naive"):
        decide_misfires([datetime(2026, 3, 1, 11)], MisfirePolicy.RUN_ONCE, NOW, 60, 1)


def test_policy_values_match_design() -> None:
    assert [p.value for p in ConcurrencyPolicy] == ["skip", "queue", "allow"]
    assert [p.value for p in MisfirePolicy] == ["run_once", "skip", "run_all"]
