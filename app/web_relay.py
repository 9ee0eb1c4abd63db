"""Live pages across replicas: the run, log and agent changes each replica commits go out on
the change feed (PostgreSQL NOTIFY; a subscriber of the unit of work, app/wiring.py), and the
changes of the other replicas are published on this replica's event bus, so an open page
sees every state change whichever server made it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from app.notify import ChangeFeed
from app.web.events import Change, EventBus, live_change

PREFIX = "web:"
_MAX_IDS = 400  # a NOTIFY payload stays well under PostgreSQL's 8000-byte limit


def encode(replica: str, change: Change) -> list[str]:
    runs, logs = sorted(change.runs), sorted(change.logs)
    messages = []
    for start in range(0, max(len(runs), len(logs), 1), _MAX_IDS):
        part_runs = ",".join(map(str, runs[start : start + _MAX_IDS]))
        part_logs = ",".join(map(str, logs[start : start + _MAX_IDS]))
        agents = "1" if change.agents and start == 0 else "0"
        messages.append(f"{PREFIX}{replica}:{part_runs}:{part_logs}:{agents}")
    return messages


def decode(message: str) -> tuple[str, Change] | None:
    if not message.startswith(PREFIX):
        return None
    try:
        replica, runs, logs, agents = message[len(PREFIX) :].split(":")
        return replica, Change(
            runs=frozenset(int(r) for r in runs.split(",") if r),
            logs=frozenset(int(r) for r in logs.split(",") if r),
            agents=agents == "1",
        )
    except ValueError:
        return None


def relay(bus: EventBus, feed: ChangeFeed) -> Callable[[Sequence[Any]], None] | None:
    """Connect `bus` to the other replicas through `feed`: the changes of the others are
    published on `bus`, and the returned subscriber sends this replica's committed run, log
    and agent events to them (None with SQLite: one server, nothing to relay)."""
    if not feed.postgres:
        return None
    replica = uuid.uuid4().hex[:12]

    def outgoing(events: Sequence[Any]) -> None:
        for message in encode(replica, live_change(events)):
            feed.publish(message)

    def incoming(message: str) -> None:
        decoded = decode(message)
        if decoded is not None and decoded[0] != replica:
            bus.publish(decoded[1])

    feed.subscribe(incoming)
    return outgoing
