"""In-process event bus: which runs, logs and agents changed, published after each commit.

The database stays the only truth; the bus only says *what* to re-read. The unit of work
(app/db/unit_of_work.py) hands each committed transaction's run, log and agent events to
`publisher(bus)`, wired by the composition root (app/wiring.py). The scheduler and the agent
hub commit from worker threads, so delivery to the SSE streams on the event loop goes
through `loop.call_soon_threadsafe`.

One bus per app. The bus is in-process: the other replicas' changes arrive over the change
feed (app/web_relay.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from app.domain.events import AgentChanged, LogAppended, RunTransitioned


@dataclass(frozen=True, kw_only=True)
class Change:
    runs: frozenset[int] = frozenset()
    logs: frozenset[int] = frozenset()  # runs with new log bytes
    agents: bool = False
    # The bus's count after the newest change merged in: what a page has seen once it
    # applied this change (the id its stream gives the event it sends for it).
    seq: int = 0

    def __bool__(self) -> bool:
        return bool(self.runs or self.logs or self.agents)


class Subscription:
    """One listener's pending changes, merged until it reads them (no unbounded queue)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._runs: set[int] = set()
        self._logs: set[int] = set()
        self._agents = False
        self._seq = 0
        self._ready = asyncio.Event()

    def _add(self, change: Change) -> None:
        self._runs |= change.runs
        self._logs |= change.logs
        self._agents |= change.agents
        self._seq = max(self._seq, change.seq)
        self._ready.set()

    async def next(self, wait: float) -> Change:
        """The changes since the last call; empty when `wait` seconds pass without any."""
        if not self._ready.is_set():
            try:
                async with asyncio.timeout(wait):
                    await self._ready.wait()
            except TimeoutError:
                return Change()
        self._ready.clear()
        change = Change(
            runs=frozenset(self._runs),
            logs=frozenset(self._logs),
            agents=self._agents,
            seq=self._seq,
        )
        self._runs, self._logs, self._agents = set(), set(), False
        return change

    def close(self) -> None:
        self._bus._subscribers.discard(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._seq = 0

    @property
    def seq(self) -> int:
        """Counts published changes: a page drawn at seq N is stale once it moved on."""
        return self._seq

    def subscribe(self) -> Subscription:
        """Call on the event loop; the loop is remembered for deliveries from other threads."""
        self._loop = asyncio.get_running_loop()
        subscription = Subscription(self)
        self._subscribers.add(subscription)
        return subscription

    @property
    def listening(self) -> bool:
        return bool(self._subscribers)

    def publish(self, change: Change) -> None:
        """From any thread."""
        if not change:
            return
        # Counting and handing over under one lock: changes reach the loop in the order of
        # their counts, so a page that saw count N has seen every change before it.
        with self._lock:
            self._seq += 1
            change = replace(change, seq=self._seq)
            loop = self._loop
            if loop is None or not self._subscribers:
                return
            if _running_loop() is loop:
                self._deliver(change)
                return
            try:
                loop.call_soon_threadsafe(self._deliver, change)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                pass

    def _deliver(self, change: Change) -> None:
        for subscription in list(self._subscribers):
            subscription._add(change)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def live_change(events: Sequence[RunTransitioned | LogAppended | AgentChanged]) -> Change:
    """What a transaction's committed events mean to an open page."""
    runs: set[int] = set()
    logs: set[int] = set()
    agents = False
    for event in events:
        if isinstance(event, RunTransitioned):
            runs.add(event.run_id)
        elif isinstance(event, LogAppended):
            logs.add(event.run_id)
        else:
            agents = True
    return Change(runs=frozenset(runs), logs=frozenset(logs), agents=agents)


def publisher(bus: EventBus) -> Callable[[Sequence[Any]], None]:
    """The live pages' subscriber to the unit of work (app/wiring.py)."""

    def publish(events: Sequence[Any]) -> None:
        bus.publish(live_change(events))

    return publish
