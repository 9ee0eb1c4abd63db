"""The agent process: dials the server, runs what it is sent, and never drops a byte.

Everything an execution produces goes to the spool first; a single sender pulls from the
spool up to what the server has acknowledged, so a reconnect simply resumes from the
server's positions (sent in `welcome`) with no loss and no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from app import __version__
from app.agents import protocol as p
from app.agents.executors.base import Execution, Executor, LaunchError, RunSpec, Stream
from app.agents.spool import STREAMS, RunSpool, Spool
from app.clock import Clock, SystemClock

log = logging.getLogger("almanac.agent")

_SEND_SIZE = 256 * 1024
Key = tuple[int, int]


@dataclass
class _Sent:
    stdout: int = 0
    stderr: int = 0
    seq: int = 0


@dataclass(frozen=True, kw_only=True)
class AgentConfig:
    server_url: str
    token: str
    name: str
    data_dir: Path
    labels: dict[str, str]
    max_runs: int | None = None
    heartbeat_interval: float = 5.0


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
        self._resources = resources
        self.held: dict[Key, RunSpool] = {}
        self.executions: dict[Key, Execution] = {}
        self._sent: dict[Key, _Sent] = {}
        self._kick = asyncio.Event()
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()

    # ---- lifecycle -------------------------------------------------------------------
    def recover(self) -> None:
        """Load the spool left by a previous life; unfinished host processes are lost."""
        for spool in self.spool.load_all():
            self.held[(spool.run_id, spool.attempt)] = spool
            if not spool.finished:
                self._record(spool, "FAILED", reason="agent restarted: process lost",
                             detail="the agent restarted while this run was executing")

    async def run_forever(self) -> None:
        self.recover()
        backoff = 0.2
        url = _ws_url(self.config.server_url)
        headers = {"Authorization": f"Bearer {self.config.token}"}
        while not self._stopping.is_set():
            try:
                async with connect(url, additional_headers=headers, max_size=None,
                                   ping_interval=10, ping_timeout=20) as ws:
                    await self._session(ws)
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

    # ---- one connection ------------------------------------------------------------
    async def _session(self, ws: ClientConnection) -> None:
        hello = p.Hello(
            name=self.config.name, labels=self.config.labels, version=__version__,
            max_runs=self.config.max_runs, resources=self._resources(), runs=self._held_runs(),
        )
        await ws.send(hello.model_dump_json())
        welcome = p.parse_server_message(str(await ws.recv()))
        assert isinstance(welcome, p.Welcome)
        self._sent = {}
        for resume in welcome.resume:
            key = (resume.run_id, resume.attempt)
            self._sent[key] = _Sent(resume.stdout, resume.stderr, resume.seq)
            if resume.abandon:
                await self._abandon(key)
        self.connected.set()
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
            for task in tasks:
                task.cancel()

    def _held_runs(self) -> list[p.HeldRun]:
        return [
            p.HeldRun(run_id=s.run_id, attempt=s.attempt, status=s.last_status or "STARTED",
                      seq=s.states[-1].seq if s.states else 0)
            for s in self.held.values()
        ]

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            beat = p.Heartbeat(resources=self._resources(), runs=self._held_runs())
            await ws.send(beat.model_dump_json())

    async def _send_loop(self, ws: ClientConnection) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            for key, spool in list(self.held.items()):
                await self._flush(ws, key, spool)

    async def _flush(self, ws: ClientConnection, key: Key, spool: RunSpool) -> None:
        sent = self._sent.setdefault(key, _Sent())
        for stream in STREAMS:
            while (position := getattr(sent, stream)) < spool.size(stream):
                data = spool.read_output(stream, position, _SEND_SIZE)
                header = p.LogHeader(run_id=spool.run_id, attempt=spool.attempt,
                                     stream=stream, offset=position)
                await ws.send(p.encode_log(header, data))
                setattr(sent, stream, position + len(data))
        for state in spool.states:
            if state.seq > sent.seq:
                await ws.send(state.model_dump_json())
                sent.seq = state.seq

    async def _receive(self, ws: ClientConnection) -> None:
        async for frame in ws:
            if isinstance(frame, bytes):
                continue
            message = p.parse_server_message(frame)
            if isinstance(message, p.StartRun):
                asyncio.create_task(self._launch(message))
            elif isinstance(message, p.Control):
                asyncio.create_task(self._control(message))
            elif isinstance(message, p.Ack):
                self._acknowledged(message)

    def _acknowledged(self, ack: p.Ack) -> None:
        key = (ack.run_id, ack.attempt)
        spool = self.held.get(key)
        if spool is None or not ack.done or not spool.finished:
            return
        if ack.stdout >= spool.size("stdout") and ack.stderr >= spool.size("stderr"):
            self.held.pop(key, None)
            self._sent.pop(key, None)
            # Deleting files is slow next to launching runs: keep it off the event loop.
            asyncio.get_running_loop().run_in_executor(None, spool.remove)

    # ---- executions ----------------------------------------------------------------
    def _record(self, spool: RunSpool, status: str, *, detail: str = "",
                exit_code: int | None = None, reason: str | None = None) -> None:
        state = p.StateChange(run_id=spool.run_id, attempt=spool.attempt, seq=spool.next_seq,
                              status=status, at=self.clock.now(), detail=detail,
                              exit_code=exit_code, reason=reason)
        spool.record_state(state)
        self._kick.set()

    async def _launch(self, start: p.StartRun) -> None:
        key = (start.run_id, start.attempt)
        if key in self.held:  # a re-sent dispatch: the states we have are re-sent instead
            self._kick.set()
            return
        spool = self.spool.create(start.run_id, start.attempt, start.model_dump())
        self.held[key] = spool
        self._record(spool, "STARTED", detail=f"accepted by {self.config.name}")
        executor = self._process if start.image is None else self._docker
        if executor is None:
            self._record(spool, "FAILED", reason="launch error: Docker is not available on "
                         f"agent {self.config.name}")
            return
        spec = RunSpec(
            run_id=start.run_id, attempt=start.attempt, command=start.command,
            output_dir=spool.output_dir, image=start.image, env=start.env,
            workdir=start.workdir, run_as_user=start.run_as_user, cpus=start.cpus,
            memory=start.memory, gpus=tuple(start.gpus), mounts=tuple(start.mounts),
            max_run_seconds=start.max_run_seconds,
        )
        try:
            execution = await executor.start(spec, _SpoolSink(self, spool))
        except LaunchError as exc:
            self._record(spool, "FAILED", reason=f"launch error: {exc}")
            return
        self.executions[key] = execution
        try:
            outcome = await execution.wait()
        finally:
            self.executions.pop(key, None)
        if key not in self.held:  # abandoned at the server's request: nothing to report
            return
        if outcome.terminated:
            status = "TERMINATED"
        else:
            status = "SUCCESS" if outcome.succeeded else "FAILED"
        self._record(spool, status, exit_code=outcome.exit_code, reason=outcome.reason)

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

    async def _abandon(self, key: Key) -> None:
        execution = self.executions.get(key)
        if execution is not None:
            await execution.kill(5.0)
        spool = self.held.pop(key, None)
        if spool is not None:
            spool.remove()


class _SpoolSink:
    def __init__(self, agent: AgentProcess, spool: RunSpool) -> None:
        self._agent = agent
        self._spool = spool

    async def running(self, detail: str = "") -> None:
        self._agent._record(self._spool, "RUNNING", detail=detail)

    async def output(self, stream: Stream, data: bytes) -> None:
        self._spool.append_output(stream, data)
        self._agent._kick.set()


def _ws_url(server_url: str) -> str:
    base = server_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://"):]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://"):]
    return base + "/api/v1/agents/connect"
