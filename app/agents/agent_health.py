"""The spool's health as the agent reports it.

A spool without room (app/agents/disk_guard.py) fails the runs whose output it can no longer
keep (`spool full`), reports the agent unhealthy so that it gets no work, and holds the
journal lines it could not write in memory, still sending them, until a probe finds space.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.agents.agent_outbox import Key
from app.agents.disk_guard import DiskGuard
from app.agents.spool import RunSpool

log = logging.getLogger("almanac.agent")


class SpoolHealth:
    def __init__(self, disk: DiskGuard, held: dict[Key, RunSpool]) -> None:
        self.disk = disk
        self._held = held
        self.beat = asyncio.Event()  # a heartbeat now (the agent's health changed)

    async def probe_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if await asyncio.to_thread(self.disk.probe):
                self.changed()

    def changed(self) -> None:
        if self.disk.healthy:
            for spool in list(self._held.values()):  # lines held in memory go to disk now
                if spool.pending:
                    try:
                        spool.write_pending()
                    except OSError as exc:
                        self.disk.failed(exc)
                        break
        if self.disk.healthy:
            log.warning("spool has room again: taking work")
        else:
            log.error("%s: taking no work until space returns", self.disk.report()["problem"])
        self.beat.set()

    def write_failed(self, exc: OSError, spool: RunSpool | None = None) -> None:
        """A spool write failed: unhealthy now, and the journal lines go to the reserve."""
        was_healthy = self.disk.healthy
        self.disk.failed(exc)
        if spool is not None and spool.pending:
            with contextlib.suppress(OSError):  # still held in memory, and sent
                spool.write_pending()
        if was_healthy:
            self.changed()
