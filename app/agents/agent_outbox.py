"""The attempts the agent holds, and what the server still lacks of each.

Everything an execution produces goes to the spool first; the single send loop here pulls
from the spool up to what the server has acknowledged, so a reconnect simply resumes from
the server's positions (sent in `welcome`) with no loss and no duplicate. A spool is kept
until the server has the logs, the files and the state, then let go.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from app.agents.sender import Channel, Sent, flush, released
from app.agents.spool import RunSpool, Spool
from app.protocol import frames as p
from app.protocol.frames import AgentState

# fsyncs and removals of finished spools, one at a time and in order: in a burst they must
# neither crowd the launches out of the disk nor remove a spool before its fsync.
_DISK = ThreadPoolExecutor(max_workers=1, thread_name_prefix="almanac-disk")

Key = tuple[int, int]


class Outbox:
    def __init__(self, spool: Spool) -> None:
        self._spool = spool
        self.held: dict[Key, RunSpool] = {}
        self._sent: dict[Key, Sent] = {}
        self._kick = asyncio.Event()
        # Attempts with something new to send: a kick flushes these, not every held spool.
        self._dirty: set[Key] = set()
        self.released = asyncio.Event()  # set whenever a finished attempt is let go

    def mark(self, key: Key) -> None:
        """Something new to send for this attempt."""
        self._dirty.add(key)
        self._kick.set()

    def forget_sent(self) -> None:
        """A new connection: nothing is known to be sent until the server's welcome says."""
        self._sent = {}

    def resumed(self, resume: p.Resume) -> None:
        self._sent[(resume.run_id, resume.attempt)] = Sent.resumed(resume)

    def resend_all(self) -> None:
        """Everything held is re-sent from the server's positions."""
        self._dirty.update(self.held)
        self._kick.set()

    def held_runs(self) -> list[p.HeldRun]:
        return [
            p.HeldRun(
                run_id=s.run_id,
                attempt=s.attempt,
                status=s.last_status or AgentState.STARTED,
                seq=s.states[-1].seq if s.states else 0,
            )
            for s in self.held.values()
        ]

    async def send_forever(self, channel: Channel) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            dirty, self._dirty = self._dirty, set()
            states: list[str] = []
            for key in sorted(dirty):
                spool = self.held.get(key)
                if spool is not None:
                    await flush(channel, spool, self._sent.setdefault(key, Sent()), states)
            if states:
                await channel.send(p.state_batch_frame(states))

    def acknowledged(self, ack: p.Ack) -> None:
        key = (ack.run_id, ack.attempt)
        spool = self.held.get(key)
        if spool is not None and released(spool, ack):
            self.held.pop(key, None)
            self._sent.pop(key, None)
            self.released.set()
            # Emptying files is slow next to launching runs: keep it off the event loop.
            asyncio.get_running_loop().run_in_executor(_DISK, self._spool.release, spool)

    @staticmethod
    def keep_outcome(spool: RunSpool) -> None:
        """The outcome goes to disk for good off the event loop: the server may hear of it
        first, which is fine, as the server stores before it acknowledges."""
        asyncio.get_running_loop().run_in_executor(_DISK, _sync_quietly, spool)


def _sync_quietly(spool: RunSpool) -> None:
    with contextlib.suppress(OSError):  # the spool may be gone already (acknowledged)
        spool.sync()
    spool.close()
