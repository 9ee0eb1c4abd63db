"""The server's side of agent connections: admits agents (one live connection per name),
keeps the live ones for dispatch, and sends them work. What they report is stored by
report_store (one transaction per batch), what their hello says by registration, and their
heartbeats by heartbeats (the whole fleet's in one transaction about once a second)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable

import anyio
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.clock import Clock
from app.domain.agent_identity import admit, identity_refusal
from app.domain.capacity import Allocation, Capacity, capacity_of
from app.domain.placement import AgentSlot
from app.domain.run_policy import reported_policy
from app.hub.admission import RefusalAudit, TokenGrant
from app.hub.connection import AgentConnection, peer_of
from app.hub.fleet import open_for_work
from app.hub.fleet import standing as fleet_standing
from app.hub.heartbeats import HeartbeatBook
from app.hub.output_store import OutputStore
from app.hub.registration import register
from app.hub.report_store import ReportSink, ReportStore
from app.protocol import frames as p

__all__ = ["AgentConnection", "AgentHub", "ReportSink"]

log = logging.getLogger("almanac.hub")

_BATCH = 500
# How often the heartbeats noted since the last flush are written, all in one transaction.
BEAT_FLUSH_SECONDS = 1.0
# How long a newcomer waits for a live connection under its name that is going anyway.
_HANDOVER_SECONDS = 2.0


class AgentHub:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        heartbeat_interval: float,
        reports: ReportSink,
        on_change: Callable[[], None] = lambda: None,
        beat_flush_seconds: float = BEAT_FLUSH_SECONDS,
    ) -> None:
        """`reports` applies an agent's state change to its run (the scheduler's lifecycle,
        handed in by the composition root: the hub imports no scheduler)."""
        self.engine = engine
        self.clock = clock
        self.heartbeat_interval = heartbeat_interval
        self.on_change = on_change
        self.connections: dict[str, AgentConnection] = {}
        self.beats = HeartbeatBook(engine, clock)
        self._store = ReportStore(engine, clock, reports, self.beats)
        self._refusals = RefusalAudit()
        self._capacities: dict[str, tuple[p.Hello, Capacity | None]] = {}
        self.beat_flush_seconds = beat_flush_seconds
        self._flusher: asyncio.Task[None] | None = None

    @property
    def refused_frames(self) -> Counter[str]:
        """Frames not taken (another agent's run, a settled attempt), by kind: never stored."""
        return self._store.refused_frames

    # ---- what dispatch sees --------------------------------------------------------
    def slots(
        self,
        running: dict[str, int],
        held: dict[str, Allocation] | None = None,
        session: Session | None = None,
    ) -> list[AgentSlot]:
        """Connected agents; draining comes from their rows (the truth for every replica),
        read in `session` when given (a dispatch pass's, not a transaction of its own);
        `held`: what each one's runs hold (dispatch.allocations)."""
        held = held or {}
        connections = dict(self.connections)
        # Also each one's problem: in the caller's transaction when it has one.
        standing = (
            open_for_work(self.engine, connections)
            if session is None
            else fleet_standing(session, connections)
        )
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
                capacity=self._capacity(c.hello),
                allocated=held.get(name) or Allocation(),
            )
            for name, c in connections.items()
        ]

    def _capacity(self, hello: p.Hello) -> Capacity | None:
        """What the agent offers, from its hello (read once per connection)."""
        known = self._capacities.get(hello.name)
        if known is not None and known[0] is hello:
            return known[1]
        offered = capacity_of(hello.resources) if "cpus" in hello.resources else None
        self._capacities[hello.name] = (hello, offered)
        return offered

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
            peer=peer_of(websocket),
            last_seen=self.clock.now(),
        )
        if not await self._admit(connection):
            return
        resume, stale = await anyio.to_thread.run_sync(
            lambda: register(self.engine, hello, outputs, now=self.clock.now())
        )
        self.connections[hello.name] = connection
        self._start_flusher()
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
            self.beats.forget(connection)
            if not self.connections:  # the last one: its beats written, the flusher ends
                await self.stop_flusher()

    # ---- heartbeats ------------------------------------------------------------------
    def _start_flusher(self) -> None:
        """The loop that writes the fleet's heartbeats runs while an agent is connected."""
        running = self._flusher
        loop = asyncio.get_running_loop()
        if running is None or running.done() or running.get_loop() is not loop:
            self._flusher = asyncio.create_task(self._flush_beats_forever())

    async def _flush_beats_forever(self) -> None:
        while True:
            await asyncio.sleep(self.beat_flush_seconds)
            await self.flush_beats()

    async def flush_beats(self) -> None:
        """Write the heartbeats noted since the last flush (one transaction), and drop the
        connections whose token no longer holds (revoked on another replica, expired). A
        failed write keeps the beats for the next flush."""
        if not self.beats.pending():
            return
        try:
            doomed = await anyio.to_thread.run_sync(self.beats.flush)
        except OperationalError as exc:  # the database busy or away: a warning, not a trace
            first = str(exc).splitlines()[0]
            log.warning("writing the fleet's heartbeats failed (%s): kept for the next", first)
            return
        except Exception:
            log.exception("writing the fleet's heartbeats failed: kept for the next flush")
            return
        for connection in doomed:
            if self.connections.get(connection.name) is not connection:
                continue
            log.warning("agent %s: its token no longer holds; disconnected", connection.name)
            await self._drop(
                connection, code=p.CLOSE_POLICY, reason="agent token revoked, expired or re-bound"
            )

    async def stop_flusher(self) -> None:
        """Stop the flush loop and write what is pending (server shutdown, last agent gone)."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None and flusher.get_loop() is asyncio.get_running_loop():
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        await self.flush_beats()

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
                elif isinstance(parsed, p.Heartbeat):
                    # Written with the fleet's within a second; a change of health at once.
                    if self.beats.note(connection, parsed):
                        connection.inbox.put_nowait(parsed)
                elif isinstance(parsed, p.StateChange | p.OutputManifest):
                    connection.inbox.put_nowait(parsed)

    async def _consume(self, connection: AgentConnection) -> None:
        while True:
            batch = [await connection.inbox.get()]
            while len(batch) < _BATCH and not connection.inbox.empty():
                batch.append(connection.inbox.get_nowait())
            try:
                acks, ended = await anyio.to_thread.run_sync(self._store.store, connection, batch)
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
