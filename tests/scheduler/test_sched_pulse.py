"""The scheduler's pulse: the last fire pass and how late its latest occurrence was."""

from __future__ import annotations

from datetime import UTC, datetime

from app.scheduler.pulse import Pulse


def test_a_pass_with_occurrences_sets_the_lag_and_an_empty_one_keeps_it() -> None:
    pulse = Pulse()
    first = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    pulse.fired(first, [0.01, 0.25, 0.04])
    assert (pulse.last_fire_at, pulse.last_lag_seconds) == (first, 0.25)
    later = datetime(2026, 12, 7, 8, 1, tzinfo=UTC)
    pulse.fired(later, [])  # woke for nothing: the last known lag still stands
    assert (pulse.last_fire_at, pulse.last_lag_seconds) == (later, 0.25)
    pulse.maintained(later)
    assert pulse.last_maintenance_at == later
