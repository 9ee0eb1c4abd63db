"""The server's side of agent connections: registers agents, stores what they report
(batched, one transaction per batch: log chunks, output files, states, heartbeats),
acknowledges it, and sends them work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import anyio
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.agents import protocol as p
from app.agents.fleet import connected_status, open_for_work, reported_resources
from app.agents.output_store import OutputStore, stored_counts
from app.agents.outputs import UnsafeName
from app.clock import Clock
from app.db.engine import session_scope
from app.db.logs import append_chunk, stored_size, stored_sizes
from app.db.tables import Agent, Run
from app.domain.states import TERMINAL, RunStatus
from app.scheduler.dispatch import AgentSlot
from app.scheduler.lifecycle import apply_state

log = logging.getLogger("almanac.hub")

_BATCH = 500
_FINAL = {"SUCCESS", "FAILED", "TERMINATED"}
Inbound = p.StateChange | p.Heartbeat | p.OutputManifest | bytes


@dataclass(eq=False)
class AgentConnection:
    name: str
    websocket: WebSocket
    hello: p.Hello
    outputs: OutputStore
    inbox: asyncio.Queue[Inbound] = field(default_factory=asyncio.Queue)
    leaving: bool = False  # said it is shutting down: no new work on this connection
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, message: p.ServerMessage) -> bool:
        try:
            async with self._lock:
                await self.websocket.send_text(message.model_dump_json())
            return True
        except (RuntimeError, WebSocketDisconnect, OSError):
            return False


class AgentHub:
    def __init__(self, engine: Engine, clock: Clock, *, heartbeat_interval: float,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.clock = clock
        self.heartbeat_interval = heartbeat_interval
        self.on_change = on_change
        self.connections: dict[str, AgentConnection] = {}

    # ---- what dispatch sees --------------------------------------------------------
    def slots(self, running: dict[str, int]) -> list[AgentSlot]:
        """Connected agents; draining comes from their rows (the truth for every replica)."""
        connections = dict(self.connections)
        standing = open_for_work(self.engine, connections)  # also each one's problem
        return [
            AgentSlot(name=name, labels=c.hello.labels, max_runs=c.hello.max_runs,
                      running=running.get(name, 0),
                      docker=bool(c.hello.resources.get("docker")),
                      problem=standing.get(name),
                      draining=name not in standing or c.leaving)
            for name, c in connections.items()
        ]

    async def send(self, agent: str, message: p.ServerMessage) -> bool:
        connection = self.connections.get(agent)
        return connection is not None and await connection.send(message)

    async def disconnect(self, agent: str, *, code: int, reason: str) -> bool:
        connection = self.connections.get(agent)
        if connection is None:
            return False
        with contextlib.suppress(RuntimeError, OSError):
            await connection.websocket.close(code=code, reason=reason)
        return True

    # ---- one agent connection ------------------------------------------------------
    async def serve(self, websocket: WebSocket, outputs: OutputStore) -> None:
        try:
            hello = p.parse_agent_message(await websocket.receive_text())
        except WebSocketDisconnect:
            return
        except ValueError:  # not JSON, or not a valid message (pydantic's errors are ValueErrors)
            hello = None
        if not isinstance(hello, p.Hello):
            await websocket.close(code=1002, reason="expected hello")
            return
        resume, stale = await anyio.to_thread.run_sync(self._register, hello, outputs)
        connection = AgentConnection(name=hello.name, websocket=websocket, hello=hello,
                                     outputs=outputs)
        previous = self.connections.get(hello.name)
        if previous is not None:
            with contextlib.suppress(RuntimeError, OSError):
                await previous.websocket.close(code=1000, reason="replaced by a new connection")
        self.connections[hello.name] = connection
        await connection.send(p.Welcome(heartbeat_interval=self.heartbeat_interval, resume=resume))
        for run_id, attempt in stale:
            await connection.send(p.Control(type="kill", run_id=run_id, attempt=attempt))
        log.info("agent %s connected", hello.name)
        self.on_change()
        consumer = asyncio.create_task(self._consume(connection))
        try:
            await self._read(connection)
        finally:
            if self.connections.get(hello.name) is connection:
                del self.connections[hello.name]
            await connection.inbox.join()  # what arrived is stored before we let go
            consumer.cancel()
            log.info("agent %s disconnected", hello.name)

    async def _read(self, connection: AgentConnection) -> None:
        while True:
            message = await connection.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                connection.inbox.put_nowait(message["bytes"])
            elif message.get("text") is not None:
                parsed = p.parse_agent_message(message["text"])
                if isinstance(parsed, p.Leaving):
                    connection.leaving = True
                    log.info("agent %s is leaving: no new work for it", connection.name)
                elif isinstance(parsed, p.StateBatch):
                    for change in parsed.states:
                        connection.inbox.put_nowait(change)
                elif isinstance(parsed, p.StateChange | p.Heartbeat | p.OutputManifest):
                    connection.inbox.put_nowait(parsed)

    async def _consume(self, connection: AgentConnection) -> None:
        while True:
            batch = [await connection.inbox.get()]
            while len(batch) < _BATCH and not connection.inbox.empty():
                batch.append(connection.inbox.get_nowait())
            try:
                acks, ended = await anyio.to_thread.run_sync(self._store, connection, batch)
            except Exception:
                log.exception("storing a batch from agent %s failed", connection.name)
                # Drop the connection: the agent reconnects and resends from what is stored.
                with contextlib.suppress(RuntimeError, OSError):
                    await connection.websocket.close(code=1011)
                acks, ended = [], False
            finally:
                for _ in batch:
                    connection.inbox.task_done()
            if ended:  # a slot or a downstream run may be free: dispatch before acking
                self.on_change()
            if len(acks) == 1:
                await connection.send(acks[0])
            elif acks:
                await connection.send(p.AckBatch(acks=acks))

    # ---- storage (worker thread) ---------------------------------------------------
    def _register(self, hello: p.Hello, outputs: OutputStore
                  ) -> tuple[list[p.Resume], list[tuple[int, int]]]:
        now = self.clock.now()
        resume: list[p.Resume] = []
        stale: list[tuple[int, int]] = []
        with session_scope(self.engine) as session:
            agent = session.exec(select(Agent).where(Agent.name == hello.name)).first()
            if agent is None:
                agent = Agent(name=hello.name, created_at=now)
                session.add(agent)
            _apply_hello(agent, hello, now)
            for held in hello.runs:
                run = session.get(Run, held.run_id)
                if run is None:
                    resume.append(p.Resume(run_id=held.run_id, attempt=held.attempt,
                                           abandon=True))
                    continue
                current = run.attempt == held.attempt and run.agent == hello.name
                resume.append(p.Resume(
                    run_id=held.run_id, attempt=held.attempt,
                    stdout=stored_size(session, held.run_id, held.attempt, "stdout"),
                    stderr=stored_size(session, held.run_id, held.attempt, "stderr"),
                    seq=run.agent_seq if current else 0,
                    outputs=outputs.sizes(held.run_id, held.attempt),
                ))
                expected = current and RunStatus(run.status) not in TERMINAL
                if not expected and held.status not in _FINAL:
                    stale.append((held.run_id, held.attempt))
        return resume, stale

    def _store(self, connection: AgentConnection, batch: list[Inbound]
               ) -> tuple[list[p.Ack], bool]:
        agent = connection.name
        now = self.clock.now()
        finals: list[p.StateChange] = []  # the agent keeps their spools until our ack
        ended = False
        with session_scope(self.engine) as session:
            _held = _preload_runs(session, batch)  # the session only keeps weak references
            for item in batch:
                if isinstance(item, bytes):
                    _store_frame(session, connection.outputs, item)
                elif isinstance(item, p.OutputManifest):
                    connection.outputs.complete(session, item, now=now)
                elif isinstance(item, p.StateChange):
                    ended = apply_state(session, item, agent=agent, now=now) or ended
                    if item.status in _FINAL:
                        finals.append(item)
                else:
                    _heartbeat(session, agent, item, now)
            session.flush()
            return _acks(session, finals), ended


def _store_frame(session: Session, outputs: OutputStore, frame: bytes) -> None:
    header, data = p.decode_frame(frame)
    if isinstance(header, p.LogHeader):
        append_chunk(session, run_id=header.run_id, attempt=header.attempt,
                     stream=header.stream, offset=header.offset, data=data)
        return
    try:
        outputs.write(header, data)
    except (UnsafeName, OSError) as exc:
        # Never stored, so never counted: the agent keeps the file and tells again later.
        log.warning("run %s: output chunk of %r refused: %s", header.run_id, header.name, exc)


def _preload_runs(session: Session, batch: list[Inbound]) -> list[Run]:
    """One query (and row lock) for every run the batch reports on, instead of one each.
    The caller holds on to the list until it is done: unchanged rows would otherwise leave
    the session's identity map, and each would be loaded again by its own query."""
    ids = {item.run_id for item in batch if isinstance(item, p.StateChange)}
    if not ids:
        return []
    return list(session.exec(select(Run).where(col(Run.id).in_(ids)).with_for_update()).all())


