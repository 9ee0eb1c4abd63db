"""Server-Sent Events: a small streaming response (no extra package).

A stream sends what its source yields, a comment every `HEARTBEAT` seconds of silence (so
proxies keep it open and a vanished client is noticed), and ends after `LIFETIME` seconds:
the browser reconnects by itself (after `retry` ms, with Last-Event-ID) and the page resyncs.
A stream that ends on purpose says `bye` first, so the page can tell that reconnect from a
failure (app.js keeps it out of the console) and comes back at once.
The bounded lifetime also lets the server shut down promptly, since uvicorn waits for open
responses before it stops.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.web.events import Change, EventBus, Subscription

HEARTBEAT = 15.0
LIFETIME = 25.0
RETRY_MS = 800
# The planned end asks for a prompt reconnect (the page misses nothing meanwhile); a stream
# that fails otherwise is retried by the page with a growing delay (app.js).
BYE = b"retry: 20\nevent: bye\ndata: \n\n"


@dataclass(frozen=True, kw_only=True)
class ServerEvent:
    data: str = ""
    event: str | None = None
    id: str | None = None

    def encode(self) -> bytes:
        lines = []
        if self.event:
            lines.append(f"event: {self.event}")
        if self.id is not None:
            lines.append(f"id: {self.id}")
        lines += [f"data: {line}" for line in self.data.splitlines() or [""]]
        return ("\n".join(lines) + "\n\n").encode()


# A source yields events, or None when it has nothing to say for a while (a heartbeat).
Source = Callable[[float], AsyncIterator[ServerEvent | None]]


class EventStream(Response):
    """`source(deadline)` is an async generator; it may stop early, or at the monotonic
    `deadline` at the latest (the stream ends there anyway)."""

    media_type = "text/event-stream"

    def __init__(self, source: Source, *, lifetime: float = LIFETIME) -> None:
        """`lifetime`: seconds before the stream ends (the app's `state.sse_lifetime`)."""
        # Not Response.__init__: it would announce a Content-Length.
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),
        ]
        self._source = source
        self._lifetime = lifetime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        deadline = time.monotonic() + self._lifetime
        async with anyio.create_task_group() as group:

            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch_disconnect)
            try:
                await self._pump(send, deadline)
            except OSError:  # the client went away mid-send
                pass
            group.cancel_scope.cancel()

    async def _pump(self, send: Send, deadline: float) -> None:
        await _send(send, f"retry: {RETRY_MS}\n\n".encode())
        with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
            async for item in self._source(deadline):
                await _send(send, item.encode() if item else b": ping\n\n")
        await _send(send, BYE)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _send(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def changes(subscription: Subscription, deadline: float) -> AsyncIterator[Change]:
    """The subscription's changes until `deadline`; an empty Change after `HEARTBEAT` s of
    quiet (subscribe before reading the state the changes apply to, so none is missed)."""
    while (left := deadline - time.monotonic()) > 0:
        yield await subscription.next(min(HEARTBEAT, left))


def redraw_stream(
    bus: EventBus,
    seq: int,
    lifetime: float,
    every: float,
    relevant: Callable[[Change], Awaitable[bool]] | None = None,
) -> EventStream:
    """`changed` events for a page redrawn as a whole when runs or agents change: at most one
    every `every` seconds (changes gather in between), and one at once if the page drawn at
    `seq` is already stale. `relevant` drops the changes the viewer may not see
    (app/web/scoped_changes.py)."""

    async def source(deadline: float) -> AsyncIterator[ServerEvent | None]:
        last = 0.0
        with bus.subscribe() as subscription:
            if bus.seq != seq:
                yield ServerEvent(event="changed", data="1")
            async for change in changes(subscription, deadline):
                if not (change.runs or change.agents):
                    yield None
                    continue
                if relevant is not None and not await relevant(change):
                    continue
                wait = last + every - time.monotonic()
                if wait > 0:
                    await anyio.sleep(min(wait, max(0.0, deadline - time.monotonic())))
                last = time.monotonic()
                yield ServerEvent(event="changed", data="1")

    return EventStream(source, lifetime=lifetime)
