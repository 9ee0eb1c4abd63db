"""Runs: the lifecycle is enforced, every change leaves an event, occurrences are unique."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from run_moves import move
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from app.db.engine import session_scope
from app.db.run_commands import apply
from app.db.runs import create_run, get_run, run_events
from app.domain import run_commands as c
from app.domain.states import RunStatus, TriggerKind
from app.errors import Conflict

NOW = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)


def test_transitions_stamp_times_and_events_with_microseconds(engine: Engine) -> None:
    with session_scope(engine) as session:
        run = create_run(
            session,
            at=NOW,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec={"command": "true"},
        )
        run_id = run.id or 0
        steps = [RunStatus.TRIGGER, RunStatus.STARTED, RunStatus.RUNNING, RunStatus.SUCCESS]
        for index, status in enumerate(steps, start=1):
            move(session, run, status, at=NOW + timedelta(microseconds=index))
    with session_scope(engine) as session:
        run = get_run(session, run_id)
        events = run_events(session, run_id)
    assert [e.status for e in events] == ["ACTIVE", "TRIGGER", "STARTED", "RUNNING", "SUCCESS"]
    assert events[-1].at == NOW + timedelta(microseconds=4)
    assert events[0].at.tzinfo is not None
    assert run.started_at == NOW + timedelta(microseconds=3)
    assert run.finished_at == NOW + timedelta(microseconds=4)


def test_an_illegal_transition_is_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        run = create_run(
            session,
            at=NOW,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec={"command": "true"},
        )
        move(session, run, RunStatus.TERMINATED, at=NOW)
        with pytest.raises(Conflict, match="cannot go from TERMINATED to TRIGGER"):
            apply(session, run, c.Dispatch("a1"), now=NOW)


def test_an_occurrence_cannot_exist_twice(engine: Engine) -> None:
    with session_scope(engine) as session:
        create_run(
            session,
            at=NOW,
            status=RunStatus.IDLE,
            trigger_kind=TriggerKind.SCHEDULE,
            spec={"command": "true"},
            occurrence_key="t1@2026-03-02T09:00:00+00:00",
        )
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        create_run(
            session,
            at=NOW,
            status=RunStatus.IDLE,
            trigger_kind=TriggerKind.SCHEDULE,
            spec={"command": "true"},
            occurrence_key="t1@2026-03-02T09:00:00+00:00",
        )


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), session_scope(engine) as session:
        create_run(
            session,
            at=datetime(2026, 3, 2, 8, 0),
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec={"command": "true"},
        )


def test_events_are_readable_in_the_session_that_records_them(engine: Engine) -> None:
    at = datetime(2026, 3, 2, 8, 0, 0, 250000, tzinfo=UTC)
    with session_scope(engine) as session:
        run = create_run(
            session,
            at=at,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec={"command": "true"},
        )
        assert [e.status for e in run_events(session, run.id or 0)] == ["ACTIVE"]
        move(session, run, RunStatus.TRIGGER, at=at + timedelta(milliseconds=1))
        assert [e.status for e in run_events(session, run.id or 0)] == ["ACTIVE", "TRIGGER"]
        move(session, run, RunStatus.STARTED, at=at + timedelta(milliseconds=2))
        run_id = run.id or 0
    with session_scope(engine) as session:
        events = run_events(session, run_id)
    assert [(e.status, e.at) for e in events] == [
        ("ACTIVE", at),
        ("TRIGGER", at + timedelta(milliseconds=1)),
        ("STARTED", at + timedelta(milliseconds=2)),
    ]


def test_events_of_a_rolled_back_transaction_are_not_written(engine: Engine) -> None:
    at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        run_id = (
            create_run(
                session,
                at=at,
                status=RunStatus.ACTIVE,
                trigger_kind=TriggerKind.MANUAL,
                spec={"command": "true"},
            ).id
            or 0
        )
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        move(session, get_run(session, run_id), RunStatus.TRIGGER, at=at)
        raise RuntimeError("the unit of work fails before its commit")
    with session_scope(engine) as session:
        move(session, get_run(session, run_id), RunStatus.TRIGGER, at=at + timedelta(seconds=1))
    with session_scope(engine) as session:
        events = run_events(session, run_id)
    assert [(e.status, e.at) for e in events] == [
        ("ACTIVE", at),
        ("TRIGGER", at + timedelta(seconds=1)),
    ]
