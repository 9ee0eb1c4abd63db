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


def spawn(argv: list[str], **popen_kwargs: Any) -> Child:
    """Start `argv` with piped stdout/stderr; raises OSError when it cannot start.

    The output pipes are attached to the loop in the background: what the child writes
    meanwhile waits in the pipe, so nothing is lost and the caller learns of the start at
    once."""
    loop = asyncio.get_running_loop()
    popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, **popen_kwargs)
    assert popen.stdout is not None and popen.stderr is not None
    stdout = _reader(loop, popen.stdout)
    stderr = _reader(loop, popen.stderr)
    return Child(popen, stdout, stderr, _watch_exit(loop, popen))


def _reader(loop: asyncio.AbstractEventLoop, pipe: Any) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=_READ_LIMIT, loop=loop)
    connecting = loop.create_task(
        loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe))
    _CONNECTING.add(connecting)
    connecting.add_done_callback(_CONNECTING.discard)
    return reader


# Keeps the attaching tasks referenced until they are done (the loop holds them weakly).
_CONNECTING: set[asyncio.Task[Any]] = set()


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
