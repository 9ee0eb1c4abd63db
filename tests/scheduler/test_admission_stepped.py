"""Pools, locks and priorities with the loops stepped by hand and the in-package fake agent:
what runs at once, in which order, and that every way a run ends gives back what it held."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import col, select

from app.clock import FrozenClock
from app.context import AppContext
from app.db.engine import session_scope
from app.db.pool_tables import InstanceQuota, Pool
from app.db.runs import create_run, get_run, task_spec
from app.db.tables import Run, Task, TaskGroup
from app.domain.states import ON_AGENT, RunStatus, TriggerKind
from app.hub.fake_agent import ACCEPT, DEAF, FakeAgent, agent_token
from app.protocol import frames as p
from app.scheduler.admission import load_gates
from app.scheduler.service import SchedulerService
from app.scheduler.why import waiting_for
from app.server import create_app
from app.settings import Settings
from tests.run_moves import move


@dataclass
class World:
    app: FastAPI
    engine: Engine
    clock: FrozenClock
    scheduler: SchedulerService
    agents: list[FakeAgent] = field(default_factory=list)

    async def agent(
        self, name: str = "fake", on_start: Sequence[p.AgentState] = ACCEPT
    ) -> FakeAgent:
        context: AppContext = self.app.state.context
        token = agent_token(self.engine, name, self.clock.now())
        agent = FakeAgent(
            self.app, context.hub, token=token, name=name, clock=self.clock, on_start=on_start
        )
        self.agents.append(agent)
        await agent.connect()
        return agent

    def tick(self, seconds: float = 1) -> datetime:
        moment = self.clock.now() + timedelta(seconds=seconds)
        self.clock.set(moment)
        return moment

    def add(self, *rows: object) -> None:
        with session_scope(self.engine) as session:
            session.add_all(rows)

    def task(self, name: str, **fields: object) -> int:
        with session_scope(self.engine) as session:
            task = Task(name=name, command="true", **fields)
            session.add(task)
            session.flush()
            return task.id or 0

    def group(self, name: str, **fields: object) -> int:
        with session_scope(self.engine) as session:
            group = TaskGroup(name=name, **fields)
            session.add(group)
            session.flush()
            return group.id or 0

    def force(self, tid: int) -> int:
        with session_scope(self.engine) as session:
            task = session.get(Task, tid)
            assert task is not None
            run = create_run(
                session,
                at=self.clock.now(),
                status=RunStatus.ACTIVE,
                trigger_kind=TriggerKind.MANUAL,
                spec=task_spec(task),
                task=task,
            )
            return run.id or 0

    def run(self, run_id: int) -> Run:
        with session_scope(self.engine) as session:
            run = get_run(session, run_id)
            session.expunge(run)
            return run

    def on_agents(self) -> list[int]:
        with session_scope(self.engine) as session:
            stmt = select(Run.id).where(col(Run.status).in_(ON_AGENT)).order_by(col(Run.id))
            return [int(i or 0) for i in session.exec(stmt).all()]


@pytest.fixture
async def world(sqlite_engine: Engine, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path / "data", local_agent=False)
    app = create_app(settings, clock=clock, engine=sqlite_engine, start_scheduler=False)
    scheduler: SchedulerService = app.state.context.scheduler
    scheduler.leadership.is_leader = True
    scheduler.started_at = clock.now() - timedelta(hours=1)
    world = World(app, sqlite_engine, clock, scheduler)
    yield world
    for agent in world.agents:
        await agent.close()


async def test_a_pool_of_3_shared_by_3_groups_in_a_burst_of_50(world: World) -> None:
    world.add(Pool(name="etl", slots=3))
    groups = [world.group(f"g{i}", pool="etl", priority=i * 10) for i in range(3)]
    tasks = [world.task(f"t{i}", group_id=groups[i % 3]) for i in range(10)]
    # One task of the lowest group says otherwise: priority 50, still the group's pool.
    tasks.append(world.task("urgent", group_id=groups[0], priority=50))
    agent = await world.agent()
    runs = [world.force(tasks[i % len(tasks)]) for i in range(50)]
    priority = {r: world.run(r).priority for r in runs}
    assert sorted(set(priority.values())) == [0, 10, 20, 50]

    started: list[int] = []
    for finished in range(50):
        await world.scheduler.dispatch_once(world.tick())
        await agent.settle()
        holding = world.on_agents()
        assert len(holding) == min(3, 50 - finished)  # never more than the pool's 3
        started += [r for r in holding if r not in started]
        await agent.finish(holding[0])  # one ends, one slot frees
    assert sorted(started) == sorted(runs)
    order = [priority[r] for r in started]
    assert order == sorted(order, reverse=True), "higher priority first"
    for level in set(order):  # oldest first within a priority
        same = [r for r in started if priority[r] == level]
        assert same == sorted(same)


async def test_a_full_pool_says_who_holds_it(world: World) -> None:
    world.add(Pool(name="etl", slots=2))
    tid = world.task("load", pool="etl")
    agent = await world.agent()
    runs = [world.force(tid) for _ in range(3)]
    await world.scheduler.dispatch_once(world.tick())
    await agent.settle()
    assert world.on_agents() == runs[:2]
    reason = world.run(runs[2]).reason
    assert reason == f"waiting for pool etl: 2 of 2 slots used (runs {runs[0]}, {runs[1]})"
    with session_scope(world.engine) as session:  # "why is this not running"
        why = waiting_for(session, get_run(session, runs[2]), agents=[], now=world.tick())
    assert {"kind": "pool", "pool": "etl", "detail": reason} in why


async def test_a_migration_holds_db_main_exclusively_while_readers_share_it(
    world: World,
) -> None:
    reader = world.task("report", locks=[{"name": "db-main", "mode": "shared"}])
    migration = world.task("migrate", locks=[{"name": "db-main", "mode": "exclusive"}])
    agent = await world.agent()
    readers = [world.force(reader) for _ in range(2)]
    world.tick()
    writer = world.force(migration)
    world.tick()
    late_reader = world.force(reader)

    await world.scheduler.dispatch_once(world.tick())
    await agent.settle()
    assert world.on_agents() == readers  # readers share
    assert world.run(writer).reason == (
        f"waiting for lock db-main held shared by runs {readers[0]}, {readers[1]}"
    )
    assert world.run(late_reader).reason == (
        f"waiting for lock db-main: run {writer} waits ahead of this run to hold it exclusively"
    )
    for run_id in readers:
        await agent.finish(run_id)
    await world.scheduler.dispatch_once(world.tick())
    await agent.settle()
    assert world.on_agents() == [writer]  # alone
    assert world.run(late_reader).reason == (
        f"waiting for lock db-main held exclusively by run {writer}"
    )
    await agent.finish(writer)
    await world.scheduler.dispatch_once(world.tick())
    await agent.settle()
    assert world.on_agents() == [late_reader]


async def test_a_high_priority_run_behind_a_full_batch_is_found(world: World) -> None:
    from app.scheduler import dispatch

    world.add(Pool(name="one", slots=1))
    low = world.task("low", pool="one")
    high = world.task("high", pool="one", priority=100)
    agent = await world.agent()
    for _ in range(dispatch.DISPATCH_BATCH + 5):
        world.force(low)
    world.tick()
    urgent = world.force(high)
    await world.scheduler.dispatch_once(world.tick())
    await agent.settle()
    assert world.on_agents() == [urgent]


async def test_kill_lost_agent_and_expiry_release_slots_and_locks(world: World) -> None:
    world.add(Pool(name="p", slots=1))
    lock = [{"name": "db", "mode": "exclusive"}]
    tid = world.task("job", pool="p", locks=lock)

    def held() -> tuple[dict[int, int], list[int]]:
        with session_scope(world.engine) as session:
            gates = load_gates(session)
        holders = gates.pools[("default", "p")].holders
        state = gates.locks.get(("default", "db"))
        return holders, (state.exclusive if state else [])

    # kill
    agent = await world.agent()
    first, second = world.force(tid), world.force(tid)
    await world.scheduler.dispatch_once(world.tick())
    await agent.settle()
    assert held() == ({first: 1}, [first])
    with session_scope(world.engine) as session:
        move(session, get_run(session, first), RunStatus.TERMINATED, at=world.tick())
    assert held() == ({}, [])
    await world.scheduler.dispatch_once(world.tick())
    await agent.settle()
    assert world.on_agents() == [second]

    # lost agent
    await agent.vanish()
    for _ in range(40):
        world.scheduler.maintenance_once(world.tick())
    assert world.run(second).status == "FAILED"
    assert held() == ({}, [])

    # dispatch expiry: an agent that never acknowledges
    deaf = await world.agent("deaf", on_start=DEAF)
    third = world.force(tid)
    await world.scheduler.dispatch_once(world.tick())
    await deaf.settle()
    assert world.run(third).status == "TRIGGER"
    assert held() == ({third: 1}, [third])
    for _ in range(40):
        world.scheduler.maintenance_once(world.tick())
    assert world.run(third).status in ("ACTIVE", "FAILED")
    assert held() == ({}, [])


async def test_an_instance_over_its_quota_waits_naming_it(world: World) -> None:
    world.add(InstanceQuota(instance="team-a", max_runs=2))
    tid = world.task("a", instance="team-a")
    other = world.task("b", instance="team-b")
    agent = await world.agent()
    runs = [world.force(tid) for _ in range(3)]
    free = world.force(other)
    await world.scheduler.dispatch_once(world.tick())
    await agent.settle()
    assert world.on_agents() == [*runs[:2], free]
    assert world.run(runs[2]).reason == "instance team-a at its quota of 2 concurrent runs"
    await agent.finish(runs[0])
    await world.scheduler.dispatch_once(world.tick())
    await agent.settle()
    assert runs[2] in world.on_agents()


async def test_a_free_pools_run_behind_a_batch_waiting_for_a_full_pool_starts(
    world: World,
) -> None:
    from app.scheduler import dispatch

    world.add(Pool(name="busy", slots=1), Pool(name="free", slots=1))
    busy = world.task("busy", pool="busy")
    free = world.task("free", pool="free")
    agent = await world.agent()
    older = [world.force(busy) for _ in range(dispatch.DISPATCH_BATCH + 5)]
    world.tick()
    newest = world.force(free)  # same priority, behind more than a batch of older runs
    await world.scheduler.dispatch_once(world.tick())
    await agent.settle()
    assert world.on_agents() == [older[0], newest]


async def test_behind_a_full_pool_a_run_without_a_pool_and_the_same_name_elsewhere_start(
    world: World,
) -> None:
    """The lookahead filters closed pools in the database by instance and name: team-b's
    `busy` is open though the default instance's is full, and a run without a pool is never
    held back by one."""
    from app.scheduler import dispatch

    world.add(Pool(name="busy", slots=1), Pool(name="busy", slots=1, instance="team-b"))
    busy = world.task("busy", pool="busy")
    elsewhere = world.task("busy-b", pool="busy", instance="team-b")
    plain = world.task("plain")
    agent = await world.agent()
    holder = world.force(busy)
    await world.scheduler.dispatch_once(world.tick())  # the default `busy` is now full
    older = [world.force(busy) for _ in range(dispatch.DISPATCH_BATCH + 5)]
    world.tick()
    behind = [world.force(elsewhere), world.force(elsewhere), world.force(plain)]
    # The first page places nothing (all wait for the full pool): the look behind it does.
    await world.scheduler.dispatch_once(world.tick())
    await agent.settle()
    assert world.on_agents() == [holder, behind[0], behind[2]]
    assert world.run(behind[1]).status == "ACTIVE"  # team-b's one slot is taken
    assert world.run(older[0]).reason is not None
    assert world.run(older[0]).reason.startswith("waiting for pool busy")
