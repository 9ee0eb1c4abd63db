"""Container output, carried from the docker SDK's blocking iterators into the event loop.

Output streams block for as long as the container lives, so each gets a dedicated daemon thread:
parking them in the default executor would starve every other `to_thread` call once a few dozen
runs are going.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from app.agents.executors.base import Stream

# One logger for the whole Docker executor, named as it was when the executor was one module.
log = logging.getLogger("app.agents.executors.docker")


class OutputPump:
    """Carries (stream, bytes) frames from blocking SDK iterators into the event loop.

    A small bounded queue gives backpressure: a slow sink stalls the reader thread, which stalls
    Docker, instead of buffering a chatty task's output in memory.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int = 64) -> None:
        self._loop = loop
        self._queue: queue.Queue[tuple[Stream, bytes] | None] = queue.Queue(maxsize)
        self._ready = asyncio.Event()
        self._closing = threading.Event()
        self._sources: list[Any] = []
        self._open = 0

    def add(self, source: Any, frames: Iterator[tuple[Stream, bytes]]) -> None:
        """Follow `frames` in a thread; `source.close()` unblocks it when we give up."""
        self._sources.append(source)
        self._open += 1
        threading.Thread(
            target=self._pump, args=(frames,), name="almanac-docker-output", daemon=True
        ).start()

    def _pump(self, frames: Iterator[tuple[Stream, bytes]]) -> None:
        try:
            for frame in frames:
                if not self._offer(frame):
                    return
        except Exception:  # a broken stream ends this source; the container's state decides
            log.debug("container output stream ended with an error", exc_info=True)
        finally:
            self._offer(None)

    def _offer(self, item: tuple[Stream, bytes] | None) -> bool:
        while not self._closing.is_set():
            try:
                self._queue.put(item, timeout=0.2)
            except queue.Full:
                continue
            with contextlib.suppress(RuntimeError):  # loop closed: nobody is listening any more
                self._loop.call_soon_threadsafe(self._ready.set)
            return True
        return False

    async def frames(self) -> AsyncIterator[tuple[Stream, bytes]]:
        while self._open:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                self._ready.clear()
                if self._queue.empty():  # re-check after clear(): a put may have raced us
                    await self._ready.wait()
                continue
            if item is None:
                self._open -= 1
            else:
                yield item

    def close(self) -> None:
        self._closing.set()
        for source in self._sources:
            with contextlib.suppress(Exception):
                source.close()


def demuxed(frames: Iterable[tuple[bytes | None, bytes | None]]) -> Iterator[tuple[Stream, bytes]]:
    """Frames of an attach stream (demux=True: one (stdout, stderr) pair at a time)."""
    for out, err in frames:
        if out:
            yield "stdout", out
        if err:
            yield "stderr", err


def tagged(stream: Stream, chunks: Iterable[bytes]) -> Iterator[tuple[Stream, bytes]]:
    """Frames of a log stream, which carries one stream only."""
    for chunk in chunks:
        if chunk:
            yield stream, chunk