def _apply_hello(agent: Agent, hello: p.Hello, now: datetime) -> None:
    agent.status = connected_status(agent)
    agent.labels = hello.labels
    agent.version = hello.version
    agent.max_runs = hello.max_runs
    agent.resources = reported_resources(agent, hello.resources)
    agent.cpus = _int(hello.resources.get("cpus"))
    agent.memory = _int(hello.resources.get("memory_total"))
    gpus = hello.resources.get("gpus")
    agent.gpus = gpus if isinstance(gpus, list) else []
    agent.docker = bool(hello.resources.get("docker"))
    agent.last_heartbeat = now


def _heartbeat(session: Session, name: str, beat: p.Heartbeat, now: datetime) -> None:
    agent = session.exec(select(Agent).where(Agent.name == name)).first()
    if agent is None:
        return
    agent.last_heartbeat = now
    if agent.status == "offline":
        agent.status = connected_status(agent)
    if beat.resources:
        agent.resources = reported_resources(agent, beat.resources)


def _acks(session: Session, finals: list[p.StateChange]) -> list[p.Ack]:
    """What is stored of each ended attempt (logs, files), for all of them in two queries."""
    run_ids = {change.run_id for change in finals}
    sizes = stored_sizes(session, run_ids)
    counts = stored_counts(session, run_ids)
    return [
        p.Ack(run_id=change.run_id, attempt=change.attempt, seq=change.seq,
              stdout=sizes.get((change.run_id, change.attempt, "stdout"), 0),
              stderr=sizes.get((change.run_id, change.attempt, "stderr"), 0),
              done=True, outputs=counts.get((change.run_id, change.attempt), 0))
        for change in finals
    ]


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None
