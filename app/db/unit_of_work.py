"""The unit of work: events recorded during a transaction, handed to subscribers after commit.

Code that changes something records what it changed on its session (`record`); nothing is
told while the transaction may still roll back. `session_scope` (app/db/engine.py) ends
every transaction through `commit`: the engine's before-commit steps run first, inside the
transaction (group runs are settled there), then the commit, then each subscriber gets the
events it asked for, in the order they were recorded. A rollback drops them.

Who listens is wired per engine, explicitly, by the composition root (`app/wiring.py`);
nothing here is registered at import time. An engine nobody wired drops its events.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from app.domain.events import Event

log = logging.getLogger("almanac.events")

_EVENTS = "unit_of_work_events"

Step = Callable[[Session], None]
Subscriber = Callable[[Sequence[Any]], None]


@dataclass(frozen=True)
class _Subscription:
    name: str
    handle: Subscriber
    kinds: tuple[type, ...]


@dataclass
class Wiring:
    """What an engine's transactions do before they commit and who hears them after."""

    steps: list[Step] = field(default_factory=list)
    subscriptions: list[_Subscription] = field(default_factory=list)

    def before_commit(self, step: Step) -> None:
        """`step(session)` runs inside every transaction, just before it commits."""
        self.steps.append(step)

    def subscribe(self, name: str, handle: Subscriber, *kinds: type) -> None:
        """`handle(events)` hears the committed events of the given types (on the
        committing thread: it must only queue or hand them on)."""
        self.subscriptions.append(_Subscription(name, handle, kinds))


_WIRINGS: weakref.WeakKeyDictionary[Engine, Wiring] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def wire(engine: Engine) -> Wiring:
    """A fresh wiring for `engine`, replacing any earlier one."""
    wiring = Wiring()
    with _lock:
        _WIRINGS[engine] = wiring
    return wiring


def record(session: OrmSession, *events: Event) -> None:
    """Note what this transaction changed; heard only if it commits."""
    session.info.setdefault(_EVENTS, []).extend(events)


def commit(session: Session, engine: Engine) -> list[Event]:
    """Run the before-commit steps, commit, and return the transaction's events."""
    wiring = _WIRINGS.get(engine)
    if wiring is not None:
        for step in wiring.steps:
            step(session)
    session.commit()
    events: list[Event] = session.info.pop(_EVENTS, [])
    return events


def roll_back(session: Session) -> None:
    session.rollback()
    session.info.pop(_EVENTS, None)


def deliver(engine: Engine, events: Sequence[Event]) -> None:
    """Hand committed events to each subscriber; one that fails is logged and the others
    still hear theirs."""
    wiring = _WIRINGS.get(engine)
    if not events or wiring is None:
        return
    for subscription in wiring.subscriptions:
        wanted = [e for e in events if isinstance(e, subscription.kinds)]
        if not wanted:
            continue
        try:
            subscription.handle(wanted)
        except Exception:
            log.exception("subscriber %s failed on %d events", subscription.name, len(wanted))
