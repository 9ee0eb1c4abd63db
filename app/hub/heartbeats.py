"""The fleet's heartbeats, written together: a beat is noted in memory when it arrives (with
its arrival time and what it reports), and every pending beat of every agent is written in
one transaction about once a second (`AgentHub` runs the flush), instead of a transaction
per beat (1,000 agents beating every 5 s were 200 transactions a second).

What a beat does is unchanged, only later by at most a flush interval: the agent's
`last_heartbeat` becomes the beat's arrival time (never moved back: a hello or a later flush
may have written a newer one), an `offline` row of a connection still open comes back
`online` (or `draining`), the reported resources (load, spool, `problem`, capacity) replace
the stored ones with the server's drain mark kept, and the connection's token is checked
(one query for all of them): the flush returns the connections whose token no longer holds
(revoked, expired, or bound to another agent name since).

A beat that changes the agent's health (spool full, a problem) is also stored at once with
the agent's reports, in order (`note` says so; the report store writes it and marks it
`written`): dispatch must not send work to an agent that just said it is full.

A beat is never lost: an agent's newest beat replaces its older pending one (keeping the last
resources it reported), and a flush that fails puts its beats back, behind any newer one, for
the next flush. A crash before a flush loses at most a flush interval of beats: the rows keep
the beats written before it, which is what the lost-agent check then counts from (and it
gives every agent a full heartbeat timeout after the server starts)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from app.clock import Clock
from app.db.engine import session_scope
from app.db.tables import Agent
from app.hub.admission import valid_tokens
from app.hub.connection import AgentConnection
from app.hub.fleet import connected_status, reported_resources
from app.protocol import frames as p

_CHUNK = 500  # agent names per IN list


@dataclass(frozen=True)
class PendingBeat:
    connection: AgentConnection
    at: datetime
    resources: dict[str, Any]  # the last resources reported since the previous flush
    beat: p.Heartbeat | None = None


def health_of(resources: dict[str, Any]) -> tuple[bool, object]:
    """What of a report decides whether dispatch may give the agent work (fleet.problem_of)."""
    return bool(resources.get("spool_full")), resources.get("problem")


class HeartbeatBook:
    """The beats noted since the last flush, by agent name (thread-safe: beats are noted on
    the event loop and flushed in a worker thread)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._pending: dict[str, PendingBeat] = {}
        self._health: dict[str, tuple[AgentConnection, tuple[bool, object]]] = {}
        self._lock = threading.Lock()
        self.flushes = 0  # transactions written (for tests and figures)

    def note(self, connection: AgentConnection, beat: p.Heartbeat) -> bool:
        """Note a beat; True when it changes the agent's health (spool full, a problem): such
        a beat is also stored at once, in order with the agent's reports (the hub puts it in
        the connection's inbox), so dispatch never sends work to an agent that said it is full
        while the beat waits for the flush."""
        at = self.clock.now()
        with self._lock:
            older = self._pending.get(connection.name)
            resources = beat.resources
            if not resources and older is not None and older.connection is connection:
                resources = older.resources  # a bare beat does not forget what was reported
            self._pending[connection.name] = PendingBeat(connection, at, resources, beat)
            if not beat.resources:
                return False
            known = self._health.get(connection.name)
            was = known[1] if known and known[0] is connection else None
            if was is None:
                was = health_of(connection.hello.resources)
            now = health_of(beat.resources)
            self._health[connection.name] = (connection, now)
            return now != was

    def written(self, connection: AgentConnection, beat: p.Heartbeat) -> None:
        """`beat` was stored with the agent's reports: no need to flush it again."""
        with self._lock:
            pending = self._pending.get(connection.name)
            if pending is not None and pending.beat is beat:
                del self._pending[connection.name]

    def forget(self, connection: AgentConnection) -> None:
        """The connection is gone: its health is asked afresh of the next one's hello."""
        with self._lock:
            known = self._health.get(connection.name)
            if known is not None and known[0] is connection:
                del self._health[connection.name]

    def pending(self) -> dict[str, PendingBeat]:
        with self._lock:
            return dict(self._pending)

    def flush(self) -> list[AgentConnection]:
        """Write every pending beat in one transaction; returns the connections whose token
        no longer holds. On an error nothing is written and the beats wait for the next
        flush (an agent's newer beat, noted meanwhile, wins over its own put back)."""
        with self._lock:
            taken, self._pending = self._pending, {}
        if not taken:
            return []
        try:
            tokens = self._write(taken)
        except BaseException:
            with self._lock:
                for name, beat in taken.items():
                    newer = self._pending.get(name)
                    if newer is None:
                        self._pending[name] = beat
                    elif not newer.resources and newer.connection is beat.connection:
                        self._pending[name] = PendingBeat(
                            newer.connection, newer.at, beat.resources, newer.beat
                        )
            raise
        self.flushes += 1
        return [
            beat.connection
            for beat in taken.values()
            if beat.connection.token_id is not None
            and tokens.get(beat.connection.token_id) != beat.connection.name
        ]

    def _write(self, taken: dict[str, PendingBeat]) -> dict[int, str | None]:
        """The beats' rows updated, in one transaction; returns the tokens that still hold,
        with the agent name each is bound to."""
        now = self.clock.now()
        names = sorted(taken)
        with session_scope(self.engine) as session:
            for low in range(0, len(names), _CHUNK):
                stmt = select(Agent).where(col(Agent.name).in_(names[low : low + _CHUNK]))
                for agent in session.exec(stmt).all():
                    _apply(agent, taken[agent.name])
            ids = sorted({b.connection.token_id for b in taken.values() if b.connection.token_id})
            return valid_tokens(session, ids, now)


def _apply(agent: Agent, beat: PendingBeat) -> None:
    """What one beat does to its agent's row (the ORM writes only what changed). A beat older
    than the row's (a hello, or a health beat stored with the reports, came after it) changes
    nothing: neither the time nor what it reported goes back."""
    if agent.last_heartbeat is not None and agent.last_heartbeat > beat.at:
        return
    if agent.last_heartbeat != beat.at:
        agent.last_heartbeat = beat.at
    if agent.status == "offline" and not beat.connection.gone.is_set():
        agent.status = connected_status(agent)
    if beat.resources:
        merged = reported_resources(agent, beat.resources)
        if merged != agent.resources:
            agent.resources = merged
