"""The shapes of an adhoc batch: the request (where and what), the batch with its runs, and
what a batch kill did to each run."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.models.admission_schemas import Locks, PathName, PoolSlots, Priority
from app.models.schemas import GpuCount, Memory, Mount, NumaNode, RunPublic, check_gpu_choice

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class AdhocRequest(BaseModel):
    """Where: exactly one of `agents` (names), `labels` (every online agent that has them)
    or `all` (every online agent). What: the command and, optionally, its resources."""

    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1, max_length=100_000)
    agents: list[Name] | None = Field(default=None, min_length=1, max_length=10_000)
    labels: dict[str, str] | None = None
    all: bool = False
    image: str | None = Field(default=None, max_length=500)
    cpus: float | None = Field(default=None, gt=0, le=1024)
    memory: Memory | None = None
    gpus: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list)
    gpu_count: GpuCount | None = None
    numa_node: NumaNode | None = None
    mounts: list[Mount] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    workdir: str | None = Field(default=None, max_length=1000)
    run_as_user: str | None = Field(default=None, max_length=100)
    max_run_seconds: float | None = Field(default=None, gt=0)
    instance: Name = "default"
    pool: PathName | None = None
    pool_slots: PoolSlots | None = None
    priority: Priority | None = None
    locks: Locks = Field(default_factory=list)

    _one_gpu_choice = field_validator("gpu_count")(check_gpu_choice)

    @model_validator(mode="after")
    def _one_target(self) -> AdhocRequest:
        if not self.command.strip():
            raise ValueError("command: must not be empty")
        chosen = [
            n
            for n, v in (
                ("agents", self.agents),
                ("labels", self.labels),
                ("all", self.all or None),
            )
            if v is not None
        ]
        if len(chosen) != 1:
            raise ValueError(
                f"give exactly one of agents, labels or all (got {', '.join(chosen) or 'none'})"
            )
        return self


class AdhocRun(RunPublic):
    target: str | None = Field(description="The agent this run is for.")


class AdhocBatch(BaseModel):
    batch_id: str
    command: str | None
    # Runs per status, e.g. {"RUNNING": 2, "SUCCESS": 1}.
    summary: dict[str, int]
    done: bool
    runs: list[AdhocRun]


KillOutcome = Literal["killed", "sent", "relayed", "already ended", "not reachable"]


class KilledRun(BaseModel):
    """What a batch kill did to one run: `killed` (ended here, no agent held it), `sent`
    (told its agent, connected to this server), `relayed` (told its agent through the server
    holding it), `already ended`, `not reachable` (no server holds its agent)."""

    run: int
    agent: str | None
    outcome: KillOutcome


class AdhocKill(AdhocBatch):
    killed: list[KilledRun]
