"""The agent's connection to the server: dialling, the hello, and one session's loops.

Each session starts with `hello` (what the agent holds) and the server's `welcome` (how far
it has each attempt); then the agent receives starts, controls and acks, sends what it holds
and beats until the connection ends, and dials again with a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from app import __version__
from app.agents.agent_config import AgentConfig
from app.agents.agent_health import SpoolHealth
from app.agents.agent_outbox import Outbox
from app.agents.agent_runs import RunSupervisor, Spawn
from app.protocol import frames as p

log = logging.getLogger("almanac.agent")


class ServerLink:
    def __init__(
        self,
        config: AgentConfig,
        *,
        outbox: Outbox,
        runs: RunSupervisor,
        health: SpoolHealth,
        resources: Callable[[], dict[str, object]],
        spawn: Spawn,
        session_id: str,
    ) -> None:
        self._config = config
        self._outbox = outbox
        self._runs = runs
        self._health = health
        self._resources = resources
        self._spawn = spawn
        self._session_id = session_id  # this process's life, told in every hello
        self._interval = config.heartbeat_interval  # until the server's welcome says
        self._ws: ClientConnection | None = None
        self.connected = asyncio.Event()
        self.stopping = asyncio.Event()

    def _report(self) -> dict[str, Any]:
        return {**self._resources(), **self._health.disk.report()}

    async def connect_forever(self) -> None:
        backoff = 0.2
        url = _ws_url(self._config.server_url)
        headers = {"Authorization": f"Bearer {self._config.token}"}
        while not self.stopping.is_set():
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
                                self._config.name,
                            )
                            self.stopping.set()
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
                    await self.stopping.wait()
            backoff = min(backoff * 2, 5.0)

    async def say_leaving(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(WebSocketException, OSError):
                await self._ws.send(p.Leaving().model_dump_json())

    # ---- one connection ------------------------------------------------------------
    async def _session(self, ws: ClientConnection) -> None:
        hello = p.Hello(
            name=self._config.name,
            labels=self._config.labels,
            version=__version__,
            max_runs=self._config.max_runs,
            resources=self._report(),
            runs=self._outbox.held_runs(),
            session=self._session_id,
        )
        await ws.send(hello.model_dump_json())
        welcome = p.parse_server_message(str(await ws.recv()))
        assert isinstance(welcome, p.Welcome)
        self._interval = welcome.heartbeat_interval or self._config.heartbeat_interval
        self._outbox.forget_sent()
        for resume in welcome.resume:
            self._outbox.resumed(resume)
            if resume.abandon:
                await self._runs.abandon((resume.run_id, resume.attempt))
        self._ws = ws
        if not self._runs.accepting:  # reconnected while shutting down
            await self.say_leaving()
        self.connected.set()
        self._outbox.resend_all()
        tasks = [
            asyncio.create_task(self._receive(ws)),
            asyncio.create_task(self._outbox.send_forever(ws)),
            asyncio.create_task(self._heartbeat(ws)),
            asyncio.create_task(self.stopping.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self._ws = None
            for task in tasks:
                task.cancel()

    async def _heartbeat(self, ws: ClientConnection) -> None:
        beat_now = self._health.beat
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await beat_now.wait()  # or at once when the agent's health changed
            beat_now.clear()
            beat = p.Heartbeat(resources=self._report(), runs=self._outbox.held_runs())
            await ws.send(beat.model_dump_json())

    async def _receive(self, ws: ClientConnection) -> None:
        async for frame in ws:
            if isinstance(frame, bytes):
                continue
            message = p.parse_server_message(frame)
            if isinstance(message, p.StartRun):
                self._runs.accept(message)
            elif isinstance(message, p.StartBatch):
                for start in message.runs:
                    self._runs.accept(start)
            elif isinstance(message, p.Control):
                self._spawn(self._runs.control(message))
            elif isinstance(message, p.Ack):
                self._outbox.acknowledged(message)
            elif isinstance(message, p.AckBatch):
                for ack in message.acks:
                    self._outbox.acknowledged(ack)


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
