"""Run lifecycle: the statuses of DESIGN.md and the transitions allowed between them."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    IDLE = "IDLE"
    ACTIVE = "ACTIVE"
    TRIGGER = "TRIGGER"
    STARTED = "STARTED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TERMINATED = "TERMINATED"
    SKIPPED = "SKIPPED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    REJECTED = "REJECTED"


class TriggerKind(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    ADHOC = "adhoc"
    RETRY = "retry"
    DEPENDENCY = "dependency"
    BACKFILL = "backfill"


TERMINAL: frozenset[RunStatus] = frozenset(
    {
        RunStatus.SUCCESS,
        RunStatus.FAILED,
        RunStatus.TERMINATED,
        RunStatus.SKIPPED,
        RunStatus.REJECTED,
    }
)

# Statuses in which an agent holds the run (it must report how it ends).
ON_AGENT: frozenset[RunStatus] = frozenset(
    {RunStatus.TRIGGER, RunStatus.STARTED, RunStatus.RUNNING, RunStatus.PAUSED}
)

_ENDINGS = {RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.TERMINATED}

_ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING_APPROVAL: frozenset({RunStatus.ACTIVE, RunStatus.REJECTED, RunStatus.IDLE}),
    RunStatus.IDLE: frozenset({RunStatus.ACTIVE, RunStatus.SKIPPED, RunStatus.TERMINATED}),
    RunStatus.ACTIVE: frozenset(
        {RunStatus.TRIGGER, RunStatus.SKIPPED, RunStatus.TERMINATED, RunStatus.FAILED}
    ),
    RunStatus.TRIGGER: frozenset(
        {RunStatus.STARTED, RunStatus.RUNNING, RunStatus.ACTIVE, *_ENDINGS}
    ),
    RunStatus.STARTED: frozenset({RunStatus.RUNNING, *_ENDINGS}),
    RunStatus.RUNNING: frozenset({RunStatus.PAUSED, *_ENDINGS}),
    RunStatus.PAUSED: frozenset({RunStatus.RUNNING, *_ENDINGS}),
    # A failed run may be marked SUCCESS by hand to release its downstream, or retried
    # (a new attempt of the same run goes back to ACTIVE).
    RunStatus.FAILED: frozenset({RunStatus.SUCCESS, RunStatus.ACTIVE}),
    RunStatus.TERMINATED: frozenset({RunStatus.ACTIVE}),
    # An operator's re-run of a task and everything downstream of it.
    RunStatus.SKIPPED: frozenset({RunStatus.ACTIVE}),
    RunStatus.SUCCESS: frozenset({RunStatus.ACTIVE}),
}


def can_transition(current: RunStatus, target: RunStatus) -> bool:
    return target in _ALLOWED.get(current, frozenset())


def is_terminal(status: RunStatus) -> bool:
    return status in TERMINAL
