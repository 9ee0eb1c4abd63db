"""One agent's live WebSocket connection, as the hub keeps it: who it is, what it said in
its hello, its inbox of reports waiting to be stored, and a send that never raises."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.websockets import WebSocket, WebSocketDisconnect

from app.domain.agent_identity import LiveConnection
from app.hub.admission import TokenGrant
from app.hub.output_store import OutputStore
from app.protocol import frames as p

# What the reader hands the consumer: binary frames are decoded when the batch is stored
# (heartbeats go to the hub's HeartbeatBook; only one that changes the agent's health too).
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


def peer_of(websocket: WebSocket) -> str:
    client = websocket.client
    return f"{client.host}:{client.port}" if client else "unknown"
