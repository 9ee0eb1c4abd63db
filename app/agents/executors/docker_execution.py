"""`DockerExecution`: the handle on one container, supervising it from start to removal.

Short SDK calls (inspect, stop, pause, remove) go through `asyncio.to_thread`; output arrives
through an `OutputPump`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping
from typing import Any, Final

from docker.errors import APIError, DockerException, NotFound

from app.agents.executors.base import Outcome, Sink, Stream
from app.agents.executors.docker_options import outcome_from_state
from app.agents.executors.docker_output import OutputPump

# One logger for the whole Docker executor, named as it was when the executor was one module.
log = logging.getLogger("app.agents.executors.docker")

_ENDED: Final = frozenset({"exited", "dead"})
_DRAIN_AFTER_EXIT_S: Final = 10.0


def explain(exc: BaseException) -> str:
    """A Docker error in words: the engine's explanation where it gave one."""
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)


class DockerExecution:
    """A handle on one container. Supervision starts at once, whether or not anyone waits.

    `max_run_seconds` counts wall-clock time from the start, paused time included.
    """

    def __init__(
        self,
        container: Any,
        sink: Sink,
        pump: OutputPump,
        *,
        deadline: float | None,
        stop_grace_seconds: float,
        skip: Mapping[Stream, int] | None = None,
    ) -> None:
        self.container_id: str = container.id
        self._container = container
        self._sink = sink
        self._pump = pump
        self._deadline = deadline  # time.monotonic() value, None = no limit
        self._grace = stop_grace_seconds
        self._skip: dict[Stream, int] = dict(skip or {})
        self._terminated = False
        self._timed_out = False
        self._detached = False
        self._removal: asyncio.Task[None] | None = None
        self._drain_task = asyncio.create_task(self._drain())
        self._supervisor = asyncio.create_task(self._supervise())

    async def wait(self) -> Outcome:
        """The outcome, as soon as Docker tells it; the container is removed after that."""
        return await asyncio.shield(self._supervisor)

    async def removed(self) -> None:
        """Wait until the ended container is gone (the removal runs after the outcome)."""
        await asyncio.shield(self._supervisor)
        if self._removal is not None:
            await asyncio.shield(self._removal)

    async def kill(self, grace_seconds: float = 10.0) -> None:
        if self._supervisor.done():
            return
        self._terminated = True
        await self._stop(grace_seconds)

    async def pause(self) -> None:
        await self._freeze(self._container.pause)

    async def resume(self) -> None:
        await self._freeze(self._container.unpause)

    async def detach(self) -> None:
        """Stop following the container but leave it running (agent shutdown or restart)."""
        self._detached = True
        self._supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._supervisor

    async def _freeze(self, call: Any) -> None:
        if self._supervisor.done():
            return
        try:
            await asyncio.to_thread(call)
        except APIError as exc:
            # 409: already paused / not paused / no longer running; the outcome will tell.
            if exc.status_code != 409:
                raise

    async def _stop(self, grace_seconds: float) -> None:
        try:
            state = await self._state()
            if state.get("Paused"):
                # A frozen process never sees SIGTERM: thaw it so the grace period means something.
                await asyncio.to_thread(self._container.unpause)
            await asyncio.to_thread(self._container.stop, timeout=max(0, math.ceil(grace_seconds)))
        except NotFound:
            pass

    async def _state(self) -> dict[str, Any]:
        attrs = await asyncio.to_thread(
            self._container.client.api.inspect_container, self.container_id
        )
        state: dict[str, Any] = attrs["State"]
        return state

    async def _drain(self) -> None:
        sink_ok = True
        async for stream, data in self._pump.frames():
            data = self._skipped(stream, data)
            if not data or not sink_ok:
                continue  # keep draining so the reader threads never block
            try:
                await self._sink.output(stream, data)
            except Exception:
                log.exception("sink refused output of container %s", self.container_id)
                sink_ok = False

    def _skipped(self, stream: Stream, data: bytes) -> bytes:
        skip = self._skip.get(stream, 0)
        if skip:
            self._skip[stream] = max(0, skip - len(data))
            return data[skip:]
        return data

    def _remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    async def _supervise(self) -> Outcome:
        try:
            # The output stream closes when the container stops: that is the normal end signal.
            await asyncio.wait({self._drain_task}, timeout=self._remaining())
            if not self._drain_task.done() and not self._terminated:
                await self._expire()
            state = await self._exit_state()
            await asyncio.wait({self._drain_task}, timeout=_DRAIN_AFTER_EXIT_S)
            return outcome_from_state(state, terminated=self._terminated, timed_out=self._timed_out)
        except DockerException as exc:
            log.warning("lost track of container %s: %s", self.container_id, explain(exc))
            return Outcome(exit_code=None, reason=f"container lost: {explain(exc)}")
        finally:
            self._pump.close()
            self._drain_task.cancel()
            if not self._detached:
                # Off the outcome's path: removing takes the engine tens of milliseconds.
                self._removal = _remove_later(self._container)

    async def _expire(self) -> None:
        self._timed_out = True
        await self._stop(self._grace)

    async def _exit_state(self) -> dict[str, Any]:
        """Poll until Docker reports the end (normally at once: the stream has just closed)."""
        delay = 0.02
        while True:
            state = await self._state()
            if state.get("Status") in _ENDED:
                return state
            if self._remaining() == 0.0 and not (self._timed_out or self._terminated):
                await self._expire()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)


_removals: set[asyncio.Task[None]] = set()  # strong references until each is done


def _remove_later(container: Any) -> asyncio.Task[None]:
    task = asyncio.create_task(remove_container(container))
    _removals.add(task)
    task.add_done_callback(_removals.discard)
    return task


async def remove_container(container: Any) -> None:
    """Remove a container, running or not; one already gone is fine, other failures are logged."""
    try:
        await asyncio.to_thread(container.remove, force=True)
    except NotFound:
        pass
    except DockerException as exc:
        log.warning("could not remove container %s: %s", container.id, explain(exc))
