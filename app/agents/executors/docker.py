"""The Docker executor: one attempt runs as one container, through the docker SDK.

Short SDK calls (create, start, inspect, stop, pause, remove) go through `asyncio.to_thread`.
Output streams block for as long as the container lives, so each gets a dedicated daemon thread
instead: parking them in the default executor would starve every other `to_thread` call once a
few dozen runs are going.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import queue
import re
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import DeviceRequest, Mount

from app.agents.executors.base import LaunchError, Outcome, RunSpec, Sink, Stream
from app.clock import Clock, SystemClock

log = logging.getLogger(__name__)

OUTPUT_MOUNT: Final = "/outputs"
LABEL_RUN_ID: Final = "almanac.run_id"
LABEL_ATTEMPT: Final = "almanac.attempt"
LABEL_MAX_RUN: Final = "almanac.max_run_seconds"
LABEL_AGENT: Final = "almanac.agent"  # the owner_tag of the agent that made the container

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])i?)?b?\s*$", re.IGNORECASE)
_UNITS: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_ENDED: Final = frozenset({"exited", "dead"})
_DRAIN_AFTER_EXIT_S: Final = 10.0


# --- pure helpers -------------------------------------------------------------------------------


def owner_tag(agent_name: str) -> str:
    """An agent's name as a part of Docker names and labels: agents of different servers
    sharing one engine (whose run ids overlap) never collide or take each other's containers."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", agent_name)[:40].strip("-.") or "agent"
    return f"{safe}-{hashlib.sha256(agent_name.encode()).hexdigest()[:6]}"


def container_name(run_id: int, attempt: int, owner: str = "") -> str:
    """`owner` is an `owner_tag`; none for an executor that names no agent."""
    return f"almanac-{owner}-run-{run_id}-{attempt}" if owner else f"almanac-run-{run_id}-{attempt}"


def parse_memory(value: str) -> int:
    """ "512M" -> bytes. Units are binary, as Docker reads them ("4G" is 4 GiB)."""
    match = _MEMORY.match(value)
    if match is None:
        raise LaunchError(f"memory {value!r} is not a size such as '512M' or '4G'")
    size = int(float(match[1]) * _UNITS[(match[2] or "").lower()])
    if size <= 0:
        raise LaunchError(f"memory {value!r} must be more than zero")
    return size


def parse_mount(text: str) -> Mount:
    """ "SRC:DST" or "SRC:DST:ro" -> a bind mount; Docker refuses a missing source at start."""
    parts = text.split(":")
    mode = parts.pop() if len(parts) == 3 else "rw"
    if len(parts) != 2 or mode not in ("ro", "rw") or not all(parts):
        raise LaunchError(f"mount {text!r} is not SRC:DST or SRC:DST:ro")
    source, target = parts
    if not (source.startswith("/") and target.startswith("/")):
        raise LaunchError(f"mount {text!r} needs absolute paths on both sides")
    return Mount(target=target, source=source, type="bind", read_only=mode == "ro")


def container_options(spec: RunSpec, owner: str = "") -> dict[str, Any]:
    """The keyword arguments of `containers.create` for one attempt; validates the spec."""
    if spec.image is None:
        raise LaunchError("the Docker executor needs an image")
    env = {
        **spec.env,
        "ALMANAC_RUN_ID": str(spec.run_id),
        "ALMANAC_ATTEMPT": str(spec.attempt),
        "ALMANAC_OUTPUT_DIR": OUTPUT_MOUNT,
    }
    labels = {LABEL_RUN_ID: str(spec.run_id), LABEL_ATTEMPT: str(spec.attempt)}
    if owner:
        labels[LABEL_AGENT] = owner
    if spec.max_run_seconds is not None:
        # Kept on the container so that a restarted agent still enforces it after reattaching.
        labels[LABEL_MAX_RUN] = repr(float(spec.max_run_seconds))
    mounts = [parse_mount(m) for m in spec.mounts]
    mounts.append(Mount(target=OUTPUT_MOUNT, source=str(spec.output_dir.absolute()), type="bind"))
    options: dict[str, Any] = {
        "image": spec.image,
        # The command is a shell string by design; it only ever meets a shell inside the container.
        "command": ["/bin/sh", "-c", spec.command],
        "name": container_name(spec.run_id, spec.attempt, owner),
        "environment": env,
        "labels": labels,
        "mounts": mounts,
        "privileged": False,  # never, nor added capabilities or devices: no policy grants them
    }
    if spec.workdir:
        options["working_dir"] = spec.workdir
    if spec.run_as_user:
        options["user"] = spec.run_as_user
    if spec.cpus is not None:
        if spec.cpus <= 0:
            raise LaunchError(f"cpus must be more than zero, not {spec.cpus}")
        options["nano_cpus"] = round(spec.cpus * 1e9)
    if spec.memory is not None:
        limit = parse_memory(spec.memory)
        options["mem_limit"] = limit
        # Docker would otherwise grant as much swap again: the limit is what the task asked for.
        options["memswap_limit"] = limit
    if spec.gpus:
        options["device_requests"] = [
            DeviceRequest(device_ids=[str(i) for i in spec.gpus], capabilities=[["gpu"]])
        ]
    return options


