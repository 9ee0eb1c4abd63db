"""A scripted agent in the caller's own event loop, for tests and simulations.

It speaks the real frames (`app/protocol/frames.py`) through the server's real agent route
(`/api/v1/agents/connect`: token admission, the hub's registration, its report store), over
in-memory ASGI messages instead of a socket. With the scheduler stepped by hand
(`fire_once`, `dispatch_once`, `maintenance_once`) and a frozen clock, a run's whole life —
dispatched, accepted, reported, lost, expired, retried — takes milliseconds.

    agent = FakeAgent(app, hub, token=agent_token(engine, "fake", now), name="fake", clock=clock)
    await agent.connect()
    await scheduler.dispatch_once(now)
    await agent.settle()                    # the start arrived and STARTED, RUNNING are stored
    await agent.finish(run_id, exit_code=0)  # SUCCESS, stored and acknowledged

What a start gets is its script `on_start`: the states reported at once (default STARTED then
RUNNING; empty: the start is never acknowledged and expires). `vanish()` drops the connection
without a word, as a killed agent does: the maintenance pass declares it lost once its
heartbeat timeout has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from starlette.types import ASGIApp, Message

from app.clock import Clock
from app.db.engine import session_scope
from app.db.tables import AgentToken
from app.hub.hub import AgentHub
from app.protocol import frames as p
from app.security import hash_token, new_token

ACCEPT = (p.AgentState.STARTED, p.AgentState.RUNNING)
DEAF: tuple[p.AgentState, ...] = ()  # never acknowledges a start
CONNECT_PATH = "/api/v1/agents/connect"


class Refused(Exception):
    """The server closed the connection instead of welcoming the agent."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"refused ({code}): {reason}")
        self.code, self.reason = code, reason


def agent_token(engine: Engine, agent: str, now: datetime) -> str:
    """A fresh agent token bound to `agent`, as `POST /agents/tokens` makes one."""
    token = new_token("alm_agent")
    with session_scope(engine) as session:
        session.add(
            AgentToken(name=agent, agent_name=agent, token_hash=hash_token(token), created_at=now)
        )
    return token


