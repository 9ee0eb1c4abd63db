"""The unit of work: events recorded in a transaction reach the subscribers once, in order,
after the commit; a rollback drops them; a failing subscriber costs only its own."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from run_moves import move
from sqlalchemy import Engine

from app.db import unit_of_work
from app.db.engine import session_scope
from app.db.runs import create_run
from app.domain.events import (
    DefinitionChanged,
    DispatchWanted,
    LogAppended,
    RunTransitioned,
)
from app.domain.states import RunStatus, TriggerKind

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Heard:
    def __init__(self) -> None:
        self.batches: list[list[Any]] = []

    def __call__(self, events: Sequence[Any]) -> None:
        self.batches.append(list(events))


def test_events_reach_subscribers_once_after_the_commit_in_order(sqlite_engine: Engine) -> None:
    heard = Heard()
    wiring = unit_of_work.wire(sqlite_engine)
    wiring.subscribe("all", heard, DefinitionChanged, DispatchWanted, LogAppended)
    with session_scope(sqlite_engine) as session:
        unit_of_work.record(session, DefinitionChanged("task", 1, "created"))
        unit_of_work.record(session, LogAppended(7), DispatchWanted())
        assert heard.batches == []  # nothing is told while the transaction may roll back
    assert heard.batches == [
        [DefinitionChanged("task", 1, "created"), LogAppended(7), DispatchWanted()]
    ]
    with session_scope(sqlite_engine):
        pass
    assert len(heard.batches) == 1  # an empty transaction tells nobody, nothing twice


def test_a_subscriber_hears_only_the_kinds_it_asked_for(sqlite_engine: Engine) -> None:
    definitions, logs = Heard(), Heard()
    wiring = unit_of_work.wire(sqlite_engine)
    wiring.subscribe("definitions", definitions, DefinitionChanged)
    wiring.subscribe("logs", logs, LogAppended)
    with session_scope(sqlite_engine) as session:
        unit_of_work.record(session, DefinitionChanged("calendar", "holidays"), DispatchWanted())
    assert definitions.batches == [[DefinitionChanged("calendar", "holidays")]]
    assert logs.batches == []


def test_a_rollback_drops_the_events(sqlite_engine: Engine) -> None:
    heard = Heard()
    unit_of_work.wire(sqlite_engine).subscribe("all", heard, DefinitionChanged, RunTransitioned)
    with pytest.raises(RuntimeError), session_scope(sqlite_engine) as session:
        unit_of_work.record(session, DefinitionChanged("group", 3, "deleted"))
        create_run(
            session,
            at=NOW,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec={"command": "true"},
        )
        raise RuntimeError("refused")
    with session_scope(sqlite_engine) as session:
        unit_of_work.record(session, DefinitionChanged("group", 4))
    assert heard.batches == [[DefinitionChanged("group", 4)]]


def test_a_failing_step_before_the_commit_rolls_it_back_and_tells_nobody(
    sqlite_engine: Engine,
) -> None:
    heard = Heard()
    wiring = unit_of_work.wire(sqlite_engine)

    def refuse(_session: Any) -> None:
        raise ValueError("not settled")

    wiring.before_commit(refuse)
    wiring.subscribe("all", heard, RunTransitioned)
    with pytest.raises(ValueError), session_scope(sqlite_engine) as session:
        run = create_run(
            session,
            at=NOW,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec={"command": "true"},
        )
    assert heard.batches == []
    unit_of_work.wire(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        assert session.get(type(run), run.id) is None


def test_a_failing_subscriber_is_logged_and_the_others_still_hear(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    before, after = Heard(), Heard()

    def broken(_events: Sequence[Any]) -> None:
        raise RuntimeError("subscriber down")

    wiring = unit_of_work.wire(sqlite_engine)
    wiring.subscribe("before", before, DispatchWanted)
    wiring.subscribe("broken", broken, DispatchWanted)
    wiring.subscribe("after", after, DispatchWanted)
    with caplog.at_level(logging.ERROR, logger="almanac.events"):
        with session_scope(sqlite_engine) as session:
            unit_of_work.record(session, DispatchWanted())
    assert before.batches == after.batches == [[DispatchWanted()]]
    assert "subscriber broken failed" in caplog.text
    assert "subscriber down" in caplog.text


def test_a_run_s_changes_are_heard_with_how_its_attempt_ended(sqlite_engine: Engine) -> None:
    heard = Heard()
    unit_of_work.wire(sqlite_engine).subscribe("runs", heard, RunTransitioned)
    with session_scope(sqlite_engine) as session:
        run = create_run(
            session,
            at=NOW,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec={"command": "false"},
        )
        move(session, run, RunStatus.TRIGGER, at=NOW, agent="a1")
        move(session, run, RunStatus.RUNNING, at=NOW)
        move(session, run, RunStatus.FAILED, at=NOW, reason="exit code 1", exit_code=1)
        # A new attempt in the same transaction changes the row; the ending keeps what it was.
        move(session, run, RunStatus.ACTIVE, at=NOW)
    [events] = heard.batches
    assert [(e.run_id, e.attempt, e.status) for e in events] == [
        (run.id, 1, "ACTIVE"),
        (run.id, 1, "TRIGGER"),
        (run.id, 1, "RUNNING"),
        (run.id, 1, "FAILED"),
        (run.id, 2, "ACTIVE"),
    ]
    ended = [e.ended for e in events if e.ended is not None]
    assert len(ended) == 1
    assert ended[0]["reason"] == "exit code 1"
    assert ended[0]["exit_code"] == 1
    assert ended[0]["agent"] == "a1"


def test_wiring_an_engine_again_replaces_its_subscribers(sqlite_engine: Engine) -> None:
    heard = Heard()
    unit_of_work.wire(sqlite_engine).subscribe("all", heard, DispatchWanted)
    unit_of_work.wire(sqlite_engine)  # wired again, without the subscriber
    with session_scope(sqlite_engine) as session:
        unit_of_work.record(session, DispatchWanted())
    assert heard.batches == []
