"""Request and response models (Create / Update / Public) for tasks, runs and agents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.domain.blackouts import BlackoutList
from app.domain.names import plain_name, visible_name
from app.domain.schedules import Schedule
from app.models.admission_schemas import Locks, PoolSlots, Priority
from app.models.param_schemas import ParamDeclarations

# A task's or group's extra schedules (the main one is `schedule`).
ScheduleList = Annotated[list[Schedule], Field(max_length=50)]

_NameText = StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
# A task's or group's name: no control characters (app/domain/names.py).
Name = Annotated[str, _NameText, AfterValidator(visible_name)]
# A name that addresses its object in a URL path (calendars, agents, instances): besides,
# no '/', '\\', '.' or '..'.
PathName = Annotated[str, _NameText, AfterValidator(plain_name)]
Memory = Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)?[KMGTkmgt]?$")]
Mount = Annotated[str, StringConstraints(pattern=r"^[^:]+:[^:]+(:(ro|rw))?$")]
# Any this many free GPUs (a whole number: 1.5 or -1 is refused), and a NUMA node.
GpuCount = Annotated[int, Field(strict=True, ge=0, le=1024)]
NumaNode = Annotated[int, Field(strict=True, ge=0, le=1024)]


def check_gpu_choice(gpu_count: int | None, info: ValidationInfo) -> int | None:
    """`gpus` names indices, `gpu_count` asks any N: one or the other (a field validator of
    `gpu_count`, declared after `gpus`, so the error names gpu_count)."""
    if gpu_count and info.data.get("gpus"):
        raise ValueError("give either gpus (indices) or gpu_count (any N), not both")
    return gpu_count


EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")]
# The whole set of a task's secret environment values: a string sets one, null keeps the value
# stored (exports write null); a name left out is removed. Never read back: shown as "set".
SecretValues = dict[EnvName, Annotated[str, Field(max_length=100_000)] | None]
# Names of variable sets of the same instance (app/services/variable_sets.py), in order: a
# later set wins a name. A group's sets come before its tasks' own.
VariableSetNames = Annotated[list[PathName], Field(max_length=50)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskFields(_Strict):
    description: str = Field(default="", max_length=10_000)
    target: str | None = Field(default=None, max_length=200)
    labels: dict[str, str] = Field(default_factory=dict)
    run_as_user: str | None = Field(default=None, max_length=100)
    group: int | None = None
    schedule: Schedule | None = None
    # More schedules whose fires merge with `schedule`'s, and blackout windows.
    schedules: ScheduleList = Field(default_factory=list)
    blackouts: BlackoutList = Field(default_factory=list)
    active: bool = True
    image: str | None = Field(default=None, max_length=500)
    cpus: float | None = Field(default=None, gt=0, le=1024)
    memory: Memory | None = None
    gpus: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list)
    gpu_count: GpuCount | None = None
    numa_node: NumaNode | None = None
    mounts: list[Mount] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    # Write-only values put in the command's environment: see SecretValues.
    secrets: SecretValues = Field(default_factory=dict)
    workdir: str | None = Field(default=None, max_length=1000)
    retry_attempts: int = Field(default=0, ge=0, le=100)
    retry_delay_seconds: float = Field(default=0, ge=0, le=86_400)
    retry_exponential: bool = False
    max_run_seconds: float | None = Field(default=None, gt=0)
    concurrency: Literal["skip", "queue", "allow"] = "allow"
    misfire: Literal["run_once", "skip", "run_all"] = "run_once"
    misfire_grace_seconds: float = Field(default=3600, ge=0)
    misfire_max_replays: int = Field(default=10, ge=0, le=1000)
    instance: PathName = "default"
    params: ParamDeclarations = Field(default_factory=list)
    variable_sets: VariableSetNames = Field(default_factory=list)
    # Admission (docs/reference/pools-locks-priorities.md): null takes the group's.
    pool: PathName | None = None
    pool_slots: PoolSlots | None = None
    priority: Priority | None = None
    locks: Locks = Field(default_factory=list)


def _command(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


class TaskCreate(TaskFields):
    name: Name
    command: str = Field(max_length=100_000)

    _check_command = field_validator("command")(_command)
    _one_gpu_choice = field_validator("gpu_count")(check_gpu_choice)


class TaskUpdate(_Strict):
    """Every field optional; only the fields sent are changed."""

    name: Name | None = None
    command: str | None = Field(default=None, max_length=100_000)
    description: str | None = Field(default=None, max_length=10_000)
    target: str | None = Field(default=None, max_length=200)
    labels: dict[str, str] | None = None
    run_as_user: str | None = Field(default=None, max_length=100)
    group: int | None = None
    schedule: Schedule | None = None
    schedules: ScheduleList | None = None
    blackouts: BlackoutList | None = None
    active: bool | None = None
    image: str | None = Field(default=None, max_length=500)
    cpus: float | None = Field(default=None, gt=0, le=1024)
    memory: Memory | None = None
    gpus: list[Annotated[int, Field(ge=0)]] | None = None
    gpu_count: GpuCount | None = None
    numa_node: NumaNode | None = None
    mounts: list[Mount] | None = None
    env: dict[str, str] | None = None
    secrets: SecretValues | None = None
    workdir: str | None = Field(default=None, max_length=1000)
    retry_attempts: int | None = Field(default=None, ge=0, le=100)
    retry_delay_seconds: float | None = Field(default=None, ge=0, le=86_400)
    retry_exponential: bool | None = None
    max_run_seconds: float | None = Field(default=None, gt=0)
    concurrency: Literal["skip", "queue", "allow"] | None = None
    misfire: Literal["run_once", "skip", "run_all"] | None = None
    misfire_grace_seconds: float | None = Field(default=None, ge=0)
    misfire_max_replays: int | None = Field(default=None, ge=0, le=1000)
    instance: PathName | None = None
    params: ParamDeclarations | None = None
    variable_sets: VariableSetNames | None = None
    pool: PathName | None = None
    pool_slots: PoolSlots | None = None
    priority: Priority | None = None
    locks: Locks | None = None

    @field_validator("command")
    @classmethod
    def _check_command(cls, value: str | None) -> str | None:
        return None if value is None else _command(value)

    _one_gpu_choice = field_validator("gpu_count")(check_gpu_choice)


class TaskPublic(BaseModel):
    tid: int
    name: str
    description: str
    command: str
    target: str | None
    labels: dict[str, str]
    run_as_user: str | None
    group: int | None
    schedule: dict[str, Any] | None
    schedules: list[dict[str, Any]] = Field(default_factory=list)
    blackouts: list[dict[str, Any]] = Field(default_factory=list)
    active: bool
    image: str | None
    cpus: float | None
    memory: str | None
    gpus: list[int]
    gpu_count: int | None = None
    numa_node: int | None = None
    mounts: list[str]
    env: dict[str, str]
    secrets: dict[str, str] = Field(default_factory=dict, description='name -> "set"')
    workdir: str | None
    retry_attempts: int
    retry_delay_seconds: float
    retry_exponential: bool
    max_run_seconds: float | None
    concurrency: str
    misfire: str
    misfire_grace_seconds: float
    misfire_max_replays: int
    instance: str
    params: list[dict[str, Any]] = Field(default_factory=list)
    variable_sets: list[str] = Field(default_factory=list)
    pool: str | None = None
    pool_slots: int | None = None
    priority: int | None = None
    locks: list[dict[str, str]] = Field(default_factory=list)
    managed_by: str | None = Field(
        default=None, description="The definitions source that owns it (file:..., sync:...)."
    )
    managed_file: str | None = None
    managed_commit: str | None = None
    next_fire_time: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


class RunEventPublic(BaseModel):
    status: str
    at: datetime
    detail: str
    attempt: int


class RunPublic(BaseModel):
    id: int
    task: int | None
    task_name: str | None
    group_run: int | None
    batch_id: str | None
    status: str
    reason: str | None
    trigger_kind: str
    trigger_time: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    agent: str | None
    exit_code: int | None
    attempt: int
    command: str | None
    instance: str
    created_by: str | None
    business_date: date | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    # What the command published through $ALMANAC_RESULTS (NAME -> JSON value).
    results: dict[str, Any] = Field(default_factory=dict)
    priority: int = 0
    # The task's definition version the run was made from (GET /tasks/{tid}/versions/{n}).
    task_version: int | None = None


class RunDetail(RunPublic):
    events: list[RunEventPublic]
    # What runs, as frozen when the run was made (env masked as for tasks, secrets "set").
    spec: dict[str, Any] = Field(default_factory=dict)
    # SHA-256 of the spec: `POST /runs/{id}/approve` may name it to approve exactly this.
    spec_digest: str | None = None
    # Every blocker of an IDLE or ACTIVE run ({"kind", "detail", ...}); empty otherwise.
    waiting_for: list[dict[str, Any]] = Field(default_factory=list)
    # What placement gave its latest attempt on its agent ({"cores", "memory" bytes,
    # "gpus": [indices], "numa_node"}); null before it was first placed.
    allocation: dict[str, Any] | None = None


class RunPage(BaseModel):
    items: list[RunPublic]
    page: int
    page_size: int
    has_more: bool


class LogPagePublic(BaseModel):
    run: int
    attempt: int
    stream: str
    page: int
    page_size: int
    first_line: int
    total_lines: int
    total_bytes: int
    lines: list[str]
    # Each line's time: when the server received the output its first byte came in (the
    # agent sends output in batches); null for output stored before these were kept.
    times: list[datetime | None] = []


class AgentPublic(BaseModel):
    name: str
    status: str
    connected: bool
    labels: dict[str, str]
    cpus: int | None
    memory: int | None
    gpus: list[dict[str, Any]]
    docker: bool
    last_heartbeat: datetime | None
    version: str | None
    max_runs: int | None
    resources: dict[str, Any]
    running_runs: list[int]
    # What it offers runs ({"cores", "memory", "gpus": [{"index", "name", "memory",
    # "numa_node"}], "numa": [{"node", "cores", "memory"}]}) and what its runs hold
    # ({"cores", "memory", "gpus": [indices], "numa": {node: {"cores", "memory"}}}).
    capacity: dict[str, Any] = Field(default_factory=dict)
    allocated: dict[str, Any] = Field(default_factory=dict)


class AgentTokenCreated(BaseModel):
    id: int
    name: str
    agent: str  # the one agent name the token may connect as
    token: str


class LoginRequest(_Strict):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime | None


class ForecastItem(BaseModel):
    at: datetime
    local: datetime
    note: str | None = Field(
        default=None, description="Why it is not the plain nominal time (DST rule, shift)."
    )


class SkippedItem(BaseModel):
    local: datetime
    reason: str
    kind: Literal["calendar", "dst", "blackout"] = Field(
        default="calendar", description="What skipped it: a closed day, a DST rule, a blackout."
    )
    at: datetime | None = Field(default=None, description="The instant it would have fired.")


class ForecastPublic(BaseModel):
    # The task asked about (null for a group's forecast).
    task: int | None = None
    # The group whose schedule this is: the group asked about, or the task's group (a task
    # in a group fires when its group does; its own schedule is never used).
    group: int | None = None
    timezone: str
    occurrences: list[ForecastItem]
    skipped: list[SkippedItem]


class FreezeCreate(_Strict):
    date: date
    reason: str = Field(default="", max_length=500)


class FreezePublic(BaseModel):
    date: date
    reason: str
    created_by: str | None
