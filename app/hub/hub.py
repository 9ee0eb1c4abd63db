"""The server's side of agent connections: registers agents, stores what they report
(batched, one transaction per batch: log chunks, output files, states, heartbeats),
acknowledges it, and sends them work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import anyio
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.clock import Clock
from app.db.engine import session_scope
from app.db.logs import append_chunk, stored_size, stored_sizes
from app.db.tables import Agent, Run, RunEvent, RunOutput
from app.domain.agent_identity import (
    FrameKind,
    LiveConnection,
    RunFacts,
    admit,
    frame_refusal,
    identity_refusal,
)
from app.domain.placement import AgentSlot
from app.domain.run_policy import reported_policy
from app.domain.states import ON_AGENT, RunStatus
from app.hub.admission import RefusalAudit, TokenGrant, still_valid
from app.hub.fleet import connected_status, open_for_work, reported_resources
from app.hub.output_store import OutputStore, stored_counts
from app.protocol import frames as p
from app.protocol.output_names import UnsafeName

log = logging.getLogger("almanac.hub")

_BATCH = 500
_FINAL = {"SUCCESS", "FAILED", "TERMINATED"}
# How long a newcomer waits for a live connection under its name that is going anyway.
_HANDOVER_SECONDS = 2.0
Inbound = p.StateChange | p.Heartbeat | p.OutputManifest | bytes


@dataclass(eq=False)
class AgentConnection:
    name: str
    websocket: WebSocket
    hello: p.Hello
    outputs: OutputStore
    inbox: asyncio.Queue[Inbound] = field(default_factory=asyncio.Queue)
    leaving: bool = False  # said it is shutting down: no new work on this connection
    grant: TokenGrant | None = None  # the agent token it came in with
    peer: str = ""
    last_seen: datetime = field(default_factory=lambda: datetime.now(UTC))
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # no longer the live one
    refused: set[tuple[int, int, str]] = field(default_factory=set)  # logged once each
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def token_id(self) -> int | None:
        return self.grant.token_id if self.grant else None

    def live(self) -> LiveConnection:
        return LiveConnection(session=self.hello.session, last_seen=self.last_seen, peer=self.peer)

    async def send(self, message: p.ServerMessage) -> bool:
        try:
            async with self._lock:
                await self.websocket.send_text(message.model_dump_json())
            return True
        except (RuntimeError, WebSocketDisconnect, OSError):
            return False


class ReportSink(Protocol):
    """Applies one state change an agent reported; True when it ended the run."""

    def __call__(
        self, session: Session, change: p.StateChange, *, agent: str, now: datetime
    ) -> bool: ...


class AgentHub:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        heartbeat_interval: float,
        reports: ReportSink,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        """`reports` applies an agent's state change to its run (the scheduler's lifecycle,
        handed in by the composition root: the hub imports no scheduler)."""
        self.engine = engine
        self.reports = reports
        self.clock = clock
        self.heartbeat_interval = heartbeat_interval
        self.on_change = on_change
        self.connections: dict[str, AgentConnection] = {}
        # Frames not taken (another agent's run, a settled attempt), by kind: never stored.
        self.refused_frames: Counter[str] = Counter()
        self._count_lock = threading.Lock()  # batches of several agents are stored at once
        self._refusals = RefusalAudit()

    # ---- what dispatch sees --------------------------------------------------------
    def slots(self, running: dict[str, int]) -> list[AgentSlot]:
        """Connected agents; draining comes from their rows (the truth for every replica)."""
        connections = dict(self.connections)
        standing = open_for_work(self.engine, connections)  # also each one's problem
        return [
            AgentSlot(
                name=name,
                labels=c.hello.labels,
                max_runs=c.hello.max_runs,
                running=running.get(name, 0),
                docker=bool(c.hello.resources.get("docker")),
                problem=standing.get(name),
                draining=name not in standing or c.leaving,
                policy=reported_policy(c.hello.resources),
            )
            for name, c in connections.items()
        ]

    async def send(self, agent: str, message: p.ServerMessage) -> bool:
        connection = self.connections.get(agent)
        return connection is not None and await connection.send(message)

    async def disconnect(self, agent: str, *, code: int, reason: str) -> bool:
        connection = self.connections.get(agent)
        if connection is None:
            return False
        await self._drop(connection, code=code, reason=reason)
        return True

    async def disconnect_token(self, token_id: int, *, reason: str) -> list[str]:
        """Close every connection that came in with this agent token (revoked, expired)."""
        doomed = [c for c in list(self.connections.values()) if c.token_id == token_id]
        for connection in doomed:
            await self._drop(connection, code=p.CLOSE_POLICY, reason=reason)
        return [c.name for c in doomed]

    async def _drop(self, connection: AgentConnection, *, code: int, reason: str) -> None:
        """No more work from the moment we decide, not once the socket has closed."""
        self._forget(connection)
        with contextlib.suppress(RuntimeError, OSError):
            await connection.websocket.close(code=code, reason=reason)

    def _forget(self, connection: AgentConnection) -> None:
        if self.connections.get(connection.name) is connection:
            del self.connections[connection.name]
        connection.gone.set()

    # ---- one agent connection ------------------------------------------------------
    async def serve(self, websocket: WebSocket, outputs: OutputStore, grant: TokenGrant) -> None:
        try:
            hello = p.parse_agent_message(await websocket.receive_text())
        except WebSocketDisconnect:
            return
        except ValueError:  # not JSON, or not a valid message (pydantic's errors are ValueErrors)
            hello = None
        if not isinstance(hello, p.Hello):
            await websocket.close(code=1002, reason="expected hello")
            return
        connection = AgentConnection(
            name=hello.name,
            websocket=websocket,
            hello=hello,
            outputs=outputs,
            grant=grant,
            peer=_peer(websocket),
            last_seen=self.clock.now(),
        )
        if not await self._admit(connection):
            return
        resume, stale = await anyio.to_thread.run_sync(self._register, hello, outputs)
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
            self._forget(connection)
            await connection.inbox.join()  # what arrived is stored before we let go
            consumer.cancel()
            log.info("agent %s disconnected", hello.name)

    async def _admit(self, connection: AgentConnection) -> bool:
        """The token's identity, then one live connection per name (see agent_identity)."""
        name, grant = connection.name, connection.grant
        refusal = identity_refusal(grant.agent_name if grant else None, name)
        if refusal is not None:
            await self._refuse(connection, refusal)
            return False
        arrived = self.clock.now()
        previous = self.connections.get(name)
        verdict = admit(
            name,
            previous.live() if previous else None,
            session=connection.hello.session,
            now=arrived,
            heartbeat_interval=self.heartbeat_interval,
        )
        if previous is not None and verdict.verdict == "refuse":
            with contextlib.suppress(TimeoutError):  # one that is closing anyway goes first
                await asyncio.wait_for(previous.gone.wait(), _HANDOVER_SECONDS)
            previous = self.connections.get(name)
            if previous is None:
                verdict = admit(
                    name,
                    None,
                    session=connection.hello.session,
                    now=arrived,
                    heartbeat_interval=self.heartbeat_interval,
                )
        if verdict.verdict == "refuse":
            await self._refuse(connection, verdict.reason)
            return False
        if previous is not None and verdict.verdict == "replace":
            log.warning(
                "agent %s: connection from %s replaces the one from %s: %s",
                name,
                connection.peer,
                previous.peer,
                verdict.reason,
            )
            await self._audit(connection, verdict.reason, action="agent.connection_replaced")
            await self._drop(previous, code=1000, reason="replaced by a new connection")
        return True

    async def _refuse(self, connection: AgentConnection, reason: str) -> None:
        log.warning(
            "agent connection from %s as %s refused: %s", connection.peer, connection.name, reason
        )
        await self._audit(connection, reason, action="agent.connection_refused")
        with contextlib.suppress(RuntimeError, OSError):
            await connection.websocket.close(code=p.CLOSE_POLICY, reason=reason[:120])

    async def _audit(self, connection: AgentConnection, reason: str, *, action: str) -> None:
        grant = connection.grant
        if grant is None:
            return
        await anyio.to_thread.run_sync(
            lambda: self._refusals.write(
                self.engine,
                name=connection.name,
                grant=grant,
                reason=reason,
                source=connection.peer.rsplit(":", 1)[0] or None,
                now=self.clock.now(),
                action=action,
            )
        )

    async def _read(self, connection: AgentConnection) -> None:
        while True:
            message = await connection.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            connection.last_seen = self.clock.now()
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
            token_ok = True
            try:
                acks, ended, token_ok = await anyio.to_thread.run_sync(
                    self._store, connection, batch
                )
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
            if not token_ok:  # revoked on another replica, or expired: checked each heartbeat
                log.warning("agent %s: its token no longer holds; disconnected", connection.name)
                await self._drop(
                    connection, code=p.CLOSE_POLICY, reason="agent token revoked or expired"
                )

    # ---- storage (worker thread) ---------------------------------------------------
    def _register(
        self, hello: p.Hello, outputs: OutputStore
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
                refusal = frame_refusal(
                    _facts(run), agent=hello.name, attempt=held.attempt, kind="log"
                )
                if run is None or refusal is not None:
                    # Not this agent's to report on (or ended without it): it stops the run
                    # and lets go of it, and learns nothing of what is stored.
                    if run is not None:
                        log.warning(
                            "agent %s holds run %s attempt %s: abandoned: %s",
                            hello.name,
                            held.run_id,
                            held.attempt,
                            refusal,
                        )
                        _note_late(session, run, held, hello.name, now)
                    resume.append(p.Resume(run_id=held.run_id, attempt=held.attempt, abandon=True))
                    continue
                resume.append(
                    p.Resume(
                        run_id=held.run_id,
                        attempt=held.attempt,
                        stdout=stored_size(session, held.run_id, held.attempt, "stdout"),
                        stderr=stored_size(session, held.run_id, held.attempt, "stderr"),
                        seq=run.agent_seq,
                        outputs=outputs.sizes(held.run_id, held.attempt),
                    )
                )
                if RunStatus(run.status) not in ON_AGENT and held.status not in _FINAL:
                    stale.append((held.run_id, held.attempt))
        return resume, stale

    def _store(
        self, connection: AgentConnection, batch: list[Inbound]
    ) -> tuple[list[p.Ack], bool, bool]:
        """Store a batch; returns the acks, whether a run ended, and whether the connection's
        token still holds (asked at each heartbeat)."""
        agent = connection.name
        now = self.clock.now()
        finals: list[p.StateChange] = []  # the agent keeps their spools until our ack
        ended = False
        token_ok = True
        items = [self._decoded(connection, item) for item in batch]
        with session_scope(self.engine) as session:
            runs = _preload_runs(session, items)
            for item in items:
                if item is None:
                    continue
                if isinstance(item, p.Heartbeat):
                    _heartbeat(session, agent, item, now)
                    if connection.token_id is not None:
                        token_ok = token_ok and still_valid(session, connection.token_id, now)
                    continue
                if not self._taken(session, connection, runs.get(_ref(item)[0]), item):
                    continue
                if isinstance(item, tuple):
                    _store_frame(session, connection.outputs, *item)
                elif isinstance(item, p.OutputManifest):
                    connection.outputs.complete(session, item, now=now)
                else:
                    ended = self.reports(session, item, agent=agent, now=now) or ended
                    if item.status in _FINAL:
                        finals.append(item)
            session.flush()
            return _acks(session, finals), ended, token_ok

    def _decoded(self, connection: AgentConnection, item: Inbound) -> _Item | None:
        if not isinstance(item, bytes):
            return item
        try:
            return p.decode_frame(item)
        except ValueError as exc:
            self._count_refusal(connection, 0, 0, "frame", f"malformed binary frame: {exc}")
            return None

    def _taken(
        self, session: Session, connection: AgentConnection, run: Run | None, item: _Item
    ) -> bool:
        """Whether a frame is this agent's to send (see agent_identity.frame_refusal); a
        refusal is logged once per attempt and kind, counted, and never stored."""
        kind = _kind(item)
        run_id, attempt = _ref(item)
        refusal = frame_refusal(_facts(run), agent=connection.name, attempt=attempt, kind=kind)
        if (
            refusal is None
            and run is not None
            and isinstance(item, tuple)
            and isinstance(item[0], p.OutputHeader)
            and RunStatus(run.status) not in ON_AGENT
            and _output_stored(session, item[0])
        ):
            refusal = f"output {item[0].name!r} of run {run.id} is stored already"
        if refusal is None:
            return True
        self._count_refusal(connection, run_id, attempt, kind, refusal)
        return False

    def _count_refusal(
        self, connection: AgentConnection, run_id: int, attempt: int, kind: str, reason: str
    ) -> None:
        with self._count_lock:
            self.refused_frames[kind] += 1
            first = (run_id, attempt, kind) not in connection.refused
            connection.refused.add((run_id, attempt, kind))
        if first:
            log.warning("agent %s: %s frame refused: %s", connection.name, kind, reason)


_Item = p.StateChange | p.Heartbeat | p.OutputManifest | tuple[p.FrameHeader, bytes]


def _ref(item: _Item) -> tuple[int, int]:
    """(run id, attempt) an item is about ((0, 0) for a heartbeat)."""
    if isinstance(item, tuple):
        return item[0].run_id, item[0].attempt
    if isinstance(item, p.Heartbeat):
        return 0, 0
    return item.run_id, item.attempt


def _kind(item: _Item) -> FrameKind:
    if isinstance(item, tuple):
        return "log" if isinstance(item[0], p.LogHeader) else "output"
    return "manifest" if isinstance(item, p.OutputManifest) else "state"


def _facts(run: Run | None) -> RunFacts | None:
    if run is None:
        return None
    return RunFacts(
        run_id=run.id or 0,
        agent=run.agent,
        attempt=run.attempt,
        status=RunStatus(run.status),
        agent_ended_attempt=run.agent_ended_attempt,
    )


def _output_stored(session: Session, header: p.OutputHeader) -> bool:
    """A file with its row is complete and checked: no byte may be added to it."""
    return (
        session.exec(
            select(RunOutput.id).where(
                RunOutput.run_id == header.run_id,
                RunOutput.attempt == header.attempt,
                RunOutput.name == header.name,
            )
        ).first()
        is not None
    )


def _note_late(session: Session, run: Run, held: p.HeldRun, agent: str, now: datetime) -> None:
    """The agent's own attempt, ended without it (declared lost, say): what it reports of
    the end is kept on the timeline only, once."""
    if run.agent != agent or run.attempt != held.attempt:
        return
    if held.status in _FINAL and held.seq > run.agent_seq:
        run.agent_seq = held.seq
        session.add(
            RunEvent(
                run_id=run.id or 0,
                attempt=run.attempt,
                status=run.status,
                at=now,
                detail=f"agent reported {held.status} late; its output was not "
                "taken, the run had ended",
            )
        )


def _store_frame(
    session: Session, outputs: OutputStore, header: p.FrameHeader, data: bytes
) -> None:
    if isinstance(header, p.LogHeader):
        append_chunk(
            session,
            run_id=header.run_id,
            attempt=header.attempt,
            stream=header.stream,
            offset=header.offset,
            data=data,
        )
        return
    try:
        outputs.write(header, data)
    except (UnsafeName, OSError) as exc:
        # Never stored, so never counted: the agent keeps the file and tells again later.
        log.warning("run %s: output chunk of %r refused: %s", header.run_id, header.name, exc)


def _preload_runs(session: Session, items: list[_Item | None]) -> dict[int, Run]:
    """One query (and row lock) for every run the batch reports a state of, one more for
    the runs it has only bytes or manifests for, instead of one each. The caller holds on
    to the rows until it is done: unchanged rows would otherwise leave the session's
    identity map, and each would be loaded again by its own query."""
    states = {item.run_id for item in items if isinstance(item, p.StateChange)}
    others = {
        _ref(item)[0]
        for item in items
        if item is not None and not isinstance(item, p.StateChange | p.Heartbeat)
    }
    others -= states
    runs: dict[int, Run] = {}
    if states:
        stmt = select(Run).where(col(Run.id).in_(states)).with_for_update()
        runs.update((run.id or 0, run) for run in session.exec(stmt).all())
    if others:
        runs.update(
            (run.id or 0, run)
            for run in session.exec(select(Run).where(col(Run.id).in_(others))).all()
        )
    return runs


def _peer(websocket: WebSocket) -> str:
    client = websocket.client
    return f"{client.host}:{client.port}" if client else "unknown"


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
        p.Ack(
            run_id=change.run_id,
            attempt=change.attempt,
            seq=change.seq,
            stdout=sizes.get((change.run_id, change.attempt, "stdout"), 0),
            stderr=sizes.get((change.run_id, change.attempt, "stderr"), 0),
            done=True,
            outputs=counts.get((change.run_id, change.attempt), 0),
        )
        for change in finals
    ]


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None
