"""The agent process: dials the server, runs what it is sent, and never drops a byte.

Everything an execution produces goes to the spool first; a single sender pulls from the
spool up to what the server has acknowledged, so a reconnect simply resumes from the
server's positions (sent in `welcome`) with no loss and no duplicate. When an attempt ends,
its output files are taken stock of (the spool's manifest) before the final state is
recorded, and the spool is kept until the server has the logs, the files and the state.

A restarted agent finds its spools again: containers still going (or ended unseen) are
re-attached and followed to their end; host processes are not re-attached (their pipes died
with the agent): the process groups still alive are ended (the journal recorded pid, group and
start time) before any new work is taken, and those attempts end FAILED. While the agent
lives, a watchdog process waits to end its groups should it die (app/agents/watchdog.py).

A spool without room (app/agents/disk_guard.py) fails the runs whose output it can no longer
keep (`spool full`), reports the agent unhealthy so that it gets no work, and holds the
journal lines it could not write in memory, still sending them, until a probe finds space.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import subprocess
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from app import __version__
from app.agents import watchdog
from app.agents.agent_policy import judge
from app.agents.disk_guard import DiskGuard, describe
from app.agents.executors.base import (
    Execution,
    Executor,
    LaunchError,
    Reattachable,
    RunSpec,
    Stream,
)
from app.agents.process_groups import ProcessRecord, end_groups, record_of
from app.agents.sender import Sent, flush, released
from app.agents.spool import RunSpool, Spool
from app.clock import Clock, SystemClock
from app.domain.run_policy import UNRESTRICTED, RunPolicy
from app.protocol import frames as p

log = logging.getLogger("almanac.agent")

# fsyncs and removals of finished spools, one at a time and in order: in a burst they must
# neither crowd the launches out of the disk nor remove a spool before its fsync.
_DISK = ThreadPoolExecutor(max_workers=1, thread_name_prefix="almanac-disk")

Key = tuple[int, int]
_LOST = "agent restarted: process lost"


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    server_url: str
    token: str
    name: str
    data_dir: Path
    labels: dict[str, str]
    max_runs: int | None = None
    heartbeat_interval: float = 5.0
    # Spool folders made ahead of need (at most max_runs): a burst of starts then makes none.
    ready_folders: int = 1024
    # Free space the spool needs to take work, and how often it is measured.
    spool_min_free: int = 16 * 1024 * 1024
    disk_probe_interval: float = 2.0
    # A watchdog process ends this life's host process groups should the agent die.
    watchdog: bool = True
    orphan_grace_seconds: float = 5.0
    # What this agent runs at all, whatever the server sends (app/agents/agent_policy.py).
    policy: RunPolicy = UNRESTRICTED


class AgentProcess:
    def __init__(
        self,
        config: AgentConfig,
        *,
        process_executor: Executor,
        docker_executor: Executor | None = None,
        resources: Callable[[], dict[str, object]] = dict,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.spool = Spool(config.data_dir / "spool")
        self.clock = clock or SystemClock()
        self._process = process_executor
        self._docker = docker_executor

        # The policy travels with the resources: the server shows it and dispatches by it.
        def report() -> dict[str, object]:
            return {**resources(), "policy": config.policy.to_dict()}

        self._resources = report
        self.held: dict[Key, RunSpool] = {}
        self.executions: dict[Key, Execution] = {}
        self._sent: dict[Key, Sent] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._interval = config.heartbeat_interval  # until the server's welcome says
        self._kick = asyncio.Event()
        # Attempts with something new to send: a kick flushes these, not every held spool.
        self._dirty: set[Key] = set()
        self._stopping = asyncio.Event()
        self.accepting = True  # False once shutting down: no new runs are started
        self._released = asyncio.Event()  # set whenever a finished attempt is let go
        self._ws: ClientConnection | None = None
        self.connected = asyncio.Event()
        self.disk = DiskGuard(self.spool.root, min_free_bytes=config.spool_min_free)
        self.life = secrets.token_hex(8)  # names this life's processes in the journals
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._beat = asyncio.Event()  # a heartbeat now (the agent's health changed)
        # Attempts whose output the spool could not keep: stopped, and they end FAILED.
        self._lost_output: dict[Key, str] = {}
        self.session_id = uuid.uuid4().hex  # this process's life, told in every hello

    # ---- lifecycle -------------------------------------------------------------------
    async def recover(self) -> None:
        """Take up the spool left by a previous life: containers are followed again; host
        process groups still alive are ended first, and their attempts end FAILED."""
        spools = await asyncio.to_thread(self.spool.load_all)
        alive = await self._containers_alive(spools)
        ended = await self._end_lost_processes(
            [s for s in spools if not s.finished and (s.run_id, s.attempt) not in alive]
        )
        for spool in spools:
            key = (spool.run_id, spool.attempt)
            self.held[key] = spool
            if spool.finished:
                await asyncio.to_thread(spool.seal)  # a crash may have cut it short
            elif key in alive:
                self._spawn(self._follow_again(spool))
            else:
                said = ended.get(key, "")
                await self._finish(
                    spool,
                    "FAILED",
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
        said = await asyncio.to_thread(
            end_groups, [r for _, r in records], self.config.orphan_grace_seconds
        )
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
                spool.run_id, spool.attempt, _SpoolSink(self, spool), offsets=offsets
            )
        except (LookupError, LaunchError) as exc:
            await self._finish(spool, "FAILED", reason=_LOST, detail=str(exc))
            return
        log.info("re-attached to the container of run %s attempt %s", spool.run_id, spool.attempt)
        if spool.last_status == "STARTED":
            self._record(spool, "RUNNING", detail="container re-attached after an agent restart")
        await self._supervise((spool.run_id, spool.attempt), spool, execution)

    async def _prepare_folders(self) -> None:
        count = min(self.config.ready_folders, self.config.max_runs or self.config.ready_folders)
        try:
            await asyncio.to_thread(self.spool.prepare, count)
        except OSError as exc:  # a full disk: attempts make their folders as they come
            log.warning("cannot make spool folders ahead: %s", exc)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def run_forever(self) -> None:
        await asyncio.to_thread(self.disk.probe)  # the first hello tells the spool's health
        await self.recover()
        self._start_watchdog()
        try:
            await self._connect_forever()
        finally:
            self._stop_watchdog()

    def _start_watchdog(self) -> None:
        if not self.config.watchdog:
            return
        try:
            self._watchdog = watchdog.start(self.spool.root, self.life)
        except OSError as exc:
            log.warning("no watchdog: host processes may outlive the agent: %s", exc)

    def _stop_watchdog(self) -> None:
        """The end of this life: the watchdog ends what it left running."""
        if self._watchdog is not None and self._watchdog.stdin is not None:
            with contextlib.suppress(OSError):
                self._watchdog.stdin.close()

    async def _probe_disk(self) -> None:
        while True:
            await asyncio.sleep(self.config.disk_probe_interval)
            if await asyncio.to_thread(self.disk.probe):
                self._health_changed()

    def _health_changed(self) -> None:
        if self.disk.healthy:
            for spool in list(self.held.values()):  # lines held in memory go to disk now
                if spool.pending:
                    try:
                        spool.write_pending()
                    except OSError as exc:
                        self.disk.failed(exc)
                        break
        if self.disk.healthy:
            log.warning("spool has room again: taking work")
        else:
            log.error("%s: taking no work until space returns", self.disk.report()["problem"])
        self._beat.set()

    def _spool_trouble(self, exc: OSError, spool: RunSpool | None = None) -> None:
        """A spool write failed: unhealthy now, and the journal lines go to the reserve."""
        was_healthy = self.disk.healthy
        self.disk.failed(exc)
        if spool is not None and spool.pending:
            with contextlib.suppress(OSError):  # still held in memory, and sent
                spool.write_pending()
        if was_healthy:
            self._health_changed()

    def _report(self) -> dict[str, Any]:
        return {**self._resources(), **self.disk.report()}

    async def _connect_forever(self) -> None:
        self._spawn(self._prepare_folders())
        self._spawn(self._probe_disk())
        backoff = 0.2
        url = _ws_url(self.config.server_url)
        headers = {"Authorization": f"Bearer {self.config.token}"}
        while not self._stopping.is_set():
            try:
                async with connect(
                    url,
                    additional_headers=headers,
                    max_size=None,
                    compression=_compression(url),
                    ping_interval=10,
                    ping_timeout=20,
                ) as ws:
                    try:
                        await self._session(ws)
                    finally:
                        if ws.close_code == p.CLOSE_REMOVED:
                            log.warning(
                                "the server removed agent %s from its fleet; stopping",
                                self.config.name,
                            )
                            self._stopping.set()
            except InvalidStatus as exc:
                log.error("server refused the agent: HTTP %s", exc.response.status_code)
            except (OSError, WebSocketException, TimeoutError) as exc:
                log.info("connection to %s lost: %s", url, exc)
            finally:
                # Start over quickly only after a real session (welcome received): a server
                # that accepts and then fails the hello must not be redialled in a tight loop.
                if self.connected.is_set():
                    backoff = 0.2
                self.connected.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self._stopping.wait()
            backoff = min(backoff * 2, 5.0)

    def stop(self) -> None:
        self._stopping.set()

    async def shutdown(self, *, drain: bool) -> None:
        """Take no new work (the server is told); with `drain`, first wait until every run
        held has ended and its outcome is stored by the server."""
        self.accepting = False
        await self._say_leaving()
        while drain and self.held:
            self._released.clear()
            await self._released.wait()
        self.stop()

    async def _say_leaving(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(WebSocketException, OSError):
                await self._ws.send(p.Leaving().model_dump_json())

    # ---- one connection ------------------------------------------------------------
    async def _session(self, ws: ClientConnection) -> None:
        hello = p.Hello(
            name=self.config.name,
            labels=self.config.labels,
            version=__version__,
            max_runs=self.config.max_runs,
            resources=self._report(),
            runs=self._held_runs(),
            session=self.session_id,
        )
        await ws.send(hello.model_dump_json())
        welcome = p.parse_server_message(str(await ws.recv()))
        assert isinstance(welcome, p.Welcome)
        self._interval = welcome.heartbeat_interval or self.config.heartbeat_interval
        self._sent = {}
        for resume in welcome.resume:
            key = (resume.run_id, resume.attempt)
            self._sent[key] = Sent.resumed(resume)
            if resume.abandon:
                await self._abandon(key)
        self._ws = ws
        if not self.accepting:  # reconnected while shutting down
            await self._say_leaving()
        self.connected.set()
        self._dirty.update(self.held)  # everything held is re-sent from the server's positions
        self._kick.set()
        tasks = [
            asyncio.create_task(self._receive(ws)),
            asyncio.create_task(self._send_loop(ws)),
            asyncio.create_task(self._heartbeat(ws)),
            asyncio.create_task(self._stopping.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self._ws = None
            for task in tasks:
                task.cancel()

    def _held_runs(self) -> list[p.HeldRun]:
        return [
            p.HeldRun(
                run_id=s.run_id,
                attempt=s.attempt,
                status=s.last_status or "STARTED",
                seq=s.states[-1].seq if s.states else 0,
            )
            for s in self.held.values()
        ]

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._beat.wait()  # or at once when the agent's health changed
            self._beat.clear()
            beat = p.Heartbeat(resources=self._report(), runs=self._held_runs())
            await ws.send(beat.model_dump_json())

    async def _send_loop(self, ws: ClientConnection) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            dirty, self._dirty = self._dirty, set()
            states: list[str] = []
            for key in sorted(dirty):
                spool = self.held.get(key)
                if spool is not None:
                    await flush(ws, spool, self._sent.setdefault(key, Sent()), states)
            if states:
                await ws.send(p.state_batch_frame(states))

    async def _receive(self, ws: ClientConnection) -> None:
        async for frame in ws:
            if isinstance(frame, bytes):
                continue
            message = p.parse_server_message(frame)
            if isinstance(message, p.StartRun):
                self._accept(message)
            elif isinstance(message, p.StartBatch):
                for start in message.runs:
                    self._accept(start)
            elif isinstance(message, p.Control):
                self._spawn(self._control(message))
            elif isinstance(message, p.Ack):
                self._acknowledged(message)
            elif isinstance(message, p.AckBatch):
                for ack in message.acks:
                    self._acknowledged(ack)

    def _accept(self, start: p.StartRun) -> None:
        if not self.disk.healthy:  # sent before the server heard: it re-dispatches
            log.warning("run %d not started: %s", start.run_id, self.disk.report()["problem"])
        elif self.accepting:
            self._spawn(self._launch(start))
        else:  # sent before the server heard we are leaving: it re-dispatches
            log.info("leaving: run %d not started here", start.run_id)

    def _acknowledged(self, ack: p.Ack) -> None:
        key = (ack.run_id, ack.attempt)
        spool = self.held.get(key)
        if spool is not None and released(spool, ack):
            self.held.pop(key, None)
            self._sent.pop(key, None)
            self._released.set()
            # Emptying files is slow next to launching runs: keep it off the event loop.
            asyncio.get_running_loop().run_in_executor(_DISK, self.spool.release, spool)

    def mark(self, key: Key) -> None:
        """Something new to send for this attempt."""
        self._dirty.add(key)
        self._kick.set()

    # ---- executions ----------------------------------------------------------------
    def _record(
        self,
        spool: RunSpool,
        status: str,
        *,
        detail: str = "",
        exit_code: int | None = None,
        reason: str | None = None,
        process: ProcessRecord | None = None,
    ) -> None:
        state = p.StateChange(
            run_id=spool.run_id,
            attempt=spool.attempt,
            seq=spool.next_seq,
            status=status,
            at=self.clock.now(),
            detail=detail,
            exit_code=exit_code,
            reason=reason,
        )
        unwritten = spool.record_state(state, process)
        if unwritten is not None:  # held in memory, and sent all the same
            self._spool_trouble(unwritten, spool)
        self.mark((spool.run_id, spool.attempt))
        if status in ("SUCCESS", "FAILED", "TERMINATED"):
            # The outcome goes to disk for good off the event loop: the server may hear of it
            # first, which is fine, as the server stores before it acknowledges.
            asyncio.get_running_loop().run_in_executor(_DISK, _sync_quietly, spool)

    async def _finish(
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
        self._record(spool, status, detail=detail, exit_code=exit_code, reason=reason)

    async def _launch(self, start: p.StartRun) -> None:
        key = (start.run_id, start.attempt)
        if key in self.held:  # a re-sent dispatch: the states we have are re-sent instead
            self.mark(key)
            return
        accepted = p.StateChange(
            run_id=start.run_id,
            attempt=start.attempt,
            seq=1,
            status="STARTED",
            at=self.clock.now(),
            detail=f"accepted by {self.config.name}",
        )
        # Made here, not in a worker thread: with its folder made ahead (see Spool.prepare)
        # this is a rename and a write, cheaper than the hand-over to a thread.
        try:
            spool = self.spool.create(start.run_id, start.attempt, start.model_dump(), accepted)
        except OSError as exc:  # not accepted: the server dispatches it again
            self._spool_trouble(exc)
            log.warning("run %d not started: %s", start.run_id, describe(exc))
            return
        self.held[key] = spool
        self.mark(key)
        verdict = judge(start, self.config.policy)
        if verdict.refusal is not None:
            await self._finish(
                spool, "FAILED", reason=f"refused by agent policy: {verdict.refusal}"
            )
            return
        executor = self._process if start.image is None else self._docker
        if executor is None:
            await self._finish(
                spool,
                "FAILED",
                reason=f"launch error: Docker is not available on agent {self.config.name}",
            )
            return
        spec = RunSpec(
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
        )
        try:
            execution = await executor.start(spec, _SpoolSink(self, spool))
        except LaunchError as exc:
            await self._finish(spool, "FAILED", reason=f"launch error: {exc}")
            return
        await self._supervise(key, spool, execution)

    async def _supervise(self, key: Key, spool: RunSpool, execution: Execution) -> None:
        self.executions[key] = execution
        if key in self._lost_output:  # its output was refused before we held it
            self._spawn(self._stop_lost(key))
        try:
            outcome = await execution.wait()
        finally:
            self.executions.pop(key, None)
        if key not in self.held:  # abandoned at the server's request: nothing to report
            self._lost_output.pop(key, None)
            return
        lost = self._lost_output.pop(key, None)
        if lost is not None:
            await self._finish(spool, "FAILED", exit_code=outcome.exit_code, reason=lost)
            return
        if outcome.terminated:
            status = "TERMINATED"
        else:
            status = "SUCCESS" if outcome.succeeded else "FAILED"
        await self._finish(spool, status, exit_code=outcome.exit_code, reason=outcome.reason)

    async def _control(self, control: p.Control) -> None:
        key = (control.run_id, control.attempt)
        execution = self.executions.get(key)
        spool = self.held.get(key)
        if execution is None or spool is None:
            return
        if control.type == "kill":
            await execution.kill(control.grace_seconds)
        elif control.type == "pause" and spool.last_status == "RUNNING":
            await execution.pause()
            self._record(spool, "PAUSED", detail="paused by operator")
        elif control.type == "resume" and spool.last_status == "PAUSED":
            await execution.resume()
            self._record(spool, "RUNNING", detail="resumed by operator")

    def _output_lost(self, spool: RunSpool, exc: OSError) -> None:
        """The spool cannot keep the run's output: the run is stopped and ends FAILED (what
        was kept so far is still delivered)."""
        key = (spool.run_id, spool.attempt)
        self._lost_output[key] = f"{describe(exc)}: the run's output could not be kept"
        log.error(
            "run %s attempt %s stopped: %s", spool.run_id, spool.attempt, self._lost_output[key]
        )
        self._spool_trouble(exc)
        if key in self.executions:
            self._spawn(self._stop_lost(key))

    async def _stop_lost(self, key: Key) -> None:
        execution = self.executions.get(key)
        if execution is not None:
            await execution.kill(self.config.orphan_grace_seconds)

    async def _abandon(self, key: Key) -> None:
        execution = self.executions.get(key)
        if execution is not None:
            await execution.kill(5.0)
        spool = self.held.pop(key, None)
        if spool is not None:
            self.spool.release(spool)


class _SpoolSink:
    def __init__(self, agent: AgentProcess, spool: RunSpool) -> None:
        self._agent = agent
        self._spool = spool

    async def running(self, detail: str = "", *, pid: int | None = None) -> None:
        # The process group goes into the journal with RUNNING (one write): a later life of
        # the agent, or its watchdog, can end it.
        process = record_of(pid, self._agent.life) if pid is not None else None
        self._agent._record(self._spool, "RUNNING", detail=detail, process=process)

    async def output(self, stream: Stream, data: bytes) -> None:
        key = (self._spool.run_id, self._spool.attempt)
        if key in self._agent._lost_output:
            return  # being stopped: what it still prints is read and dropped
        try:
            self._spool.append_output(stream, data)
        except OSError as exc:
            self._agent._output_lost(self._spool, exc)
            return
        self._agent.mark(key)


def _sync_quietly(spool: RunSpool) -> None:
    with contextlib.suppress(OSError):  # the spool may be gone already (acknowledged)
        spool.sync()
    spool.close()


def _ws_url(server_url: str) -> str:
    base = server_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return base + "/api/v1/agents/connect"


def _compression(url: str) -> str | None:
    """Deflate pays off over a network; on loopback (the built-in agent) it only costs CPU."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return None
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            return None
    return "deflate"
