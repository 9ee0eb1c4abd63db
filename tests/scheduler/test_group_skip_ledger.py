"""A group's occurrences that a DST rule drops or a blackout covers are recorded in its
ledger as SKIPPED group runs with the reason, as a task's are; planning again does not
repeat them, and the past ones stay."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import col, select

from app.clock import FrozenClock
from app.db.engine import session_scope
from app.db.tables import GroupRun, TaskGroup, User
from app.scheduler.group_planner import plan_group
from app.services.actor import Actor
from app.services.group_dag import group_graph
from app.services.groups import group_run_public

LONDON_0130 = {
    "kind": "cron",
    "cron": "30 1 * * *",
    "timezone": "Europe/London",
    "dst_gap": "skip",  # 01:30 does not exist on 29 March 2026 in London
}
BLACKOUT = {"name": "freeze-week", "start_date": "2026-03-30", "end_date": "2026-03-31"}


def _ledger(engine: Engine, gid: int) -> list[tuple[str, str, str | None]]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(GroupRun).where(GroupRun.group_id == gid).order_by(col(GroupRun.trigger_time))
        ).all()
        return [(str(r.business_date), r.status, group_run_public(r).reason) for r in rows]


def _plan(engine: Engine, gid: int, now: datetime) -> None:
    with session_scope(engine) as session:
        group = session.get(TaskGroup, gid)
        assert group is not None
        plan_group(session, group, now=now)


def test_dst_and_blackout_skips_are_in_the_group_ledger(sqlite_engine: Engine) -> None:
    clock = FrozenClock(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    with session_scope(sqlite_engine) as session:
        group = TaskGroup(
            name="london-nightly",
            schedule=LONDON_0130,
            blackouts=[BLACKOUT],
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(group)
        session.flush()
        gid = group.id or 0
    _plan(sqlite_engine, gid, clock.now())
    ledger = _ledger(sqlite_engine, gid)
    assert [(day, status) for day, status, _ in ledger] == [
        ("2026-03-29", "SKIPPED"),
        ("2026-03-30", "SKIPPED"),
        ("2026-03-31", "SKIPPED"),
        ("2026-04-01", "IDLE"),
    ]
    reasons = [reason or "" for _, _, reason in ledger]
    assert reasons[0].startswith("skipped: dst (") and "01:30" in reasons[0]
    assert reasons[1] == reasons[2] == "blackout: freeze-week"
    assert reasons[3] == ""

    _plan(sqlite_engine, gid, clock.now())  # planning again records nothing twice
    assert _ledger(sqlite_engine, gid) == ledger
    viewer = Actor(User(id=1, username="ann", role="viewer", instances=["*"]))
    with session_scope(sqlite_engine) as session:  # no recorded skip is "the latest run"
        assert group_graph(session, actor=viewer, gid=gid).group_run is None

    # Time passes (the 1 April run was not fired here): the past skips stay in the ledger.
    _plan(sqlite_engine, gid, datetime(2026, 4, 1, 1, 0, tzinfo=UTC))
    after = _ledger(sqlite_engine, gid)
    assert after[:3] == ledger[:3]
    assert after[3][:2] == ("2026-04-02", "IDLE")
