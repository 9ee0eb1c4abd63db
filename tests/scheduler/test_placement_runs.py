"""Placement end to end with the loops stepped by hand and protocol-speaking fake agents
that report GPUs: runs wait for what they ask, start as what they wait for is let go of
(end, kill, lost agent, dispatch expiry), and never share a GPU."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from app.clock import FrozenClock
from app.db.engine import session_scope
from app.db.runs import create_run, get_run
from app.db.tables import Run
from app.domain.states import RunStatus, TriggerKind
from app.hub.fake_agent import ACCEPT, DEAF, FakeAgent, agent_token
from app.protocol import frames as p
from app.scheduler.operator import stop_run
from app.scheduler.service import SchedulerService
from app.server import create_app
from app.settings import Settings

GIB = 1024**3


def gpu_box(gpus: int = 2, cores: int = 8, memory: int = 16 * GIB) -> dict[str, Any]:
    """What an agent with `gpus` boards reports (the NVML stand-in's shape)."""
    return {
        "docker": False,
        "cpus": cores,
        "memory_total": memory,
        "gpus": [
            {"index": i, "name": "Fake GPU", "uuid": f"GPU-{i}", "memory_total": 24 * GIB}
            for i in range(gpus)
        ],
    }


@dataclass
class Fleet:
    app: FastAPI
    engine: Engine
    clock: FrozenClock
    scheduler: SchedulerService
    agents: list[FakeAgent] = field(default_factory=list)

    async def agent(
        self, name: str, resources: dict[str, Any], on_start: tuple[p.AgentState, ...] = ACCEPT
    ) -> FakeAgent:
        token = agent_token(self.engine, name, self.clock.now())
        agent = FakeAgent(
            self.app,
            self.app.state.context.hub,
            token=token,
            name=name,
            clock=self.clock,
            on_start=on_start,
            resources=resources,
        )
        self.agents.append(agent)
        await agent.connect()
        return agent

    def runs(self, count: int, **spec: Any) -> list[int]:
        """`count` adhoc runs, ACTIVE now, oldest first."""
        ids = []
        with session_scope(self.engine) as session:
            for i in range(count):
                run = create_run(
                    session,
                    at=self.clock.now() + timedelta(microseconds=i),
                    status=RunStatus.ACTIVE,
                    trigger_kind=TriggerKind.ADHOC,
                    spec={"command": "true", "gpus": [], **spec},
                )
                session.flush()
                ids.append(run.id or 0)
        return ids

    def run(self, run_id: int) -> Run:
        with session_scope(self.engine) as session:
            run = get_run(session, run_id)
            session.expunge(run)
            return run

    async def dispatch(self) -> int:
        sent = await self.scheduler.dispatch_once(self.clock.now())
        for agent in self.agents:
            if agent.closed is None:
                await agent.settle()
        return sent


@pytest.fixture
async def fleet(sqlite_engine: Engine, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[Fleet]:
    settings = Settings(data_dir=tmp_path / "data", local_agent=False)
    app = create_app(settings, clock=clock, engine=sqlite_engine, start_scheduler=False)
    scheduler: SchedulerService = app.state.context.scheduler
    scheduler.leadership.is_leader = True
    scheduler.started_at = clock.now() - timedelta(hours=1)
    fleet = Fleet(app, sqlite_engine, clock, scheduler)
    yield fleet
    for agent in fleet.agents:
        await agent.close()


def holders(agents: list[FakeAgent], ended: set[int]) -> dict[tuple[str, int], int]:
    """(agent, GPU index) -> run, from what each agent was told, for runs not ended; fails
    when two live runs were given one index."""
    held: dict[tuple[str, int], int] = {}
    for agent in agents:
        for start in agent.starts:
            if start.run_id in ended:
                continue
            for index in start.gpus:
                key = (agent.name, index)
                assert key not in held, f"GPU {key} given to runs {held[key]} and {start.run_id}"
                held[key] = start.run_id
    return held


async def test_eight_one_gpu_runs_on_two_boxes_of_two_run_four_at_a_time(fleet: Fleet) -> None:
    a = await fleet.agent("gpu-a", gpu_box())
    b = await fleet.agent("gpu-b", gpu_box())
    ids = fleet.runs(8, gpu_count=1)

    assert await fleet.dispatch() == 4
    started = [s.run_id for s in a.starts + b.starts]
    assert sorted(started) == ids[:4]
    assert len(holders([a, b], set())) == 4
    for run_id in ids[4:]:
        run = fleet.run(run_id)
        assert run.status == "ACTIVE"
        assert run.reason == "needs 1 GPU; gpu-a has 0 GPUs free, gpu-b has 0 GPUs free"
    assert {s.gpus[0] for s in a.starts} == {0, 1} == {s.gpus[0] for s in b.starts}

    ended: set[int] = set()
    for step, waiting in enumerate(ids[4:]):
        # The oldest running one ends: exactly the next waiting one takes its GPU.
        done = ids[step]
        agent = a if any(s.run_id == done for s in a.starts) else b
        freed = next(s.gpus for s in agent.starts if s.run_id == done)
        await agent.finish(done)
        ended.add(done)
        assert await fleet.dispatch() == 1
        newest = agent.starts[-1]  # on the agent that has the free GPU
        assert (newest.run_id, newest.gpus) == (waiting, freed)
        assert len(holders([a, b], ended)) == 4
        held = fleet.run(waiting).allocation
        assert held is not None and held["gpus"] == freed
    assert await fleet.dispatch() == 0


async def test_gpus_by_index_wait_for_that_index_only(fleet: Fleet) -> None:
    a = await fleet.agent("gpu-a", gpu_box())
    first, second, other = fleet.runs(2, target="gpu-a", gpus=[1]) + fleet.runs(
        1, target="gpu-a", gpus=[0]
    )
    assert await fleet.dispatch() == 2
    assert [(s.run_id, s.gpus) for s in a.starts] == [(first, [1]), (other, [0])]
    assert fleet.run(second).reason == "needs GPUs 1; gpu-a has GPU 1 in use"


async def test_cores_and_memory_are_never_over_committed(fleet: Fleet) -> None:
    await fleet.agent("cpu-a", gpu_box(gpus=0, cores=8, memory=16 * GIB))
    ids = fleet.runs(4, cpus=3)
    big = fleet.runs(2, memory="10G")
    assert await fleet.dispatch() == 3  # 3 + 3 cores, then 2 free; 10G, then 6G free
    assert [fleet.run(i).status for i in ids] == ["RUNNING", "RUNNING", "ACTIVE", "ACTIVE"]
    assert fleet.run(ids[2]).reason == "needs 3 cores; cpu-a has 2 cores free"
    assert [fleet.run(i).status for i in big] == ["RUNNING", "ACTIVE"]
    assert fleet.run(big[1]).reason == "needs 10G memory; cpu-a has 6G memory free"


async def test_a_kill_releases_what_the_run_held(fleet: Fleet) -> None:
    a = await fleet.agent("gpu-a", gpu_box(gpus=1))
    first, second = fleet.runs(2, gpu_count=1)
    assert await fleet.dispatch() == 1
    with session_scope(fleet.engine) as session:
        stop_run(session, get_run(session, first), who="op", detail="killed", now=fleet.clock.now())
    await a.report(first, p.AgentState.TERMINATED)
    assert fleet.run(first).status == "TERMINATED"
    assert await fleet.dispatch() == 1
    assert a.starts[-1].run_id == second and a.starts[-1].gpus == [0]


async def test_a_lost_agent_releases_what_its_runs_held(fleet: Fleet) -> None:
    lost = await fleet.agent("gpu-a", gpu_box(gpus=1))
    first, second = fleet.runs(2, gpu_count=1)
    assert await fleet.dispatch() == 1
    assert "gpu-a has 0 GPUs free" in (fleet.run(second).reason or "")
    await lost.vanish()
    fleet.clock.set(fleet.clock.now() + timedelta(seconds=40))
    fleet.scheduler.maintenance_once(fleet.clock.now())
    assert (fleet.run(first).status, fleet.run(first).reason) == ("FAILED", "agent lost")
    b = await fleet.agent("gpu-b", gpu_box(gpus=1))
    assert await fleet.dispatch() == 1
    assert b.starts[0].run_id == second


async def test_dispatch_expiry_releases_what_the_run_held(fleet: Fleet) -> None:
    deaf = await fleet.agent("gpu-a", gpu_box(gpus=1), on_start=DEAF)
    first, second = fleet.runs(2, gpu_count=1)
    assert await fleet.dispatch() == 1
    assert fleet.run(first).status == "TRIGGER"
    fleet.clock.set(fleet.clock.now() + timedelta(seconds=31))
    fleet.scheduler.maintenance_once(fleet.clock.now())
    assert fleet.run(first).status == "ACTIVE"  # expired, it waits again, oldest first
    assert await fleet.dispatch() == 1
    assert deaf.starts[-1].run_id == first  # and gets the GPU back: nothing was held twice
    assert fleet.run(second).status == "ACTIVE"


async def test_a_request_no_agent_could_ever_hold_says_so(fleet: Fleet) -> None:
    await fleet.agent("gpu-a", gpu_box(gpus=2))
    (run_id,) = fleet.runs(1, gpu_count=4)
    assert await fleet.dispatch() == 0
    assert fleet.run(run_id).reason == (
        "no agent could ever hold it: needs 4 GPUs; gpu-a has only 2 GPUs"
    )


async def test_pack_fills_one_agent_before_the_next(fleet: Fleet) -> None:
    fleet.scheduler.settings.placement_policy = "pack"
    a = await fleet.agent("gpu-a", gpu_box())
    b = await fleet.agent("gpu-b", gpu_box())
    fleet.runs(3, gpu_count=1)
    assert await fleet.dispatch() == 3
    assert sorted(len(x.starts) for x in (a, b)) == [1, 2]
    fleet.scheduler.settings.placement_policy = "spread"
