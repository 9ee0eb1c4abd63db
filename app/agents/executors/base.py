"""The executor contract shared by the process and Docker executors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

Stream = Literal["stdout", "stderr"]


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """Everything an executor needs to run one attempt; built from the server's `start`."""

    run_id: int
    attempt: int
    command: str
    output_dir: Path
    image: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    run_as_user: str | None = None
    cpus: float | None = None
    memory: str | None = None  # "512M", "4G"
    gpus: tuple[int, ...] = ()
    mounts: tuple[str, ...] = ()  # "SRC:DST" or "SRC:DST:ro"
    max_run_seconds: float | None = None
    # $ALMANAC_RESULTS (its folder is the command's to write; see app/domain/results.py).
    results_file: Path | None = None
    # Upstream output files fetched for it ($ALMANAC_UPSTREAM_OUTPUTS; app/agents/inputs.py).
    inputs_dir: Path | None = None
    # Cores and memory nodes of the NUMA node the run is bound to (None: not bound), and
    # what the agent says of the binding ("a no-op, this host has one node").
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    numa_note: str = ""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How an attempt ended. `reason` is set for every non-success ending."""

    exit_code: int | None
    reason: str | None = None  # "exit code 2", "timeout", "oom", "killed", "launch error: ..."
    terminated: bool = False  # stopped by an operator

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.terminated and self.reason is None


class Sink(Protocol):
    """Where an execution reports; the agent spools everything it receives before sending."""

    async def running(self, detail: str = "", *, pid: int | None = None) -> None:
        """The command is now executing (process spawned / container started); `pid` is a
        host process's, the leader of its own process group."""
        ...

    async def output(self, stream: Stream, data: bytes) -> None:
        """A chunk of output, in order, per stream."""
        ...


class Execution(Protocol):
    """A handle on one running attempt."""

    async def wait(self) -> Outcome:
        """Wait for the end (enforcing max_run_seconds) and return the outcome."""
        ...

    async def kill(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after the grace period (docker stop for containers)."""
        ...

    async def pause(self) -> None: ...

    async def resume(self) -> None: ...


class Executor(Protocol):
    async def start(self, spec: RunSpec, sink: Sink) -> Execution:
        """Launch the attempt; raise LaunchError when it cannot start."""
        ...


class FoundRun(Protocol):
    """An attempt an executor still has going (or ended but not yet told) after a restart."""

    @property
    def run_id(self) -> int: ...

    @property
    def attempt(self) -> int: ...


@runtime_checkable
class Reattachable(Protocol):
    """An executor whose attempts outlive the agent (containers): a restarted agent finds
    them again and follows them to their end."""

    async def find_running(self) -> Sequence[FoundRun]: ...

    async def reattach(
        self, run_id: int, attempt: int, sink: Sink, *, offsets: Mapping[Stream, int] | None = None
    ) -> Execution: ...


class LaunchError(Exception):
    """The attempt could not be launched (bad user, missing image, spawn failure)."""
