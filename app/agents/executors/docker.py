"""The Docker executor: one attempt runs as one container, through the docker SDK.

Short SDK calls (create, start, inspect, stop, pause, remove) go through `asyncio.to_thread`.
Output streams block for as long as the container lives, so each gets a dedicated daemon thread
instead: parking them in the default executor would starve every other `to_thread` call once a
few dozen runs are going.

This module holds the executor (start, find_running, reattach). The pure container options live
in `docker_options`, the output threads in `docker_output` and the per-container handle in
`docker_execution`; their public names are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from app.agents.executors.base import LaunchError, RunSpec, Sink, Stream
from app.agents.executors.docker_execution import DockerExecution, explain, remove_container
from app.agents.executors.docker_options import (
    LABEL_AGENT,
    LABEL_ATTEMPT,
    LABEL_MAX_RUN,
    LABEL_RUN_ID,
    OUTPUT_MOUNT,
    container_name,
    container_options,
    outcome_from_state,
    owner_tag,
    parse_docker_time,
    parse_memory,
    parse_mount,
)
from app.agents.executors.docker_output import OutputPump, demuxed, tagged
from app.clock import Clock, SystemClock

__all__ = [
    "LABEL_AGENT",
    "LABEL_ATTEMPT",
    "LABEL_MAX_RUN",
    "LABEL_RUN_ID",
    "OUTPUT_MOUNT",
    "ContainerRun",
    "DockerExecution",
    "DockerExecutor",
    "container_name",
    "container_options",
    "docker_available",
    "outcome_from_state",
    "owner_tag",
    "parse_docker_time",
    "parse_memory",
    "parse_mount",
]


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
        if spec.results_file is not None:
            await asyncio.to_thread(spec.results_file.parent.mkdir, parents=True, exist_ok=True)
        try:
            container = await self._create(client, options)
        except _ImageMissing:  # only then look further: a present image costs no extra call
            await self._pull(client, options["image"])
            container = await self._create(client, options)
        pump = OutputPump(asyncio.get_running_loop())
        try:
            # Attach before start so that not a byte of early output is missed.
            stream = await asyncio.to_thread(
                container.attach, stdout=True, stderr=True, stream=True, logs=True, demux=True
            )
            pump.add(stream, demuxed(stream))
            await asyncio.to_thread(container.start)
            started = time.monotonic()
            note = f"; {spec.numa_note}" if spec.numa_note else ""
            await sink.running(f"container {container.short_id} ({spec.image}){note}")
        except BaseException as exc:
            pump.close()
            await remove_container(container)
            if isinstance(exc, DockerException):
                raise LaunchError(
                    f"container {options['name']} did not start: {explain(exc)}"
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
            await remove_container(container)
            raise LaunchError(f"container {container.name} was created but never started")
        pump = OutputPump(asyncio.get_running_loop())
        for stream in ("stdout", "stderr"):
            chunks = await asyncio.to_thread(
                container.logs,
                stdout=stream == "stdout",
                stderr=stream == "stderr",
                stream=True,
                follow=True,
            )
            pump.add(chunks, tagged(stream, chunks))
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
                raise LaunchError(f"Docker is not available: {explain(exc)}") from exc
        return self._client

    async def _pull(self, client: Any, image: str) -> None:
        prefix = f"image {image} not found locally and could not be pulled"
        try:
            async with asyncio.timeout(self._pull_timeout):
                await asyncio.to_thread(client.images.pull, image)
        except TimeoutError as exc:
            raise LaunchError(f"{prefix}: no answer within {self._pull_timeout:g} s") from exc
        except DockerException as exc:
            raise LaunchError(f"{prefix}: {explain(exc)}") from exc

    async def _create(self, client: Any, options: dict[str, Any]) -> Any:
        name = options["name"]
        try:
            return await asyncio.to_thread(client.containers.create, **options)
        except ImageNotFound as exc:
            raise _ImageMissing(options["image"]) from exc
        except APIError as exc:
            if exc.status_code != 409:
                raise LaunchError(f"container {name} could not be created: {explain(exc)}") from exc
        except DockerException as exc:
            raise LaunchError(f"container {name} could not be created: {explain(exc)}") from exc
        # The name is taken: a leftover of an earlier life of this attempt. Replace it if it ended.
        try:
            stale = await asyncio.to_thread(client.containers.get, name)
            if stale.status in ("running", "paused", "restarting"):
                raise LaunchError(f"container {name} is already running; reattach to it instead")
            await asyncio.to_thread(stale.remove, force=True)
            return await asyncio.to_thread(client.containers.create, **options)
        except DockerException as exc:
            raise LaunchError(f"container {name} could not be created: {explain(exc)}") from exc
