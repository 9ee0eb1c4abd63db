"""Whether the agent's spool has room, and a reserve to write the last states into when not.

The spool holds every byte and state before it is sent, so without room the agent can
neither keep a run's output nor start a run. It then reports itself unhealthy (hello and
heartbeats carry `spool_full` and `problem`; the server dispatches no work to it), and a
probe on a timer clears the mark once enough space is free again.

The reserve is a file of `reserve_bytes` allocated ahead in the spool's file system. When a
journal write finds the disk full, the reserve is deleted, so that the final states of the
runs failed for lack of space still reach the disk; it is made again when space returns.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import threading
from pathlib import Path

_RESERVE = ".reserve"
_MIB = 1024 * 1024


def describe(exc: OSError) -> str:
    """The problem a failed spool write shows the operator."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "spool full: no space left on the device"
    return f"spool unwritable: {exc.strerror or exc}"


class DiskGuard:
    def __init__(self, root: Path, *, min_free_bytes: int, reserve_bytes: int = _MIB) -> None:
        self.root = root
        self.min_free_bytes = min_free_bytes
        self.reserve_bytes = reserve_bytes
        self.problem: str | None = None
        self._lock = threading.Lock()  # written from the event loop and the probe's thread

    @property
    def healthy(self) -> bool:
        return self.problem is None

    def report(self) -> dict[str, object]:
        """What hello and heartbeats carry about the spool."""
        problem = self.problem
        report: dict[str, object] = {"spool_full": problem is not None}
        if problem is not None:
            report["problem"] = f"{problem} ({self.root})"
        return report

    def failed(self, exc: OSError) -> None:
        """A spool write failed: unhealthy at once, and the reserve goes to the journals."""
        with self._lock:
            self.problem = describe(exc)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.root / _RESERVE)

    def probe(self) -> bool:
        """Measure the free space now (blocking: call it off the event loop); True when the
        health changed. Healthy needs `min_free_bytes` free and the reserve in place."""
        try:
            free = shutil.disk_usage(self.root).free
        except OSError as exc:
            return self._set(describe(exc))
        if free < self.min_free_bytes + (0 if self._has_reserve() else self.reserve_bytes):
            return self._set(
                self.problem
                if self.problem and "spool full" in self.problem
                else f"spool full: {free // 1024} KiB free, "
                f"{self.min_free_bytes // 1024} KiB needed"
            )
        try:
            self._make_reserve()
        except OSError as exc:
            return self._set(describe(exc))
        return self._set(None)

    def _set(self, problem: str | None) -> bool:
        with self._lock:
            changed = (problem is None) != (self.problem is None)
            self.problem = problem
        return changed

    def _has_reserve(self) -> bool:
        try:
            return (self.root / _RESERVE).stat().st_size >= self.reserve_bytes
        except FileNotFoundError:
            return False

    def _make_reserve(self) -> None:
        if self._has_reserve():
            return
        path = self.root / _RESERVE
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.posix_fallocate(descriptor, 0, self.reserve_bytes)  # blocks really taken
        except OSError:
            os.close(descriptor)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise
        os.close(descriptor)
