"""A run's whole life with the loops stepped by hand and the in-package fake agent: fired at
its trigger time, dispatched, accepted and reported over the server's real agent route,
retried after its delay, lost with its agent, expired when never acknowledged. The clock is
frozen and moved by the test, so the real defaults (30 s timeouts) cost milliseconds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import select

from app.clock import FrozenClock
from app.context import AppContext
from app.db.engine import session_scope
from app.db.runs import get_run, run_events
from app.db.tables import Agent, Run, Task
from app.hub.fake_agent import ACCEPT, DEAF, FakeAgent, Refused, agent_token
from app.protocol import frames as p
from app.scheduler.lifecycle import MAX_DISPATCHES
from app.scheduler.planner import plan_tasks
from app.scheduler.service import SchedulerService
from app.server import create_app
from app.settings import Settings

DEFAULTS = Settings()
NINE = timedelta(hours=1)  # the clock starts at 08:00; the task is due at 09:00


@dataclass
class World:
    app: FastAPI
    engine: Engine
    clock: FrozenClock
    scheduler: SchedulerService

    agents: list[FakeAgent] = field(default_factory=list)

    def agent(self, name: str = "fake", on_start: Sequence[p.AgentState] = ACCEPT) -> FakeAgent:
        context: AppContext = self.app.state.context
        token = agent_token(self.engine, name, self.clock.now())
        agent = FakeAgent(
            self.app, context.hub, token=token, name=name, clock=self.clock, on_start=on_start
        )
        self.agents.append(agent)
        return agent

    def at(self, moment: datetime) -> datetime:
        self.clock.set(moment)
        return moment

    def task(self, **fields: object) -> int:
        """A task due daily at 09:00, planned; the fire pass turns it into a run."""
        schedule = {"kind": "times", "times": ["09:00"], "timezone": "UTC"}
        with session_scope(self.engine) as session:
            task = Task(name="daily", command="true", schedule=schedule, **fields)
            session.add(task)
            session.flush()
            plan_tasks(session, [task], now=self.clock.now())
            return task.id or 0

    def fire(self) -> int:
        (run_id,) = self.scheduler.fire_once(self.clock.now())[0].activated
        return run_id

    def run(self, run_id: int) -> Run:
        with session_scope(self.engine) as session:
            run = get_run(session, run_id)
            session.expunge(run)
            return run

    def timeline(self, run_id: int) -> list[tuple[int, str, str | None]]:
        with session_scope(self.engine) as session:
            return [(e.attempt, e.status, e.detail) for e in run_events(session, run_id)]

    def agent_status(self, name: str) -> str:
        with session_scope(self.engine) as session:
            return session.exec(select(Agent.status).where(Agent.name == name)).one()


@pytest.fixture
async def world(sqlite_engine: Engine, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path / "data", local_agent=False)
    app = create_app(settings, clock=clock, engine=sqlite_engine, start_scheduler=False)
    scheduler: SchedulerService = app.state.context.scheduler
    scheduler.leadership.is_leader = True  # what winning the election does on SQLite
    scheduler.started_at = clock.now() - timedelta(hours=1)
    world = World(app, sqlite_engine, clock, scheduler)
    yield world
    for agent in world.agents:
        await agent.close()


def statuses(world: World, run_id: int) -> list[tuple[int, str]]:
    return [(attempt, status) for attempt, status, _ in world.timeline(run_id)]


async def test_a_run_fires_is_dispatched_accepted_and_succeeds(world: World) -> None:
    world.task(target="fake")
    agent = world.agent()
    await agent.connect()
    start = world.at(world.clock.now() + NINE)
    run_id = world.fire()

    assert await world.scheduler.dispatch_once(start) == 1
    await agent.settle()
    assert [(s.run_id, s.attempt, s.command) for s in agent.starts] == [(run_id, 1, "true")]
    assert world.run(run_id).status == "RUNNING"

    world.at(start + timedelta(seconds=3))
    await agent.finish(run_id, exit_code=0)
    run = world.run(run_id)
    assert (run.status, run.exit_code, run.agent) == ("SUCCESS", 0, "fake")
    assert statuses(world, run_id) == [
        (1, "IDLE"),
        (1, "ACTIVE"),
        (1, "TRIGGER"),
        (1, "STARTED"),
        (1, "RUNNING"),
        (1, "SUCCESS"),
    ]
    assert [(a.run_id, a.attempt, a.done) for a in agent.acks] == [(run_id, 1, True)]


async def test_a_failed_attempt_is_retried_not_before_its_delay(world: World) -> None:
    world.task(target="fake", retry_attempts=1, retry_delay_seconds=60)
    agent = world.agent()
    await agent.connect()
    world.at(world.clock.now() + NINE)
    run_id = world.fire()
    await world.scheduler.dispatch_once(world.clock.now())
    await agent.settle()

    failed_at = world.at(world.clock.now() + timedelta(seconds=5))
    await agent.finish(run_id, exit_code=3)
    run = world.run(run_id)
    assert (run.status, run.attempt, run.not_before) == (
        "ACTIVE",
        2,
        failed_at + timedelta(seconds=60),
    )
    assert (1, "FAILED", "exit code 3") in world.timeline(run_id)

    assert await world.scheduler.dispatch_once(world.at(failed_at + timedelta(seconds=59))) == 0
    assert await world.scheduler.dispatch_once(world.at(failed_at + timedelta(seconds=61))) == 1
    await agent.settle()
    assert [(s.run_id, s.attempt) for s in agent.starts] == [(run_id, 1), (run_id, 2)]
    await agent.finish(run_id, exit_code=0)
    run = world.run(run_id)
    assert (run.status, run.attempt) == ("SUCCESS", 2)
    assert [s for a, s in statuses(world, run_id) if a == 2] == [
        "ACTIVE",
        "TRIGGER",
        "STARTED",
        "RUNNING",
        "SUCCESS",
    ]


async def test_a_killed_agent_is_declared_lost_within_35_seconds_with_the_defaults(
    world: World,
) -> None:
    """Heartbeats every 5 s, a 30 s timeout, the maintenance pass every second: an agent
    killed just before its next heartbeat is lost at the first pass past the timeout."""
    assert (DEFAULTS.heartbeat_interval_seconds, DEFAULTS.heartbeat_timeout_seconds) == (5, 30)
    world.task(target="fake")
    agent = world.agent()
    await agent.connect()
    world.at(world.clock.now() + NINE)
    run_id = world.fire()
    await world.scheduler.dispatch_once(world.clock.now())
    await agent.settle()
    beat = world.at(world.clock.now() + timedelta(seconds=2))
    await agent.heartbeat()
    killed = world.at(beat + timedelta(seconds=DEFAULTS.heartbeat_interval_seconds - 0.1))
    await agent.vanish()

    timeout = timedelta(seconds=DEFAULTS.heartbeat_timeout_seconds)
    tick = killed
    while world.run(run_id).status == "RUNNING":
        tick = world.at(tick + timedelta(seconds=1))
        changed = world.scheduler.maintenance_once(tick)
        assert changed == (tick - beat > timeout)
    assert tick - killed <= timedelta(seconds=35)
    run = world.run(run_id)
    assert (run.status, run.reason) == ("FAILED", "agent lost")
    assert world.timeline(run_id)[-1] == (1, "FAILED", "agent fake stopped answering")
    assert world.agent_status("fake") == "offline"


async def test_a_connected_agent_is_never_declared_lost(world: World) -> None:
    """A live connection is proof of life: only a dropped one counts its silence."""
    world.task(target="fake")
    agent = world.agent()
    await agent.connect()
    world.at(world.clock.now() + NINE)
    run_id = world.fire()
    await world.scheduler.dispatch_once(world.clock.now())
    await agent.settle()
    later = world.at(world.clock.now() + timedelta(minutes=10))
    assert not world.scheduler.maintenance_once(later)
    assert world.run(run_id).status == "RUNNING"


async def test_an_unacknowledged_start_is_dispatched_again_then_fails(world: World) -> None:
    world.task(target="deaf")
    agent = world.agent("deaf", on_start=DEAF)
    await agent.connect()
    world.at(world.clock.now() + NINE)
    run_id = world.fire()
    deadline = timedelta(seconds=DEFAULTS.accept_deadline_seconds)

    for _ in range(MAX_DISPATCHES):
        assert await world.scheduler.dispatch_once(world.clock.now()) == 1
        await agent.settle()
        assert world.run(run_id).status == "TRIGGER"
        sent = world.clock.now()
        assert not world.scheduler.maintenance_once(world.at(sent + deadline))
        assert world.scheduler.maintenance_once(world.at(sent + deadline + timedelta(seconds=1)))

    run = world.run(run_id)
    assert (run.status, run.attempt, run.agent) == ("FAILED", 1, "deaf")
    assert run.reason == f"not accepted by an agent after {MAX_DISPATCHES} dispatches"
    assert [s for _, s in statuses(world, run_id)][-7:] == [
        "ACTIVE",
        "TRIGGER",
        "ACTIVE",
        "TRIGGER",
        "ACTIVE",
        "TRIGGER",
        "FAILED",
    ]
    back = [d for _, s, d in world.timeline(run_id) if s == "ACTIVE"][1:]
    assert back == ["agent deaf did not acknowledge within 30s; dispatching again"] * 2
    assert [(s.run_id, s.attempt) for s in agent.starts] == [(run_id, 1)] * MAX_DISPATCHES


async def test_the_fake_agent_goes_through_token_admission(world: World) -> None:
    agent = world.agent("honest")
    impostor = FakeAgent(
        world.app,
        world.app.state.context.hub,
        token=agent.token,
        name="someone-else",
        clock=world.clock,
    )
    with pytest.raises(Refused) as refused:
        await impostor.connect()
    assert refused.value.code == p.CLOSE_POLICY
    welcome = await agent.connect()
    assert welcome.heartbeat_interval == DEFAULTS.heartbeat_interval_seconds
    assert world.agent_status("honest") == "online"