class FakeAgent:
    def __init__(
        self,
        app: ASGIApp,
        hub: AgentHub,
        *,
        token: str,
        name: str,
        clock: Clock,
        on_start: Sequence[p.AgentState] = ACCEPT,
        labels: dict[str, str] | None = None,
        max_runs: int | None = None,
        resources: dict[str, Any] | None = None,
    ) -> None:
        self.app, self.hub, self.clock = app, hub, clock
        self.name, self.token = name, token
        self.on_start = tuple(on_start)
        self.hello = p.Hello(
            name=name,
            version="fake",
            labels=labels or {},
            max_runs=max_runs,
            resources=resources or {"docker": False},
        )
        self.starts: list[p.StartRun] = []  # every start received, in order
        self.controls: list[p.Control] = []  # kill, pause, resume received
        self.acks: list[p.Ack] = []  # what the server acknowledged as stored
        self.closed: tuple[int, str] | None = None
        self._seq: dict[tuple[int, int], int] = {}
        self._to_server: asyncio.Queue[Message] = asyncio.Queue()
        self._from_server: asyncio.Queue[Message] = asyncio.Queue()
        self._welcome: asyncio.Future[p.Welcome] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ---- the connection ---------------------------------------------------------------
    async def connect(self) -> p.Welcome:
        """Dial, say hello and wait for the welcome (raises Refused when closed instead)."""
        self._welcome = asyncio.get_running_loop().create_future()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": CONNECT_PATH,
            "raw_path": CONNECT_PATH.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"authorization", f"Bearer {self.token}".encode())],
            "client": ("fake-agent", 0),
            "server": ("almanac", 80),
            "subprotocols": [],
            "state": {},
        }
        self._tasks = [
            asyncio.create_task(self._serve(scope)),
            asyncio.create_task(self._read()),
        ]
        self._to_server.put_nowait({"type": "websocket.connect"})
        self._send_text(self.hello.model_dump_json())
        return await self._welcome

    async def vanish(self) -> None:
        """The connection drops without a word (a killed agent, a cut cable)."""
        await self._hang_up(code=1006)

    async def close(self) -> None:
        """A clean goodbye: the server sees the socket close."""
        await self._hang_up(code=1000)

    async def _hang_up(self, *, code: int) -> None:
        if not self._tasks:
            return  # never connected, or hung up already
        self._to_server.put_nowait({"type": "websocket.disconnect", "code": code})
        serving, reading = self._tasks
        self._tasks = []
        with contextlib.suppress(asyncio.CancelledError):
            await serving  # the hub stores what arrived before it lets go
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading

    # ---- what the agent says ----------------------------------------------------------
    async def report(
        self,
        run_id: int,
        status: p.AgentState,
        *,
        attempt: int | None = None,
        exit_code: int | None = None,
        reason: str | None = None,
        detail: str = "",
        results: dict[str, Any] | None = None,
    ) -> None:
        """Report a state of an attempt (the latest one started when not given), and wait
        until the server has stored it. `results`: what its results file said (an end)."""
        self._say_state(
            run_id, attempt or self._attempt_of(run_id), status, exit_code, reason, detail, results
        )
        await self.settle()

    async def finish(
        self,
        run_id: int,
        *,
        exit_code: int = 0,
        attempt: int | None = None,
        results: dict[str, Any] | None = None,
    ) -> None:
        """The process ended: SUCCESS for exit code 0, else FAILED with `exit code N`;
        `results` as its $ALMANAC_RESULTS file gave them."""
        if exit_code == 0:
            await self.report(
                run_id, p.AgentState.SUCCESS, attempt=attempt, exit_code=0, results=results
            )
        else:
            await self.report(
                run_id,
                p.AgentState.FAILED,
                attempt=attempt,
                exit_code=exit_code,
                reason=f"exit code {exit_code}",
                results=results,
            )

    async def heartbeat(self, *, flush: bool = True) -> None:
        """A heartbeat, noted by the hub; with `flush`, written at once (as the hub's next
        flush of the fleet's beats would within a second)."""
        self._send_text(p.Heartbeat(resources=self.hello.resources).model_dump_json())
        await self.settle()
        if flush:
            await self.hub.flush_beats()

    async def settle(self) -> None:
        """Wait until the server has taken and stored everything sent, and this agent has
        handled everything the server answered (starts, acks), until both sides are still."""
        while True:
            await self._to_server.join()  # the hub's reader has it in its inbox
            connection = self.hub.connections.get(self.name)
            if connection is not None:
                await connection.inbox.join()  # stored, one transaction per batch
            await asyncio.sleep(0)  # the hub's answers (acks) go out after the store
            await self._from_server.join()  # starts answered by their script
            if self._to_server.empty() and self._from_server.empty():
                return

    def _attempt_of(self, run_id: int) -> int:
        attempts = [s.attempt for s in self.starts if s.run_id == run_id]
        if not attempts:
            raise LookupError(f"{self.name} was never sent run {run_id}")
        return attempts[-1]

    def _say_state(
        self,
        run_id: int,
        attempt: int,
        status: p.AgentState,
        exit_code: int | None = None,
        reason: str | None = None,
        detail: str = "",
        results: dict[str, Any] | None = None,
    ) -> None:
        seq = self._seq.get((run_id, attempt), 0) + 1
        self._seq[(run_id, attempt)] = seq
        change = p.StateChange(
            run_id=run_id,
            attempt=attempt,
            seq=seq,
            status=status,
            at=self.clock.now(),
            exit_code=exit_code,
            reason=reason,
            detail=detail,
            results=results,
        )
        self._send_text(change.model_dump_json())

    def _send_text(self, text: str) -> None:
        self._to_server.put_nowait({"type": "websocket.receive", "text": text})

    # ---- the in-memory transport ------------------------------------------------------
    async def _serve(self, scope: dict[str, Any]) -> None:
        async def receive() -> Message:
            message = await self._to_server.get()
            self._to_server.task_done()
            return message

        async def send(message: Message) -> None:
            self._from_server.put_nowait(message)

        await self.app(scope, receive, send)

    async def _read(self) -> None:
        while True:
            message = await self._from_server.get()
            try:
                self._handle(message)
            finally:
                self._from_server.task_done()

    def _handle(self, message: Message) -> None:
        if message["type"] == "websocket.close":
            self.closed = (message.get("code", 1000), message.get("reason", ""))
            if self._welcome is not None and not self._welcome.done():
                self._welcome.set_exception(Refused(*self.closed))
            return
        if message["type"] != "websocket.send" or message.get("text") is None:
            return  # websocket.accept; the server sends agents no binary frames
        frame = p.parse_server_message(message["text"])
        if isinstance(frame, p.Welcome):
            if self._welcome is not None and not self._welcome.done():
                self._welcome.set_result(frame)
        elif isinstance(frame, p.StartRun | p.StartBatch):
            for start in frame.runs if isinstance(frame, p.StartBatch) else [frame]:
                self.starts.append(start)
                for status in self.on_start:
                    self._say_state(start.run_id, start.attempt, status)
        elif isinstance(frame, p.Control):
            self.controls.append(frame)
        elif isinstance(frame, p.Ack):
            self.acks.append(frame)
        elif isinstance(frame, p.AckBatch):
            self.acks.extend(frame.acks)
