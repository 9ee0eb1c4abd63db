"""Spawning host processes off the event loop.

`fork`/`exec` costs about a millisecond here, and CPython releases the GIL while doing it:
spawning from a small thread pool lets a burst of launches use every core instead of
queueing on the event loop. The exit is watched through a pidfd (Linux 5.3+), so a
thousand running children need no thread each.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

_SPAWNERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="almanac-spawn")
_READ_LIMIT = 1024 * 1024


class Child:
    """A spawned process: its pid, its two output streams, and its exit."""

    def __init__(self, popen: subprocess.Popen[bytes], stdout: asyncio.StreamReader,
                 stderr: asyncio.StreamReader, exited: asyncio.Future[int]) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.stdout = stdout
        self.stderr = stderr
        self._exited = exited

    async def wait(self) -> int:
        """The exit status (negative for a signal), however often it is awaited."""
        return await asyncio.shield(self._exited)


async def spawn(argv: list[str], **popen_kwargs: Any) -> Child:
    """Start `argv` with piped stdout/stderr; raises OSError when it cannot start."""
    loop = asyncio.get_running_loop()
    popen = await loop.run_in_executor(_SPAWNERS, partial(_popen, argv, popen_kwargs))
    assert popen.stdout is not None and popen.stderr is not None
    stdout = await _reader(loop, popen.stdout)
    stderr = await _reader(loop, popen.stderr)
    return Child(popen, stdout, stderr, _watch_exit(loop, popen))


def _popen(argv: list[str], kwargs: dict[str, Any]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


async def _reader(loop: asyncio.AbstractEventLoop, pipe: Any) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=_READ_LIMIT, loop=loop)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
    return reader


def _watch_exit(loop: asyncio.AbstractEventLoop, popen: subprocess.Popen[bytes]
                ) -> asyncio.Future[int]:
    exited: asyncio.Future[int] = loop.create_future()
    fd = os.pidfd_open(popen.pid)  # valid until reaped, even if the child already ended

    def reap() -> None:
        loop.remove_reader(fd)
        os.close(fd)
        if not exited.done():
            exited.set_result(popen.wait())

    loop.add_reader(fd, reap)
    return exited