def outcome_from_state(state: Mapping[str, Any], *, terminated: bool, timed_out: bool) -> Outcome:
    """Map a finished container's `State` to an Outcome; our own stop decides first.

    "oom" rests on the engine's OOMKilled flag. An OOM kill in the first milliseconds of a
    container can escape the engine (its watch is armed just after start) and then reads as
    "exit code 137".
    """
    code = state.get("ExitCode")
    exit_code = code if isinstance(code, int) else None
    if terminated:
        return Outcome(exit_code=exit_code, reason="terminated", terminated=True)
    if timed_out:
        return Outcome(exit_code=exit_code, reason="timeout")
    if exit_code == 0:
        return Outcome(exit_code=0)
    if state.get("OOMKilled"):
        return Outcome(exit_code=exit_code, reason="oom")
    return Outcome(exit_code=exit_code, reason=f"exit code {exit_code}")


def parse_docker_time(text: str) -> datetime:
    """Docker's RFC 3339 stamps carry nanoseconds; Python keeps microseconds."""
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed)


def _explain(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)


def docker_available(client: Any = None, *, timeout: float = 3.0) -> bool:
    """Whether a Docker engine answers a ping; quick, and never raises."""
    try:
        if client is not None:
            return bool(client.ping())
        probe = docker.from_env(timeout=timeout)
        try:
            return bool(probe.ping())
        finally:
            probe.close()
    except Exception:  # any failure means "no usable Docker" here
        return False


# --- output pump --------------------------------------------------------------------------------


class _OutputPump:
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


def _demuxed(frames: Iterable[tuple[bytes | None, bytes | None]]) -> Iterator[tuple[Stream, bytes]]:
    for out, err in frames:
        if out:
            yield "stdout", out
        if err:
            yield "stderr", err


def _tagged(stream: Stream, chunks: Iterable[bytes]) -> Iterator[tuple[Stream, bytes]]:
    for chunk in chunks:
        if chunk:
            yield stream, chunk


# --- execution ----------------------------------------------------------------------------------


