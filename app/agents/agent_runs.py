"""Launching and supervising the executions the server sends, and recording their states.

An attempt's spool is made (and its acceptance recorded) before anything is launched; when
it ends, its output files are taken stock of (the spool's manifest) before the final state
is recorded. A run whose output the spool can no longer keep is stopped and ends FAILED.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from app.agents.agent_config import AgentConfig
from app.agents.agent_health import SpoolHealth
from app.agents.agent_outbox import Key, Outbox
from app.agents.agent_policy import judge
from app.agents.disk_guard import describe
from app.agents.executors.base import Execution, Executor, LaunchError, RunSpec, Sink, Stream
from app.agents.inputs import InputError, fetch_inputs
from app.agents.process_groups import ProcessRecord, record_of
from app.agents.resources import bind_to_node, host_numa
from app.agents.spool import RunSpool, Spool
from app.clock import Clock
from app.domain.results import Results
from app.protocol import frames as p
from app.protocol.frames import ENDINGS, AgentState

log = logging.getLogger("almanac.agent")

Spawn = Callable[[Coroutine[Any, Any, Any]], None]
LAUNCHES_AT_ONCE = 32  # starts being launched at a time (see RunSupervisor._launch)


class RunSupervisor:
    def __init__(
        self,
        config: AgentConfig,
        *,
        spool: Spool,
        clock: Clock,
        outbox: Outbox,
        health: SpoolHealth,
        spawn: Spawn,
        life: str,
        process_executor: Executor,
        docker_executor: Executor | None,
    ) -> None:
        self._config = config
        self._spool = spool
        self._clock = clock
        self._outbox = outbox
        self._health = health
        self._spawn = spawn
        self.life = life  # names this life's processes in the journals
        self._process = process_executor
        self._docker = docker_executor
        self.executions: dict[Key, Execution] = {}
        self.accepting = True  # False once shutting down: no new runs are started
        self._launching = asyncio.Semaphore(LAUNCHES_AT_ONCE)
        # Attempts whose output the spool could not keep: stopped, and they end FAILED.
        self._lost_output: dict[Key, str] = {}

    def accept(self, start: p.StartRun) -> None:
        disk = self._health.disk
        if not disk.healthy:  # sent before the server heard: it re-dispatches
            log.warning("run %d not started: %s", start.run_id, disk.report()["problem"])
        elif self.accepting:
            self._spawn(self._launch(start))
        else:  # sent before the server heard we are leaving: it re-dispatches
            log.info("leaving: run %d not started here", start.run_id)

    def record(
        self,
        spool: RunSpool,
        status: str,
        *,
        detail: str = "",
        exit_code: int | None = None,
        reason: str | None = None,
        process: ProcessRecord | None = None,
        results: Results | None = None,
    ) -> None:
        state = p.StateChange(
            run_id=spool.run_id,
            attempt=spool.attempt,
            seq=spool.next_seq,
            status=status,
            at=self._clock.now(),
            detail=detail,
            exit_code=exit_code,
            reason=reason,
            results=results.values if results is not None else None,
            results_note=results.note if results is not None else None,
        )
        unwritten = spool.record_state(state, process)
        if unwritten is not None:  # held in memory, and sent all the same
            self._health.write_failed(unwritten, spool)
        self._outbox.mark((spool.run_id, spool.attempt))
        if status in ENDINGS:
            self._outbox.keep_outcome(spool)

    async def finish(
        self,
        spool: RunSpool,
        status: str,
        *,
        detail: str = "",
        exit_code: int | None = None,
        reason: str | None = None,
    ) -> None:
        """The end of an attempt: its output files are taken stock of before the state."""
        if spool.has_outputs():
            await asyncio.to_thread(spool.seal)  # hashing files takes a while
        else:
            spool.seal()  # nothing to hash: cheaper than the hand-over to a thread
        results = spool.read_results()  # spooled with the final state: sent with it
        self.record(
            spool, status, detail=detail, exit_code=exit_code, reason=reason, results=results
        )

    def sink(self, spool: RunSpool) -> Sink:
        """Where an execution of this attempt tells its progress and output."""
        return _SpoolSink(self, spool)

    async def _launch(self, start: p.StartRun) -> None:
        # A frame of thousands of starts is launched a few dozen a turn of the event loop: a
        # launch (spool folder, fork and exec) never yields, so all of them would otherwise
        # run in one turn, long enough on a busy host for the server's keepalive ping to go
        # unanswered and the agent to be declared lost. Each holds its slot over one turn.
        async with self._launching:
            begun = await self._begin(start)
            await asyncio.sleep(0)
        if begun is not None:
            await self.supervise(*begun)

    async def _begin(self, start: p.StartRun) -> tuple[Key, RunSpool, Execution] | None:
        """Accept the start (spool, STARTED) and start its process or container; None when
        it ended (or was already held) instead."""
        key = (start.run_id, start.attempt)
        if key in self._outbox.held:  # a re-sent dispatch: the states we have are re-sent
            self._outbox.mark(key)
            return None
        accepted = p.StateChange(
            run_id=start.run_id,
            attempt=start.attempt,
            seq=1,
            status=AgentState.STARTED,
            at=self._clock.now(),
            detail=f"accepted by {self._config.name}",
        )
        # Made here, not in a worker thread: with its folder made ahead (see Spool.prepare)
        # this is a rename and a write, cheaper than the hand-over to a thread.
        try:
            spool = self._spool.create(start.run_id, start.attempt, start.model_dump(), accepted)
        except OSError as exc:  # not accepted: the server dispatches it again
            self._health.write_failed(exc)
            log.warning("run %d not started: %s", start.run_id, describe(exc))
            return None
        self._outbox.held[key] = spool
        self._outbox.mark(key)
        verdict = judge(start, self._config.policy)
        if verdict.refusal is not None:
            await self.finish(
                spool, AgentState.FAILED, reason=f"refused by agent policy: {verdict.refusal}"
            )
            return None
        executor = self._process if start.image is None else self._docker
        if executor is None:
            await self.finish(
                spool,
                AgentState.FAILED,
                reason=f"launch error: Docker is not available on agent {self._config.name}",
            )
            return None
        inputs = spool.path / "inputs" if start.inputs else None
        if inputs is not None:
            try:
                await fetch_inputs(self._config, start, inputs)
            except InputError as exc:
                await self.finish(spool, AgentState.FAILED, reason=f"launch error: {exc}")
                return None
        binding = bind_to_node(start.numa_node, host_numa())
        spec = RunSpec(
            cpuset_cpus=binding.cpus,
            cpuset_mems=binding.mems,
            numa_note=binding.note,
            run_id=start.run_id,
            attempt=start.attempt,
            command=start.command,
            output_dir=spool.output_dir,
            image=start.image,
            env=start.env,
            workdir=start.workdir,
            run_as_user=verdict.run_as_user,
            cpus=start.cpus,
            memory=start.memory,
            gpus=tuple(start.gpus),
            mounts=tuple(start.mounts),
            max_run_seconds=start.max_run_seconds,
            results_file=spool.results_file,
            inputs_dir=inputs,
        )
        try:
            execution = await executor.start(spec, self.sink(spool))
        except LaunchError as exc:
            await self.finish(spool, AgentState.FAILED, reason=f"launch error: {exc}")
            return None
        return key, spool, execution

    async def supervise(self, key: Key, spool: RunSpool, execution: Execution) -> None:
        self.executions[key] = execution
        if key in self._lost_output:  # its output was refused before we held it
            self._spawn(self._stop_lost(key))
        try:
            outcome = await execution.wait()
        finally:
            self.executions.pop(key, None)
        if key not in self._outbox.held:  # abandoned at the server's request: nothing to report
            self._lost_output.pop(key, None)
            return
        lost = self._lost_output.pop(key, None)
        if lost is not None:
            await self.finish(spool, AgentState.FAILED, exit_code=outcome.exit_code, reason=lost)
            return
        if outcome.terminated:
            status = AgentState.TERMINATED
        else:
            status = AgentState.SUCCESS if outcome.succeeded else AgentState.FAILED
        await self.finish(spool, status, exit_code=outcome.exit_code, reason=outcome.reason)

    async def control(self, control: p.Control) -> None:
        key = (control.run_id, control.attempt)
        execution = self.executions.get(key)
        spool = self._outbox.held.get(key)
        if execution is None or spool is None:
            return
        if control.type == "kill":
            await execution.kill(control.grace_seconds)
        elif control.type == "pause" and spool.last_status == AgentState.RUNNING:
            await execution.pause()
            self.record(spool, AgentState.PAUSED, detail="paused by operator")
        elif control.type == "resume" and spool.last_status == AgentState.PAUSED:
            await execution.resume()
            self.record(spool, AgentState.RUNNING, detail="resumed by operator")

    async def abandon(self, key: Key) -> None:
        execution = self.executions.get(key)
        if execution is not None:
            await execution.kill(5.0)
        spool = self._outbox.held.pop(key, None)
        if spool is not None:
            self._spool.release(spool)

    def take_output(self, spool: RunSpool, stream: Stream, data: bytes) -> None:
        key = (spool.run_id, spool.attempt)
        if key in self._lost_output:
            return  # being stopped: what it still prints is read and dropped
        try:
            spool.append_output(stream, data)
        except OSError as exc:
            self._output_lost(spool, exc)
            return
        self._outbox.mark(key)

    def _output_lost(self, spool: RunSpool, exc: OSError) -> None:
        """The spool cannot keep the run's output: the run is stopped and ends FAILED (what
        was kept so far is still delivered)."""
        key = (spool.run_id, spool.attempt)
        self._lost_output[key] = f"{describe(exc)}: the run's output could not be kept"
        log.error(
            "run %s attempt %s stopped: %s", spool.run_id, spool.attempt, self._lost_output[key]
        )
        self._health.write_failed(exc)
        if key in self.executions:
            self._spawn(self._stop_lost(key))

    async def _stop_lost(self, key: Key) -> None:
        execution = self.executions.get(key)
        if execution is not None:
            await execution.kill(self._config.orphan_grace_seconds)


class _SpoolSink:
    def __init__(self, runs: RunSupervisor, spool: RunSpool) -> None:
        self._runs = runs
        self._spool = spool

    async def running(self, detail: str = "", *, pid: int | None = None) -> None:
        # The process group goes into the journal with RUNNING (one write): a later life of
        # the agent, or its watchdog, can end it.
        process = record_of(pid, self._runs.life) if pid is not None else None
        self._runs.record(self._spool, AgentState.RUNNING, detail=detail, process=process)

    async def output(self, stream: Stream, data: bytes) -> None:
        self._runs.take_output(self._spool, stream, data)
