"""Operator controls (kill, pause, resume) reach an agent whichever replica holds its connection.

The replica that takes the request sends the control itself when the agent is connected to
it. Otherwise it publishes the intent on the change feed,
`control:<request>:<run>:<attempt>:<kind>:<agent>`; the replica holding the agent sends it
and answers `control-ack:<request>`. The asking replica waits a bounded time for that answer,
so it never reports a control that no agent received. With SQLite there is one server.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from enum import StrEnum

from app.hub.hub import AgentHub
from app.notify import ChangeFeed
from app.protocol.frames import Control

log = logging.getLogger("almanac.controls")
PREFIX = "control:"
ACK = "control-ack:"
WAIT_SECONDS = 3.0  # for the holding replica's answer: a NOTIFY round trip takes milliseconds


class Delivery(StrEnum):
    SENT = "sent"  # to the agent, by this replica
    RELAYED = "relayed"  # to the agent, by the replica holding its connection
    UNREACHABLE = "not reachable"  # no replica holds the agent's connection


def encode(request: str, agent: str, control: Control) -> str:
    return f"{PREFIX}{request}:{control.run_id}:{control.attempt}:{control.type}:{agent}"


def decode(message: str) -> tuple[str, str, Control] | None:
    """(request, agent, control) of a relayed control; the agent's name may hold colons."""
    if not message.startswith(PREFIX):
        return None
    try:
        request, run_id, attempt, kind, agent = message[len(PREFIX) :].split(":", 4)
        return (
            request,
            agent,
            Control.model_validate({"type": kind, "run_id": int(run_id), "attempt": int(attempt)}),
        )
    except ValueError:  # pydantic's errors are ValueErrors too
        return None


class ControlRelay:
    def __init__(
        self, hub: AgentHub, feed: ChangeFeed, *, wait_seconds: float = WAIT_SECONDS
    ) -> None:
        self.hub = hub
        self.feed = feed
        self.wait_seconds = wait_seconds
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        feed.subscribe(self._incoming)

    async def deliver(self, agent: str, control: Control) -> Delivery:
        """Send `control` to `agent` here, or through the replica that holds it; say which,
        or that none does (no answer within the bound)."""
        if await self.hub.send(agent, control):
            return Delivery.SENT
        if not self.feed.postgres:
            return Delivery.UNREACHABLE
        request = uuid.uuid4().hex
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[request] = answered
        try:
            self.feed.publish(encode(request, agent, control))
            async with asyncio.timeout(self.wait_seconds):
                await answered
            return Delivery.RELAYED
        except TimeoutError:
            return Delivery.UNREACHABLE
        finally:
            self._waiting.pop(request, None)

    async def tell(self, agent: str, control: Control) -> None:
        """Best effort, without waiting (a start that may still be on its way)."""
        if not await self.hub.send(agent, control) and self.feed.postgres:
            self.feed.publish(encode(uuid.uuid4().hex, agent, control))

    # ---- the change feed (event loop) ------------------------------------------------
    def _incoming(self, message: str) -> None:
        if message.startswith(ACK):
            answered = self._waiting.get(message[len(ACK) :])
            if answered is not None and not answered.done():
                answered.set_result(None)
            return
        relayed = decode(message)
        if relayed is not None and relayed[1] in self.hub.connections:
            task = asyncio.create_task(self._send_for_another(*relayed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_for_another(self, request: str, agent: str, control: Control) -> None:
        if await self.hub.send(agent, control):
            log.info(
                "run %d: %s relayed to agent %s",
                control.run_id,
                control.type,
                agent,
                extra={"run_id": control.run_id, "attempt": control.attempt, "agent": agent},
            )
            self.feed.publish(ACK + request)
