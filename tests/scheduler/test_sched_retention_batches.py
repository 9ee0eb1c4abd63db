"""Retention in batches: oldest first, each batch its own transaction followed by a pause as
long as it took; a group run goes with its last run, an empty old one by the final pass, and
one that still holds a recent run stays. Nothing is capped: every expired run goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import select

from app.db.engine import session_scope
from app.db.tables import GroupRun, Run, TaskGroup
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import RunStatus, TriggerKind
from app.scheduler.retention import prune, prune_batch

OLD = datetime(2026, 1, 1, tzinfo=UTC)
NEW = datetime(2026, 3, 1, tzinfo=UTC)
CUT = NEW - timedelta(days=7)


def _group_run(engine: Engine, at: datetime) -> int:
    with session_scope(engine) as session:
        group = session.exec(select(TaskGroup)).first()
        if group is None:
            group = TaskGroup(name="nightly")
            session.add(group)
            session.flush()
        row = GroupRun(
            group_id=group.id or 0,
            status=GroupRunStatus.SUCCESS,
            trigger_kind=TriggerKind.SCHEDULE,
            trigger_time=at,
            finished_at=at,
        )
        session.add(row)
        session.flush()
        return row.id or 0


def _runs(engine: Engine, at: datetime, count: int, group_run: int | None = None) -> list[int]:
    with session_scope(engine) as session:
        rows = [
            Run(
                status=RunStatus.SUCCESS,
                trigger_kind=TriggerKind.SCHEDULE,
                trigger_time=at,
                finished_at=at,
                group_run_id=group_run,
                spec={},
            )
            for _ in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [r.id or 0 for r in rows]


def _left(engine: Engine) -> tuple[set[int], set[int]]:
    with session_scope(engine) as session:
        runs = {int(i) for i in session.exec(select(Run.id)).all() if i}
        groups = {int(i) for i in session.exec(select(GroupRun.id)).all() if i}
    return runs, groups


def test_a_batch_takes_the_oldest_runs_first(sqlite_engine: Engine) -> None:
    old = _runs(sqlite_engine, OLD, 7)
    recent = _runs(sqlite_engine, NEW, 2)
    assert prune_batch(sqlite_engine, before=CUT, batch=3) == 3
    assert _left(sqlite_engine)[0] == set(old[3:] + recent)


def test_every_expired_run_goes_with_a_pause_after_each_batch(sqlite_engine: Engine) -> None:
    old = _runs(sqlite_engine, OLD, 603)
    recent = _runs(sqlite_engine, NEW, 3)
    pauses: list[float] = []
    removed = prune(sqlite_engine, before=CUT, pause=pauses.append, max_batches=None)
    assert removed == len(old)
    assert _left(sqlite_engine)[0] == set(recent)
    assert len(pauses) == 4  # 200 + 200 + 200 + 3, then an empty batch ends it
    assert all(0 <= p <= 1.0 for p in pauses)


def test_group_runs_go_with_their_last_run(engine: Engine) -> None:
    emptied = _group_run(engine, OLD)
    _runs(engine, OLD, 4, emptied)
    kept = _group_run(engine, OLD)  # an old group run whose last task ran recently
    _runs(engine, OLD, 2, kept)
    recent_run = _runs(engine, NEW, 1, kept)
    never_ran = _group_run(engine, OLD)
    young = _group_run(engine, NEW)
    prune(engine, before=CUT, pause=lambda _: None)
    runs, groups = _left(engine)
    assert runs == set(recent_run)
    assert groups == {kept, young}
    assert emptied not in groups and never_ran not in groups
