"""The live stream of one run's page: its status redrawn when the run changes, and the new
output of both streams as it is stored (resumable: the event id says where the page is)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio

from app.context import AppContext
from app.db.engine import session_scope
from app.services.logtail import StreamTail
from app.web.calls import Calls
from app.web.events import EventBus
from app.web.run_view import load_run
from app.web.sse import ServerEvent, changes
from app.web.templating import iso_instant, render_fragment


@dataclass(frozen=True)
class Position:
    attempt: int
    stdout: int  # bytes the page has of each stream
    stderr: int


def resume_position(last_event_id: str, attempt: int, out: int, err: int) -> Position:
    """Where the page stands: its Last-Event-ID ("attempt:out:err") after a reconnect."""
    parts = last_event_id.split(":")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return Position(int(parts[0]), int(parts[1]), int(parts[2]))
    return Position(attempt, out, err)


@dataclass
class RunFeed:
    api: Calls
    context: AppContext
    bus: EventBus
    run_id: int
    version: int  # timeline events the page shows
    position: Position
    tails: dict[str, StreamTail] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tails = {
            "stdout": StreamTail(self.position.stdout),
            "stderr": StreamTail(self.position.stderr),
        }

    def event_id(self) -> str:
        return (
            f"{self.position.attempt}:{self.tails['stdout'].offset}:{self.tails['stderr'].offset}"
        )

    async def events(self, deadline: float) -> AsyncIterator[ServerEvent | None]:
        with self.bus.subscribe() as subscription:  # before reading: nothing slips between
            for first in await self._status() + await self._output():
                yield first
                if first.event == "reload":
                    return
            async for change in changes(subscription, deadline):
                if not change:
                    yield None
                    continue
                out = await self._output() if self.run_id in change.logs else []
                out += await self._status() if self.run_id in change.runs else []
                for event in out:
                    yield event
                    if event.event == "reload":
                        return

    async def _status(self) -> list[ServerEvent]:
        view = await load_run(self.api, self.context, self.run_id)
        if view.run.attempt != self.position.attempt:  # a retry began: the page starts over
            return [ServerEvent(event="reload", id=self.event_id(), data="attempt")]
        if view.version == self.version:
            return []
        self.version = view.version
        html = render_fragment(
            "run_detail/_status.html",
            {"view": view, "oob": True},
            session=self.api.session,
            now=self.context.clock.now(),
        )
        return [ServerEvent(event="status", id=self.event_id(), data=html)]

    async def _output(self) -> list[ServerEvent]:
        return await anyio.to_thread.run_sync(self._read_output)

    def _read_output(self) -> list[ServerEvent]:
        events = []
        with session_scope(self.context.engine) as session:
            for name, tail in self.tails.items():
                while True:
                    text, marks = tail.read_marked(
                        session, self.run_id, self.position.attempt, name
                    )
                    if not text:
                        break
                    # "at": [text index, receive time] where each stored chunk begins: the
                    # viewer's time of each line that starts there.
                    at = [[index, iso_instant(moment)] for index, moment in marks]
                    events.append(
                        ServerEvent(
                            event="log",
                            id=self.event_id(),
                            data=json.dumps({"stream": name, "text": text, "at": at}),
                        )
                    )
        return events