class DockerExecution:
    """A handle on one container. Supervision starts at once, whether or not anyone waits.

    `max_run_seconds` counts wall-clock time from the start, paused time included.
    """

    def __init__(
        self,
        container: Any,
        sink: Sink,
        pump: _OutputPump,
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
            log.warning("lost track of container %s: %s", self.container_id, _explain(exc))
            return Outcome(exit_code=None, reason=f"container lost: {_explain(exc)}")
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
    task = asyncio.create_task(_remove(container))
    _removals.add(task)
    task.add_done_callback(_removals.discard)
    return task


async def _remove(container: Any) -> None:
    try:
        await asyncio.to_thread(container.remove, force=True)
    except NotFound:
        pass
    except DockerException as exc:
        log.warning("could not remove container %s: %s", container.id, _explain(exc))


# --- executor -----------------------------------------------------------------------------------


class _ImageMissing(Exception):
    """`create` found no such image locally: pull it, then create again."""


@dataclass(frozen=True, kw_only=True)
class ContainerRun:
    """A container this agent started, found again (e.g. after the agent restarted)."""

    run_id: int
    attempt: int
    container_id: str
    status: str  # Docker's: "created", "running", "paused", "exited", ...


class DockerExecutor:
    """Runs attempts as containers. The Docker client is made on first use, not at construction."""

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        pull_timeout: float = 60.0,
        stop_grace_seconds: float = 10.0,
        clock: Clock | None = None,
        agent_name: str = "",
    ) -> None:
        """`agent_name`: the agent this executor works for; its containers carry its tag."""
        self._owner = owner_tag(agent_name) if agent_name else ""
        self._client = client
        self._owns_client = client is None
        self._pull_timeout = pull_timeout
        self._grace = stop_grace_seconds
        self._clock = clock or SystemClock()

    async def start(self, spec: RunSpec, sink: Sink) -> DockerExecution:
        options = container_options(spec, self._owner)  # refuse a bad spec before Docker
        client = await self._docker()
        await asyncio.to_thread(spec.output_dir.mkdir, parents=True, exist_ok=True)
        try:
            container = await self._create(client, options)
        except _ImageMissing:  # only then look further: a present image costs no extra call
            await self._pull(client, options["image"])
            container = await self._create(client, options)
        pump = _OutputPump(asyncio.get_running_loop())
        try:
            # Attach before start so that not a byte of early output is missed.
            stream = await asyncio.to_thread(
                container.attach, stdout=True, stderr=True, stream=True, logs=True, demux=True
            )
            pump.add(stream, _demuxed(stream))
            await asyncio.to_thread(container.start)
            started = time.monotonic()
            await sink.running(f"container {container.short_id} ({spec.image})")
        except BaseException as exc:
            pump.close()
            await _remove(container)
            if isinstance(exc, DockerException):
                raise LaunchError(
                    f"container {options['name']} did not start: {_explain(exc)}"
                ) from exc
            raise
        deadline = None if spec.max_run_seconds is None else started + spec.max_run_seconds
        return DockerExecution(
            container, sink, pump, deadline=deadline, stop_grace_seconds=self._grace
        )

    async def find_running(self) -> list[ContainerRun]:
        """Every container labelled as ours, ended ones included: their outcome is not yet told."""
        client = await self._docker()
        containers = await asyncio.to_thread(
            client.containers.list, all=True, filters={"label": LABEL_RUN_ID}
        )
        found: list[ContainerRun] = []
        for container in containers:
            labels = container.labels or {}
            if labels.get(LABEL_AGENT, self._owner) != self._owner:
                continue  # another agent's (one without the label predates the tags)
            try:
                run_id, attempt = int(labels[LABEL_RUN_ID]), int(labels.get(LABEL_ATTEMPT, "1"))
            except (KeyError, ValueError):
                continue
            found.append(
                ContainerRun(
                    run_id=run_id,
                    attempt=attempt,
                    container_id=container.id,
                    status=container.status,
                )
            )
        return found

    async def reattach(
        self, run_id: int, attempt: int, sink: Sink, *, offsets: Mapping[Stream, int] | None = None
    ) -> DockerExecution:
        """Follow a container started before this agent's restart, to its end.

        Output is replayed from the container's log since it started; `offsets` skips the bytes
        of each stream already delivered. The replay comes through the engine's log driver, and
        the default one (json-file) stores text: invalid UTF-8 comes back as U+FFFD, so offsets
        hold for text output only. `sink.running` is not called again.
        """
        client = await self._docker()
        container = None
        for name in dict.fromkeys(
            [container_name(run_id, attempt, self._owner), container_name(run_id, attempt)]
        ):  # or one made untagged
            with contextlib.suppress(NotFound):
                container = await asyncio.to_thread(client.containers.get, name)
                break
        if container is None:
            raise LookupError(f"no container for run {run_id} attempt {attempt}")
        if container.status == "created":
            await _remove(container)
            raise LaunchError(f"container {container.name} was created but never started")
        pump = _OutputPump(asyncio.get_running_loop())
        for stream in ("stdout", "stderr"):
            chunks = await asyncio.to_thread(
                container.logs,
                stdout=stream == "stdout",
                stderr=stream == "stderr",
                stream=True,
                follow=True,
            )
            pump.add(chunks, _tagged(stream, chunks))
        return DockerExecution(
            container,
            sink,
            pump,
            deadline=self._deadline_of(container.attrs),
            stop_grace_seconds=self._grace,
            skip=offsets,
        )

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    def _deadline_of(self, attrs: Mapping[str, Any]) -> float | None:
        label = (attrs.get("Config", {}).get("Labels") or {}).get(LABEL_MAX_RUN)
        if label is None:
            return None
        started_at = parse_docker_time(attrs["State"]["StartedAt"])
        elapsed = (self._clock.now() - started_at).total_seconds()
        return time.monotonic() + float(label) - elapsed

    async def _docker(self) -> Any:
        if self._client is None:
            try:
                self._client = await asyncio.to_thread(docker.from_env)
            except DockerException as exc:
                raise LaunchError(f"Docker is not available: {_explain(exc)}") from exc
        return self._client

    async def _pull(self, client: Any, image: str) -> None:
        prefix = f"image {image} not found locally and could not be pulled"
        try:
            async with asyncio.timeout(self._pull_timeout):
                await asyncio.to_thread(client.images.pull, image)
        except TimeoutError as exc:
            raise LaunchError(f"{prefix}: no answer within {self._pull_timeout:g} s") from exc
        except DockerException as exc:
            raise LaunchError(f"{prefix}: {_explain(exc)}") from exc

    async def _create(self, client: Any, options: dict[str, Any]) -> Any:
        name = options["name"]
        try:
            return await asyncio.to_thread(client.containers.create, **options)
        except ImageNotFound as exc:
            raise _ImageMissing(options["image"]) from exc
        except APIError as exc:
            if exc.status_code != 409:
                raise LaunchError(
                    f"container {name} could not be created: {_explain(exc)}"
                ) from exc
        except DockerException as exc:
            raise LaunchError(f"container {name} could not be created: {_explain(exc)}") from exc
        # The name is taken: a leftover of an earlier life of this attempt. Replace it if it ended.
        try:
            stale = await asyncio.to_thread(client.containers.get, name)
            if stale.status in ("running", "paused", "restarting"):
                raise LaunchError(f"container {name} is already running; reattach to it instead")
            await asyncio.to_thread(stale.remove, force=True)
            return await asyncio.to_thread(client.containers.create, **options)
        except DockerException as exc:
            raise LaunchError(f"container {name} could not be created: {_explain(exc)}") from exc
