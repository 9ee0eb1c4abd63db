"""The values of a lifecycle decision: the facts of a run, the fields a decision changes,
what the caller does after the commit, and the decision itself (app/domain/run_lifecycle.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Literal

from app.domain.states import RunStatus


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP


@dataclass(frozen=True)
class RetryPolicy:
    """The task's retry policy: `attempts` retries after the first attempt."""

    attempts: int
    delay_seconds: float
    exponential: bool


@dataclass(frozen=True)
class RunFacts:
    """What a decision needs to know of the run."""

    run_id: int
    status: RunStatus
    attempt: int = 1
    agent: str | None = None
    agent_seq: int = 0
    dispatches: int = 0
    started: bool = False  # `started_at` is set: this attempt got as far as running
    retry: RetryPolicy | None = None  # None: no task (adhoc), or not loaded


@dataclass(frozen=True)
class RunChanges:
    """The run's fields a decision sets; KEEP leaves one as it is."""

    attempt: int | _Keep = KEEP
    agent: str | None | _Keep = KEEP
    agent_seq: int | _Keep = KEEP
    agent_ended_attempt: int | None | _Keep = KEEP
    exit_code: int | None | _Keep = KEEP
    reason: str | None | _Keep = KEEP
    not_before: datetime | None | _Keep = KEEP
    dispatched_at: datetime | None | _Keep = KEEP
    started_at: datetime | None | _Keep = KEEP
    finished_at: datetime | None | _Keep = KEEP
    dispatches: int | _Keep = KEEP
    ignore_upstreams: bool | _Keep = KEEP
    approved_digest: str | _Keep = KEEP  # goes into the spec's bookkeeping

    def assigned(self) -> dict[str, object]:
        """The fields that change, by name."""
        return {name: value for name, value in vars(self).items() if value is not KEEP}


def new_attempt(number: int) -> RunChanges:
    """What starting an attempt resets, for a retry and a re-run alike."""
    return RunChanges(
        attempt=number,
        agent=None,
        agent_seq=0,
        exit_code=None,
        dispatched_at=None,
        started_at=None,
        finished_at=None,
        dispatches=0,
    )


@dataclass(frozen=True)
class TellAgent:
    """Send `control` to the agent that holds the attempt (after the commit)."""

    control: Literal["kill", "pause", "resume"]
    agent: str
    attempt: int


@dataclass(frozen=True)
class ScheduleRetry:
    """The attempt failed: start the next one if the task's retry policy allows (`Retry`)."""


@dataclass(frozen=True)
class ReleaseDownstream:
    """The run was marked SUCCESS: its skipped downstream may run (`Release`)."""


@dataclass(frozen=True)
class SettleGroupRun:
    """A run of a group run ended: the group run is settled before the commit."""


Effect = TellAgent | ScheduleRetry | ReleaseDownstream | SettleGroupRun


@dataclass(frozen=True)
class Decision:
    """`status` None: no move. `detail` None: nothing on the timeline (a replay, a control
    left to the agent); with no move, the detail is a note under the current status."""

    status: RunStatus | None
    changes: RunChanges = field(default_factory=RunChanges)
    detail: str | None = ""
    effects: tuple[Effect, ...] = ()

    def tells(self) -> bool:
        return any(isinstance(e, TellAgent) for e in self.effects)


NOTHING = Decision(None, detail=None)
