"""Retention prunes finished runs older than the cut-off, with what hangs off them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from run_moves import move
from sqlalchemy import Engine, func
from sqlmodel import select

from app.db.engine import session_scope
from app.db.logs import append_chunk
from app.db.runs import create_run
from app.db.tables import LogChunk, Run, RunEvent
from app.domain.states import RunStatus, TriggerKind
from app.scheduler.retention import prune

OLD = datetime(2026, 1, 1, tzinfo=UTC)
NEW = datetime(2026, 3, 1, tzinfo=UTC)


def _finished_run(engine: Engine, at: datetime, status: RunStatus = RunStatus.SUCCESS) -> int:
    with session_scope(engine) as session:
        run = create_run(
            session,
            at=at,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec={"command": "true"},
        )
        if status is not RunStatus.ACTIVE:
            move(
                session,
                run,
                RunStatus.TERMINATED if status is RunStatus.TERMINATED else RunStatus.TRIGGER,
                at=at,
            )
            if status is RunStatus.SUCCESS:
                for step in (RunStatus.STARTED, RunStatus.RUNNING, RunStatus.SUCCESS):
                    move(session, run, step, at=at)
        append_chunk(
            session, run_id=run.id or 0, attempt=1, stream="stdout", offset=0, data=b"hello\n"
        )
        return run.id or 0


def test_old_finished_runs_go_with_their_events_and_logs(engine: Engine) -> None:
    old = [_finished_run(engine, OLD) for _ in range(3)]
    recent = _finished_run(engine, NEW)
    still_going = _finished_run(engine, OLD, RunStatus.ACTIVE)
    removed = prune(engine, before=NEW - timedelta(days=7))
    assert removed == 3
    with session_scope(engine) as session:
        left = set(session.exec(select(Run.id)).all())
        events = set(session.exec(select(RunEvent.run_id)).all())
        chunks = session.exec(select(func.count()).select_from(LogChunk)).one()
    assert left == {recent, still_going}
    assert events == {recent, still_going}
    assert chunks == 2
    assert not set(old) & left
