"""A change feed between server replicas: PostgreSQL LISTEN/NOTIFY, or in-process for SQLite.

Messages are short strings: `task:<tid>` and `group:<gid>` (a schedule changed: the leader
re-reads it), `dispatch` (runs may be ready: every replica dispatches to its own agents).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

log = logging.getLogger("almanac.notify")
CHANNEL = "almanac"
Listener = Callable[[str], None]


class ChangeFeed:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._listeners: list[Listener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.postgres:
            self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def publish(self, message: str) -> None:
        """Tell every replica (this one included). Callable from any thread; never blocks
        the event loop (from there the NOTIFY is sent from a worker thread)."""
        if not self.postgres:
            self._deliver_threadsafe(message)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            self._notify(message)
        else:
            running.run_in_executor(None, self._notify, message)

    def _notify(self, message: str) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(
                    text("SELECT pg_notify(:channel, :message)"),
                    {"channel": CHANNEL, "message": message},
                )
                connection.commit()
        except Exception:  # the periodic resync covers a lost notification
            log.exception("could not publish %s", message)
            self._deliver_threadsafe(message)

    def _deliver_threadsafe(self, message: str) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._deliver, message)

    def _deliver(self, message: str) -> None:
        for listener in self._listeners:
            try:
                listener(message)
            except Exception:
                log.exception("listener failed on %s", message)

    async def _listen(self) -> None:
        dsn = _psycopg_dsn(self.engine)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._deliver("resync")  # whatever was missed while not listening
                    async for notice in conn.notifies():
                        self._deliver(notice.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("change feed connection lost (%s); reconnecting", exc)
                await asyncio.sleep(1.0)


def _psycopg_dsn(engine: Engine) -> str:
    url = make_url(engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
