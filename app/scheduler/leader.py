"""Scheduler leadership: exactly one replica fires schedules.

With PostgreSQL, the leader holds a session-level advisory lock on a connection of its own;
when that session ends (the process died, the network broke) the lock is free and a standby
takes it within a poll interval. With SQLite there is one server: it always leads.

Leading is fenced on the lock itself, not on a periodic probe:
- the lock's connection is watched, so a broken connection makes this server `standby` at once;
- every leader-only transaction begins with `fence(session)`: it takes the fence key shared for
  the transaction and checks, in the database, that the lock is still held by this server's
  lock session; otherwise the transaction does nothing (`NotLeader`) and this server steps down;
- a new leader takes the fence key exclusively once before it acts, so it waits for the old
  leader's fenced transactions still in flight: the two never write at the same time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from app.errors import AlmanacError
from app.notify import _psycopg_dsn

log = logging.getLogger("almanac.leader")
LOCK_KEY = 0x616C6D61  # "alma"
FENCE_KEY = 0x616C6D66  # "almf": shared by the leader's transactions, exclusive at a takeover
Hook = Callable[[], Awaitable[None]]

_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = :pid AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
)


class NotLeader(AlmanacError):
    """A leader-only action by a server that no longer holds the scheduler lock."""


class Leadership:
    def __init__(self, engine: Engine, *, poll_seconds: float = 1.0) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.postgres = engine.dialect.name == "postgresql"
        self.is_leader = False
        self._lock_pid: int | None = None  # the backend of the session that holds the lock
        self._leading = False  # `elected` ran and `lost` has not yet

    @property
    def role(self) -> str:
        return "leader" if self.is_leader else "standby"

    # ---- fencing (any thread) --------------------------------------------------------
    def fence(self, session: Session) -> None:
        """First statement of every leader-only transaction: raise NotLeader unless this
        server still holds the lock; the fence key stays shared until the transaction ends."""
        if not self.is_leader:
            raise NotLeader("this server is not the scheduler leader")
        if not self.postgres:
            return
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": FENCE_KEY})
        if not self._holds(session.connection()):
            self.step_down("the scheduler lock is no longer held by this server")
            raise NotLeader("the scheduler lock is no longer held by this server")

    def confirmed_role(self, connection: Connection) -> str:
        """The role as the database sees it right now (what /health reports)."""
        if self.is_leader and self.postgres and not self._holds(connection):
            self.step_down("the scheduler lock is no longer held by this server")
        return self.role

    def step_down(self, why: str) -> None:
        """Stop acting as leader now; the campaign lets the lock's connection go and calls
        `lost` within a poll interval."""
        if self.is_leader:
            log.warning("stepping down as scheduler leader: %s", why)
        self.is_leader = False

    def _holds(self, connection: Connection) -> bool:
        pid = self._lock_pid
        if pid is None:
            return False
        held = connection.execute(
            _HELD, {"pid": pid, "high": LOCK_KEY >> 32, "low": LOCK_KEY & 0xFFFFFFFF}
        ).scalar()
        return bool(held)

    # ---- the campaign (event loop) ---------------------------------------------------
    async def run(self, elected: Hook, lost: Hook) -> None:
        """Campaign forever: call `elected` on winning the lock, `lost` on losing it."""
        if not self.postgres:
            self.is_leader = True
            await elected()
            await asyncio.Event().wait()
        dsn = _psycopg_dsn(self.engine)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await self._hold(conn, elected)
            except (psycopg.Error, OSError) as exc:
                self.step_down(f"the lock's connection failed: {exc}")
                log.warning("leadership connection failed: %s", exc)
            finally:
                self.is_leader = False
                self._lock_pid = None
                if self._leading:
                    self._leading = False
                    log.warning("lost the scheduler leadership")
                    await lost()
            await asyncio.sleep(self.poll_seconds)

    async def _hold(self, conn: psycopg.AsyncConnection[tuple[object, ...]], elected: Hook) -> None:
        while True:
            row = await (
                await conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
            ).fetchone()
            if row and row[0]:
                break
            await asyncio.sleep(self.poll_seconds)
        # The old leader's fenced transactions still in flight end before we act.
        await conn.execute("SELECT pg_advisory_lock(%s)", (FENCE_KEY,))
        await conn.execute("SELECT pg_advisory_unlock(%s)", (FENCE_KEY,))
        self._lock_pid = conn.info.backend_pid
        self.is_leader = self._leading = True
        log.info("this server leads the scheduler")
        await elected()
        await self._watch(conn)

    async def _watch(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        """Return when this server steps down; raise the moment the lock's connection breaks
        (waiting on its socket wakes at once when the server ends the session)."""
        while self.is_leader:
            async for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                pass
            await conn.execute("SELECT 1")  # a silent network: the query fails
