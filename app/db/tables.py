"""The database schema. Alembic owns it (migrations/); tests alone may call create_all. Users,
tokens, agents and the audit trail are in access_tables.py (named here too); the other areas
in their own *_tables.py."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    LargeBinary,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from app.db.access_tables import Agent as Agent
from app.db.access_tables import AgentToken as AgentToken
from app.db.access_tables import ApiToken as ApiToken
from app.db.access_tables import AuditEvent as AuditEvent
from app.db.access_tables import User as User
from app.db.types import GroupRunStatusType, RunStatusType, TriggerKindType, UTCDateTime
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import ON_AGENT, RunStatus, TriggerKind


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Calendar(SQLModel, table=True):
    __tablename__ = "calendar"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    description: str = ""
    country: str | None = Field(default=None, max_length=10)
    subdivision: str | None = Field(default=None, max_length=20)
    # The holidays library's categories (public, bank, catholic, ...); [] means public.
    categories: list[str] = Field(default_factory=list, sa_type=JSON)
    skip_weekends: bool = False
    extra_dates: list[str] = Field(default_factory=list, sa_type=JSON)
    working_dates: list[str] = Field(default_factory=list, sa_type=JSON)
    # Names of other calendars: their closed days close (include) or open (exclude) this one.
    include_calendars: list[str] = Field(default_factory=list, sa_type=JSON)
    exclude_calendars: list[str] = Field(default_factory=list, sa_type=JSON)
    # Definitions as code (app/definitions): the source that owns it ("file:defs",
    # "sync:prod"), the file that holds it and the commit that last changed it.
    managed_by: str | None = Field(default=None, max_length=300, index=True)
    managed_file: str | None = Field(default=None, max_length=1000)
    managed_commit: str | None = Field(default=None, max_length=100)
    # The latest definition version (app/db/versions.py); 0 before history first saw it.
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class TaskGroup(SQLModel, table=True):
    __tablename__ = "task_group"
    __table_args__ = (UniqueConstraint("instance", "name", name="uq_group_instance_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    description: str = ""
    schedule: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # More schedules (fires merged with `schedule`'s) and blackout windows (skipped spans)
    schedules: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    blackouts: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    active: bool = True
    instance: str = Field(default="default", max_length=100, index=True)
    # Declared parameters: [{"name", "type", "default", "required", "choices", "description"}]
    params: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    # Names of the variable sets (of the same instance) its runs see as ${var.NAME}
    variable_sets: list[str] = Field(default_factory=list, sa_type=JSON)
    # Admission (app/domain/admission.py): its tasks' defaults.
    pool: str | None = Field(default=None, max_length=200)
    pool_slots: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    priority: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    locks: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    # Definitions as code (app/definitions): the source that owns it ("file:defs",
    # "sync:prod"), the file that holds it and the commit that last changed it.
    managed_by: str | None = Field(default=None, max_length=300, index=True)
    managed_file: str | None = Field(default=None, max_length=1000)
    managed_commit: str | None = Field(default=None, max_length=100)
    # The latest definition version (app/db/versions.py); 0 before history first saw it.
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (UniqueConstraint("instance", "name", name="uq_task_instance_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    description: str = ""
    command: str
    target: str | None = Field(default=None, max_length=200)
    labels: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    run_as_user: str | None = Field(default=None, max_length=100)
    group_id: int | None = Field(default=None, foreign_key="task_group.id", index=True)
    schedule: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # More schedules (fires merged with `schedule`'s) and blackout windows (skipped spans)
    schedules: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    blackouts: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    active: bool = True
    image: str | None = Field(default=None, max_length=500)
    cpus: float | None = None
    memory: str | None = Field(default=None, max_length=20)
    gpus: list[int] = Field(default_factory=list, sa_type=JSON)
    # Any this many free GPUs (instead of `gpus` by index), and the NUMA node its cores and
    # memory are bound to (app/domain/capacity.py).
    gpu_count: int | None = None
    numa_node: int | None = None
    mounts: list[str] = Field(default_factory=list, sa_type=JSON)
    env: dict[str, str] = Field(default_factory=dict, sa_type=JSON)  # legacy plain; emptied
    # `env` and secret values, Fernet-sealed (app/db/sealing.py).
    env_sealed: str | None = None
    workdir: str | None = Field(default=None, max_length=1000)
    retry_attempts: int = 0
    retry_delay_seconds: float = 0.0
    retry_exponential: bool = False
    max_run_seconds: float | None = None
    concurrency: str = Field(default="allow", max_length=10)
    misfire: str = Field(default="run_once", max_length=10)
    misfire_grace_seconds: float = 3600.0
    misfire_max_replays: int = 10
    instance: str = Field(default="default", max_length=100, index=True)
    params: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    variable_sets: list[str] = Field(default_factory=list, sa_type=JSON)
    # Admission: None takes the group's pool (with its pool_slots) and priority (else 0);
    # locks add to the group's.
    pool: str | None = Field(default=None, max_length=200)
    pool_slots: int | None = None
    priority: int | None = None
    locks: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)
    # Definitions as code (app/definitions): the source that owns it ("file:defs",
    # "sync:prod"), the file that holds it and the commit that last changed it.
    managed_by: str | None = Field(default=None, max_length=300, index=True)
    managed_file: str | None = Field(default=None, max_length=1000)
    managed_commit: str | None = Field(default=None, max_length=100)
    # The latest definition version (app/db/versions.py); 0 before history first saw it.
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_fire_time: datetime | None = _ts()
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class Freeze(SQLModel, table=True):
    """A task or a group frozen for one local date: that day's occurrences are skipped."""

    __tablename__ = "freeze"
    __table_args__ = (UniqueConstraint("task_id", "group_id", "day", name="uq_freeze"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int | None = Field(default=None, foreign_key="task.id", index=True)
    group_id: int | None = Field(default=None, foreign_key="task_group.id", index=True)
    day: date
    reason: str = ""
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime | None = _ts()


class DependencyEdge(SQLModel, table=True):
    __tablename__ = "dependency_edge"
    __table_args__ = (UniqueConstraint("upstream_id", "downstream_id", name="uq_edge_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="task_group.id", index=True)
    upstream_id: int = Field(foreign_key="task.id", index=True)
    downstream_id: int = Field(foreign_key="task.id", index=True)
    condition: str = Field(default="success", max_length=10)


class GroupDependency(SQLModel, table=True):
    """A group waits for another group's run of the same business date."""

    __tablename__ = "group_dependency"
    __table_args__ = (UniqueConstraint("group_id", "upstream_group_id", name="uq_group_dep"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="task_group.id", index=True)
    upstream_group_id: int = Field(foreign_key="task_group.id", index=True)


class GroupRun(SQLModel, table=True):
    """One run of a group: the runs of all its tasks share it."""

    __tablename__ = "group_run"
    # A group's heat map counts its outcomes per date from this index alone.
    __table_args__ = (Index("ix_group_run_group_day", "group_id", "business_date", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="task_group.id", index=True)
    # "g<gid>@<iso trigger>" for scheduled group runs: no double fire.
    occurrence_key: str | None = Field(default=None, max_length=120, unique=True)
    status: GroupRunStatus = Field(sa_type=GroupRunStatusType, index=True)
    trigger_kind: TriggerKind = Field(sa_type=TriggerKindType)
    trigger_time: datetime | None = _ts(index=True)
    business_date: date | None = Field(default=None, index=True)
    # The values given when it was forced; its task runs resolve theirs from these.
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    instance: str = Field(default="default", max_length=100, index=True)
    # Why it ended without running: a skip recorded by planning (`skipped: calendar (...)`,
    # `skipped: dst (...)`, `blackout: NAME`), `frozen`, or `missed: ...`.
    reason: str | None = Field(default=None, max_length=500)
    # The group's definition version it used (None: before history saw the group, or made
    # before migration 0027); set when made and again when it starts.
    group_version: int | None = None


# The runs an agent holds (`ON_AGENT`) in SQL, in one fixed order: the predicate of the
# partial index `ix_run_held`, which the held-runs read repeats word for word so that both
# backends' planners see the index answers it (app/scheduler/admission.py `load_held`).
HELD = "status IN (" + ", ".join(f"'{s.value}'" for s in sorted(ON_AGENT)) + ")"
# What the held-runs read takes of each run (PostgreSQL reads them from the index alone).
HELD_COLUMNS = (
    "instance",
    "agent",
    "task_id",
    "allocation",
    "pool",
    "pool_slots",
    "locks",
    "cores",
    "gpus",
)


class Run(SQLModel, table=True):
    __tablename__ = "run"
    __table_args__ = (
        Index("ix_run_status_id", "status", "id"),
        Index("ix_run_task_id", "task_id", "id"),
        # Next due (IDLE by trigger time) and per-status counts over a range; the last
        # day's counts per status and hour read from the index alone (migration 0021).
        Index("ix_run_status_trigger", "status", "trigger_time"),
        Index("ix_run_trigger_status", "trigger_time", "status"),
        # The dispatch queue's order: priority first, then oldest (app/scheduler/dispatch.py).
        Index("ix_run_queue", "status", "queue_rank", "trigger_time", "id"),
        # A task's heat map counts its outcomes per date from this index alone.
        Index("ix_run_task_day", "task_id", "business_date", "status"),
        # Task Runs sorted by started / finished, and one agent's runs (or the agent sort)
        # newest first, read down an index (migration 0026; app/services/run_search.py).
        Index("ix_run_started_id", "started_at", "id"),
        Index("ix_run_finished_id", "finished_at", "id"),
        Index("ix_run_agent_id", "agent", "id"),
        # The runs on agents, read whole every dispatch pass (migration 0028): only they
        # are in it, with what the pass reads of them, not their wide spec.
        Index(
            "ix_run_held",
            "id",
            postgresql_include=list(HELD_COLUMNS),
            postgresql_where=text(HELD),
            sqlite_where=text(HELD),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    task_id: int | None = Field(default=None, foreign_key="task.id")
    group_run_id: int | None = Field(default=None, index=True)
    batch_id: str | None = Field(default=None, max_length=64, index=True)
    # "t<tid>@<iso trigger>" for scheduled occurrences: unique, so no occurrence fires twice.
    occurrence_key: str | None = Field(default=None, max_length=120, unique=True)
    status: RunStatus = Field(sa_type=RunStatusType)
    reason: str | None = None
    trigger_kind: TriggerKind = Field(sa_type=TriggerKindType)
    trigger_time: datetime | None = _ts()
    not_before: datetime | None = _ts()
    dispatched_at: datetime | None = _ts()
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    agent: str | None = Field(default=None, max_length=200)
    exit_code: int | None = None
    attempt: int = 1
    # Last agent event applied for this attempt: replays after a reconnect are applied once.
    agent_seq: int = 0
    # The attempt whose end its own agent reported (not the server: lost, expired, killed):
    # the agent may still send what it spooled of it, nothing more.
    agent_ended_attempt: int | None = None
    # Starts sent for this attempt; an unacknowledged run fails after a few (run_lifecycle).
    dispatches: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # An operator forced it past its upstreams in its group run.
    ignore_upstreams: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # The command and execution settings fixed when the run was created (adhoc runs have no task).
    spec: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # SHA-256 of the spec when it was submitted for approval (app/domain/run_spec.py).
    spec_digest: str | None = Field(default=None, max_length=64)
    # What placement gave its latest attempt on its agent: {"cores", "memory", "gpus",
    # "numa_node"}; held while the run is in an ON_AGENT status, so it is let go of on
    # every way out (app/scheduler/dispatch.py `allocations`).
    allocation: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # Run context: the date's work it does and the parameter values it runs with.
    business_date: date | None = Field(default=None, index=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # What the command published through $ALMANAC_RESULTS (NAME -> JSON value).
    results: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    backfill_id: int | None = Field(default=None, index=True)
    # Higher first; copied from the task or group (a force run may raise it).
    priority: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # -priority: one ascending index serves "priority desc, trigger_time, id".
    queue_rank: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # What it asks of the admission gates, copied from its spec when it is made
    # (app/domain/admission.py `admission_columns`): a dispatch pass reads these plain
    # columns of the thousands of runs on agents, not their JSON (migration 0028).
    pool: str | None = Field(default=None, max_length=200)
    pool_slots: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # `locks_text`: a line per lock, `x`/`s` (exclusive/shared) then its name.
    locks: str | None = None
    # Counted towards its instance's quota: the cores and the GPUs it asks.
    cores: float = Field(default=0.0, sa_column_kwargs={"server_default": "0"})
    gpus: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The task's definition version it was created from (None: adhoc, or before history).
    task_version: int | None = None
    instance: str = Field(default="default", max_length=100, index=True)
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class RunEvent(SQLModel, table=True):
    __tablename__ = "run_event"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    attempt: int = 1
    status: RunStatus = Field(sa_type=RunStatusType)
    at: datetime = Field(sa_type=UTCDateTime)
    detail: str = ""


class LogChunk(SQLModel, table=True):
    """A run's output, stored once per byte: chunks keyed by stream and byte offset."""

    __tablename__ = "log_chunk"
    __table_args__ = (
        UniqueConstraint("run_id", "attempt", "stream", "offset", name="uq_log_chunk"),
        Index("ix_log_chunk_lines", "run_id", "attempt", "stream", "line_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    attempt: int = 1
    stream: str = Field(max_length=6)
    offset: int = Field(sa_type=BigInteger)  # logs may pass 2 GiB
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # Lines completed before this chunk, and newlines inside it: pages by line need no scan.
    line_start: int = 0
    line_count: int = 0
    # The agent's byte position in the stream after this chunk. Secret values are masked
    # before storing (app/hub/log_masking.py), so stored bytes and the agent's bytes may
    # differ in length; resume and acks speak the agent's positions. Null: same as stored.
    source_end: int | None = Field(default=None, sa_type=BigInteger)
    # When the server stored it: the log viewer's time of each line that starts in it
    # (null: stored before migration 0026).
    received_at: datetime | None = _ts()


class RunOutput(SQLModel, table=True):
    """A file a run left in its output directory, kept by the server after the run."""

    __tablename__ = "run_output"
    __table_args__ = (UniqueConstraint("run_id", "attempt", "name", name="uq_run_output"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    attempt: int = 1
    name: str = Field(max_length=1000)
    size: int = Field(default=0, sa_type=BigInteger)
    sha256: str | None = Field(default=None, max_length=64)
    created_at: datetime | None = _ts()


class Integration(SQLModel, table=True):
    """An alert channel (webhook, Slack, SMTP); its secret is encrypted at rest."""

    __tablename__ = "integration"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    kind: str = Field(max_length=20)
    config: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    secret_encrypted: str | None = None
    created_at: datetime | None = _ts()
    # None: a global integration (only admins of every instance may change it)
    instance: str | None = Field(default=None, max_length=100, index=True)
