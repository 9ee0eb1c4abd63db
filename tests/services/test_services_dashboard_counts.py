"""The dashboard's counts, read through the indexes, equal the runs counted one by one: per
status over the last day (all planned runs for IDLE) and per status and UTC hour, on both
databases (each buckets hours in its own SQL)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from app.db.engine import session_scope
from app.db.tables import Run, User
from app.domain.states import RunStatus, TriggerKind
from app.services.actor import Actor
from app.services.dashboard import CARD_STATUSES, HOURS, figures

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
ADMIN = Actor(User(id=1, username="admin", role="superadmin", password_hash="x", instances=["*"]))


def test_counts_equal_the_runs_counted_one_by_one(engine: Engine) -> None:
    pick = random.Random(21)
    made: list[tuple[str, datetime]] = []
    with session_scope(engine) as session:
        for _ in range(400):
            status = pick.choice(list(RunStatus))
            at = NOW - timedelta(minutes=pick.randrange(-120, 60 * 30))  # some ahead, some old
            at = at.replace(microsecond=pick.randrange(1_000_000))
            session.add(
                Run(status=status, trigger_kind=TriggerKind.SCHEDULE, trigger_time=at, spec={})
            )
            made.append((status.value, at))
    with session_scope(engine) as session:
        found = figures(session, actor=ADMIN, now=NOW)
    since = NOW - timedelta(hours=HOURS)
    day = Counter(s for s, at in made if at >= since)
    expected = {s: day.get(s, 0) for s in CARD_STATUSES}
    expected["IDLE"] = sum(1 for s, _ in made if s == "IDLE")
    assert found.counts == expected
    hours = {h.strftime("%Y-%m-%d %H"): i for i, h in enumerate(found.hour_starts)}
    per_hour: dict[str, list[int]] = {}
    for status, at in made:
        key = at.strftime("%Y-%m-%d %H")
        if key in hours and at <= NOW:
            per_hour.setdefault(status, [0] * HOURS)[hours[key]] += 1
    assert found.per_hour == per_hour
    assert sum(map(sum, per_hour.values())) > 100  # the day is well populated
