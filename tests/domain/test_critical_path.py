"""The critical path of a group run and the queued / waiting / running spans of its runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.critical_path import RunTimes, Span, critical_path, ready_at, spans

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# extract(1) -> transform(2) -> load(4); extract -> check(3) -> load
DIAMOND = {2: [1], 3: [1], 4: [2, 3]}

PATHS = [
    ("empty", {}, {}, []),
    ("one task", {1: at(5)}, {}, [1]),
    ("diamond, slow transform", {1: at(1), 2: at(9), 3: at(3), 4: at(12)}, DIAMOND, [1, 2, 4]),
    ("diamond, slow check", {1: at(1), 2: at(3), 3: at(9), 4: at(12)}, DIAMOND, [1, 3, 4]),
    ("tie goes to the lower id", {1: at(1), 2: at(5), 3: at(5), 4: at(8)}, DIAMOND, [1, 2, 4]),
    ("load never ran", {1: at(1), 2: at(9), 3: at(3)}, DIAMOND, [1, 2]),
    (
        "two chains: the one ending last",
        {1: at(2), 2: at(3), 5: at(4), 6: at(10)},
        {2: [1], 6: [5]},
        [5, 6],
    ),
    ("upstream skipped", {2: at(4), 4: at(6)}, DIAMOND, [2, 4]),
]


@pytest.mark.parametrize(
    ("ends", "upstreams", "expected"), [p[1:] for p in PATHS], ids=[p[0] for p in PATHS]
)
def test_critical_path(
    ends: dict[int, datetime], upstreams: dict[int, list[int]], expected: list[int]
) -> None:
    assert critical_path(ends, upstreams) == expected


def test_a_cycle_in_bad_data_ends_the_walk() -> None:
    assert critical_path({1: at(1), 2: at(2)}, {1: [2], 2: [1]}) == [1, 2]


def test_ready_waits_for_every_upstream() -> None:
    assert ready_at(4, DIAMOND, {2: at(3), 3: None}) is None
    assert ready_at(4, DIAMOND, {2: at(3), 3: at(7)}) == at(7)
    assert ready_at(1, DIAMOND, {}) is None  # a root: ready from its creation


SPANS = [
    (
        "root ran at once",
        RunTimes(created=at(0), dispatched=at(0), started=at(0.5), finished=at(4)),
        None,
        [Span("running", at(0), at(4))],
    ),
    (
        "queued behind upstreams, waited for a slot, ran",
        RunTimes(created=at(0), dispatched=at(6), started=at(6), finished=at(9)),
        at(4),
        [
            Span("queued", at(0), at(4)),
            Span("waiting", at(4), at(6)),
            Span("running", at(6), at(9)),
        ],
    ),
    (
        "still queued",
        RunTimes(created=at(0)),
        None,
        [Span("queued", at(0), at(10))],
    ),
    (
        "ready, waiting for an agent",
        RunTimes(created=at(0)),
        at(3),
        [Span("queued", at(0), at(3)), Span("waiting", at(3), at(10))],
    ),
    (
        "running now",
        RunTimes(created=at(0), dispatched=at(2)),
        at(1),
        [
            Span("queued", at(0), at(1)),
            Span("waiting", at(1), at(2)),
            Span("running", at(2), at(10)),
        ],
    ),
    (
        "skipped without running",
        RunTimes(created=at(0), finished=at(5)),
        None,
        [Span("queued", at(0), at(5))],
    ),
    (
        "forced past its upstreams: ready after it started",
        RunTimes(created=at(0), dispatched=at(2), finished=at(3)),
        at(5),
        [Span("queued", at(0), at(2)), Span("running", at(2), at(3))],
    ),
]


@pytest.mark.parametrize(
    ("times", "ready", "expected"), [s[1:] for s in SPANS], ids=[s[0] for s in SPANS]
)
def test_spans(times: RunTimes, ready: datetime | None, expected: list[Span]) -> None:
    assert spans(times, ready, now=at(10)) == expected
