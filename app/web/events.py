"""In-process event bus: which runs, logs and agents changed, published after each commit.

The database stays the only truth; the bus only says *what* to re-read. SQLAlchemy session
events collect the changes (run ids from `session.info[CHANGED_RUNS]`, log chunks and agent
rows from mapper events) and, after the commit, hand them to the bus of the session's engine.
The scheduler and the agent hub commit from worker threads, so delivery to the subscribers
(SSE streams on the event loop) goes through `loop.call_soon_threadsafe`.

One bus per engine, so several apps in one process (tests) stay apart. The bus is in-process:
replicas of the server each see their own commits only.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Mapper, Session, object_session

from app.db.runs import CHANGED_RUNS
from app.db.tables import Agent, LogChunk

_PUBLISHED = "web_published_runs"  # how many CHANGED_RUNS entries this module has published
_LOGS = "web_changed_logs"
_AGENTS = "web_changed_agents"


@dataclass(frozen=True, kw_only=True)
class Change:
    runs: frozenset[int] = frozenset()
    logs: frozenset[int] = frozenset()  # runs with new log bytes
    agents: bool = False

    def __bool__(self) -> bool:
        return bool(self.runs or self.logs or self.agents)


class Subscription:
    """One listener's pending changes, merged until it reads them (no unbounded queue)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._runs: set[int] = set()
        self._logs: set[int] = set()
        self._agents = False
        self._ready = asyncio.Event()

    def _add(self, change: Change) -> None:
        self._runs |= change.runs
        self._logs |= change.logs
        self._agents |= change.agents
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
        change = Change(runs=frozenset(self._runs), logs=frozenset(self._logs), agents=self._agents)
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
        # Called with each local change, e.g. to pass it on to other replicas (app/web_relay.py).
        self.relays: list[Callable[[Change], None]] = []

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

    def publish(self, change: Change, *, relay: bool = True) -> None:
        """From any thread. `relay=False` for a change that came from another replica."""
        if not change:
            return
        if relay:
            for forward in self.relays:
                forward(change)
        with self._lock:
            self._seq += 1
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


_BUSES: weakref.WeakKeyDictionary[Engine, EventBus] = weakref.WeakKeyDictionary()
_installed = threading.Lock()
_listening = False


def attach(engine: Engine, bus: EventBus) -> None:
    """Publish the commits made through `engine` on `bus`."""
    _BUSES[engine] = bus
    _install_listeners()


def _install_listeners() -> None:
    global _listening
    with _installed:
        if _listening:
            return
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)
        event.listen(LogChunk, "after_insert", _log_inserted)
        event.listen(Agent, "after_insert", _agent_changed)
        event.listen(Agent, "after_update", _agent_changed)
        _listening = True


def _bus_of(session: Session) -> EventBus | None:
    bind = session.bind
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _BUSES.get(engine) if isinstance(engine, Engine) else None


def _after_commit(session: Session) -> None:
    info = session.info
    runs: list[int] = info.get(CHANGED_RUNS) or []
    done = info.get(_PUBLISHED, 0)
    logs: set[int] = info.pop(_LOGS, set())
    agents: bool = info.pop(_AGENTS, False)
    info[_PUBLISHED] = len(runs)
    if len(runs) <= done and not logs and not agents:
        return
    bus = _bus_of(session)
    if bus is not None:
        bus.publish(Change(runs=frozenset(runs[done:]), logs=frozenset(logs), agents=agents))


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_LOGS, None)
    session.info.pop(_AGENTS, None)
    session.info[_PUBLISHED] = len(session.info.get(CHANGED_RUNS) or [])


def _log_inserted(_mapper: Mapper[Any], _connection: Connection, target: LogChunk) -> None:
    session = object_session(target)
    if session is not None:
        session.info.setdefault(_LOGS, set()).add(target.run_id)


def _agent_changed(_mapper: Mapper[Any], _connection: Connection, target: Agent) -> None:
    session = object_session(target)
    if session is not None:
        session.info[_AGENTS] = True
