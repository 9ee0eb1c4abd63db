"""The fleet in the database (both backends): the drain mark outlives the agent's own reports
and going offline; removal says why it cannot happen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db.engine import session_scope
from app.db.runs import create_run
from app.db.tables import Agent, Run
from app.domain.states import RunStatus, TriggerKind
from app.errors import Conflict, NotFound
from app.hub import fleet

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _agent(engine: Engine, name: str, status: str = "online") -> None:
    with session_scope(engine) as session:
        session.add(Agent(name=name, status=status, resources={"cpus": 4}, created_at=NOW))


def _row(engine: Engine, name: str) -> Agent | None:
    with session_scope(engine) as session:
        return session.exec(select(Agent).where(Agent.name == name)).first()


def test_the_drain_mark_survives_reports_and_going_offline(engine: Engine) -> None:
    _agent(engine, "a1")
    _agent(engine, "a2")
    with session_scope(engine) as session:
        drained = fleet.set_draining(session, "a1", True)
        assert drained.status == "draining" and fleet.is_draining(drained)
    assert fleet.dispatchable(engine, ["a1", "a2", "ghost"]) == {"a2"}

    with session_scope(engine) as session:  # the agent reports (hello / heartbeat)
        row = session.exec(select(Agent).where(Agent.name == "a1")).one()
        row.resources = fleet.reported_resources(row, {"cpus": 8, fleet.DRAIN_KEY: False})
        row.status = "offline"  # and later the lost-agent check
    after = _row(engine, "a1")
    assert after is not None and fleet.is_draining(after)
    assert fleet.public_resources(after) == {"cpus": 8}
    assert fleet.connected_status(after) == "draining"  # what it becomes when it is back

    with session_scope(engine) as session:
        undrained = fleet.set_draining(session, "a1", False)
        assert undrained.status == "offline" and not fleet.is_draining(undrained)
    assert fleet.dispatchable(engine, ["a1"]) == {"a1"}
    with pytest.raises(NotFound, match="agent ghost not found"), session_scope(engine) as session:
        fleet.set_draining(session, "ghost", True)


def test_removal_needs_an_offline_or_drained_agent_without_runs(engine: Engine) -> None:
    _agent(engine, "busy")
    with pytest.raises(Conflict, match="busy is online: drain it first"):
        with session_scope(engine) as session:
            fleet.remove(session, "busy")
    with session_scope(engine) as session:
        run = create_run(
            session,
            at=NOW,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.ADHOC,
            spec={"command": "true"},
        )
        run.status, run.agent = RunStatus.RUNNING.value, "busy"
        run_id = run.id
        fleet.set_draining(session, "busy", True)
    with pytest.raises(Conflict, match=f"busy still holds runs {run_id}"):
        with session_scope(engine) as session:
            fleet.remove(session, "busy")
    assert _row(engine, "busy") is not None  # nothing changed

    with session_scope(engine) as session:
        finished = session.get(Run, run_id)
        assert finished is not None
        finished.status = RunStatus.SUCCESS.value
    with session_scope(engine) as session:
        assert fleet.remove(session, "busy") == fleet.Removed(name="busy", was="draining")
    assert _row(engine, "busy") is None

    _agent(engine, "gone", status="offline")
    with session_scope(engine) as session:
        assert fleet.remove(session, "gone").was == "offline"
    with pytest.raises(NotFound), session_scope(engine) as session:
        fleet.remove(session, "gone")
