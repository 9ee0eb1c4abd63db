"""A frame of many starts is launched a few dozen at a time: the agent's event loop turns
between them (to answer the server's keepalive pings, to send the states), instead of one
turn that spools and spawns every run of the frame. Real spool, real `true` processes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from app.agents.agent_config import AgentConfig
from app.agents.agent_health import SpoolHealth
from app.agents.agent_outbox import Outbox
from app.agents.agent_runs import LAUNCHES_AT_ONCE, RunSupervisor
from app.agents.disk_guard import DiskGuard
from app.agents.executors.process import ProcessExecutor
from app.agents.spool import Spool
from app.clock import SystemClock
from app.protocol import frames as p

BURST = 3 * LAUNCHES_AT_ONCE + 5


async def test_a_burst_of_starts_is_launched_a_few_at_a_time_and_every_run_ends(
    tmp_path: Path,
) -> None:
    config = AgentConfig(
        server_url="http://127.0.0.1:9", token="-", name="burst", data_dir=tmp_path, labels={}
    )
    spool = Spool(tmp_path / "spool")
    outbox = Outbox(spool)
    tasks: list[asyncio.Task[Any]] = []

    def spawn(coroutine: Coroutine[Any, Any, Any]) -> None:
        tasks.append(asyncio.create_task(coroutine))

    runs = RunSupervisor(
        config,
        spool=spool,
        clock=SystemClock(),
        outbox=outbox,
        health=SpoolHealth(DiskGuard(spool.root, min_free_bytes=0), outbox.held),
        spawn=spawn,
        life="test",
        process_executor=ProcessExecutor(),
        docker_executor=None,
    )
    per_turn: list[int] = []  # runs taken into the spool in each turn of the loop
    done = asyncio.Event()

    async def watch() -> None:
        seen = 0
        while not done.is_set():
            await asyncio.sleep(0)  # one turn of the loop
            per_turn.append(len(outbox.held) - seen)
            seen = len(outbox.held)

    watcher = asyncio.create_task(watch())
    for n in range(1, BURST + 1):  # one `starts` frame
        runs.accept(p.StartRun(run_id=n, attempt=1, command="true"))
    while len(tasks) < BURST or not all(t.done() for t in tasks):
        await asyncio.gather(*tasks)
    done.set()
    await watcher

    assert sum(per_turn) == BURST
    assert max(per_turn) <= LAUNCHES_AT_ONCE
    assert len([n for n in per_turn if n]) >= BURST // LAUNCHES_AT_ONCE
    ended = {key: held.last_status for key, held in outbox.held.items()}
    assert ended == {(n, 1): p.AgentState.SUCCESS for n in range(1, BURST + 1)}
