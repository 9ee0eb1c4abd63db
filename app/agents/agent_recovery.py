"""Taking up the spool a previous life of the agent left behind.

Containers still going (or ended unseen) are re-attached and followed to their end; host
processes are not re-attached (their pipes died with the agent): the process groups still
alive are ended (the journal recorded pid, group and start time) before any new work is
taken, and those attempts end FAILED.
"""

from __future__ import annotations

import asyncio
import logging

from app.agents.agent_outbox import Key, Outbox
from app.agents.agent_runs import RunSupervisor, Spawn
from app.agents.executors.base import Executor, LaunchError, Reattachable, Stream
from app.agents.process_groups import end_groups
from app.agents.spool import RunSpool, Spool
from app.protocol.frames import AgentState

log = logging.getLogger("almanac.agent")

_LOST = "agent restarted: process lost"


class Recovery:
    def __init__(
        self,
        *,
        spool: Spool,
        outbox: Outbox,
        runs: RunSupervisor,
        spawn: Spawn,
        docker_executor: Executor | None,
        grace_seconds: float,
    ) -> None:
        self._spool = spool
        self._outbox = outbox
        self._runs = runs
        self._spawn = spawn
        self._docker = docker_executor
        self._grace_seconds = grace_seconds

    async def recover(self) -> None:
        """Take up the spool left by a previous life: containers are followed again; host
        process groups still alive are ended first, and their attempts end FAILED."""
        spools = await asyncio.to_thread(self._spool.load_all)
        alive = await self._containers_alive(spools)
        ended = await self._end_lost_processes(
            [s for s in spools if not s.finished and (s.run_id, s.attempt) not in alive]
        )
        for spool in spools:
            key = (spool.run_id, spool.attempt)
            self._outbox.held[key] = spool
            if spool.finished:
                await asyncio.to_thread(spool.seal)  # a crash may have cut it short
            elif key in alive:
                self._spawn(self._follow_again(spool))
            else:
                said = ended.get(key, "")
                await self._runs.finish(
                    spool,
                    AgentState.FAILED,
                    reason=_LOST,
                    detail="the agent restarted while this run was executing"
                    + (f"; {said}" if said else ""),
                )

    async def _end_lost_processes(self, spools: list[RunSpool]) -> dict[Key, str]:
        """End the process groups a previous life started (SIGTERM, then SIGKILL after the
        grace), all at once; what happened to each, by attempt."""
        records = [(s, s.process) for s in spools if s.process is not None]
        if not records:
            return {}
        said = await asyncio.to_thread(end_groups, [r for _, r in records], self._grace_seconds)
        for (spool, _), text in zip(records, said, strict=True):
            log.warning("run %s attempt %s: %s", spool.run_id, spool.attempt, text)
        return {(s.run_id, s.attempt): text for (s, _), text in zip(records, said, strict=True)}

    async def _containers_alive(self, spools: list[RunSpool]) -> set[Key]:
        docker = self._docker
        if not isinstance(docker, Reattachable):
            return set()
        if not any(not s.finished and s.spec().get("image") for s in spools):
            return set()
        try:
            return {(found.run_id, found.attempt) for found in await docker.find_running()}
        except Exception as exc:  # no engine now: the runs cannot be followed
            log.warning("cannot look for this agent's containers: %s", exc)
            return set()

    async def _follow_again(self, spool: RunSpool) -> None:
        assert isinstance(self._docker, Reattachable)
        offsets: dict[Stream, int] = {
            "stdout": spool.size("stdout"),
            "stderr": spool.size("stderr"),
        }
        try:
            execution = await self._docker.reattach(
                spool.run_id, spool.attempt, self._runs.sink(spool), offsets=offsets
            )
        except (LookupError, LaunchError) as exc:
            await self._runs.finish(spool, AgentState.FAILED, reason=_LOST, detail=str(exc))
            return
        log.info("re-attached to the container of run %s attempt %s", spool.run_id, spool.attempt)
        if spool.last_status == AgentState.STARTED:
            self._runs.record(
                spool, AgentState.RUNNING, detail="container re-attached after an agent restart"
            )
        await self._runs.supervise((spool.run_id, spool.attempt), spool, execution)
