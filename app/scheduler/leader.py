"""Scheduler leadership: exactly one replica fires schedules.

With PostgreSQL, the leader holds a session-level advisory lock on a connection of its own;
when that session ends (the process died, the network broke) the lock is free and a standby
takes it within a poll interval. With SQLite there is one server: it always leads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from sqlalchemy import Engine

from app.notify import _psycopg_dsn

log = logging.getLogger("almanac.leader")
LOCK_KEY = 0x616C6D61  # "alma"
Hook = Callable[[], Awaitable[None]]


class Leadership:
    def __init__(self, engine: Engine, *, poll_seconds: float = 1.0) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.is_leader = False

    @property
    def role(self) -> str:
        return "leader" if self.is_leader else "standby"

    async def run(self, elected: Hook, lost: Hook) -> None:
        """Campaign forever: call `elected` on winning the lock, `lost` on losing it."""
        if self.engine.dialect.name != "postgresql":
            self.is_leader = True
            await elected()
            await asyncio.Event().wait()
        dsn = _psycopg_dsn(self.engine)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await self._hold(conn, elected)
            except (psycopg.Error, OSError) as exc:
                log.warning("leadership connection failed: %s", exc)
            finally:
                if self.is_leader:
                    self.is_leader = False
                    log.warning("lost the scheduler leadership")
                    await lost()
            await asyncio.sleep(self.poll_seconds)

    async def _hold(self, conn: psycopg.AsyncConnection[tuple[object, ...]], elected: Hook
                    ) -> None:
        while not self.is_leader:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
                         ).fetchone()
            if row and row[0]:
                self.is_leader = True
                log.info("this server leads the scheduler")
                await elected()
                break
            await asyncio.sleep(self.poll_seconds)
        while True:  # a dead connection ends the session, and with it the lock
            await asyncio.sleep(self.poll_seconds)
            await conn.execute("SELECT 1")
