"""Spawning host processes from the event loop.

`fork`/`exec` is done right here, on the event loop's thread: it costs well under a
millisecond (CPython uses vfork), while handing it to a worker thread costs more, as the
worker then waits for the interpreter lock behind the busy event loop on every step. The
exit is watched through a pidfd (Linux 5.3+), so a thousand running children need no
thread each.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

_READ_LIMIT = 1024 * 1024


class Child:
    """A spawned process: its pid, its two output pipes, and its exit."""

    def __init__(self, popen: subprocess.Popen[bytes], exited: asyncio.Future[int]) -> None:
        self.popen = popen
        self.pid = popen.pid
        self._exited = exited

    async def reader(self, stream: str) -> asyncio.StreamReader:
        """A reader of the child's `stdout` or `stderr` pipe, attached to the loop now: what
        the child wrote meanwhile waited in the pipe, so nothing is lost."""
        loop = asyncio.get_running_loop()
        pipe = self.popen.stdout if stream == "stdout" else self.popen.stderr
        reader = asyncio.StreamReader(limit=_READ_LIMIT, loop=loop)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
        return reader

    async def wait(self) -> int:
        """The exit status (negative for a signal), however often it is awaited."""
        return await asyncio.shield(self._exited)


def spawn(argv: list[str], **popen_kwargs: Any) -> Child:
    """Start `argv` with piped stdout/stderr; raises OSError when it cannot start. The caller
    learns of the start at once, and attaches the pipes when it reads them."""
    loop = asyncio.get_running_loop()
    popen = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen_kwargs,
    )
    return Child(popen, _watch_exit(loop, popen))


def _watch_exit(
    loop: asyncio.AbstractEventLoop, popen: subprocess.Popen[bytes]
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
