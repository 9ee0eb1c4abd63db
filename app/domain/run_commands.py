"""What can happen to a run: each command a frozen value, decided by `run_lifecycle.decide`.

A command says what happened or what someone asks; the facts of the run and the clock are
the lifecycle's to weigh. Times the agent stamped (its reports) arrive as the `now` of the
decision, so they are not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.states import RunStatus


# ---- the scheduler ----------------------------------------------------------------------
@dataclass(frozen=True)
class Fire:
    """An IDLE occurrence reached its trigger time (`late_ms` after it)."""

    late_ms: float


@dataclass(frozen=True)
class Skip:
    """An occurrence or a waiting run that will not run, and why (`reason` is kept)."""

    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Dispatch:
    """An agent was chosen: the start is sent after the commit."""

    agent: str


@dataclass(frozen=True)
class SendFailed:
    """The start could not be sent to `agent`: the run waits for another dispatch."""

    agent: str


@dataclass(frozen=True)
class DispatchExpired:
    """The agent never acknowledged the start within the accept deadline."""

    deadline_seconds: float


@dataclass(frozen=True)
class SpecChanged:
    """An approved run whose spec no longer has the approved digest: it does not run."""

    approved: str


@dataclass(frozen=True)
class ExpansionFailed:
    """A placeholder of the run names something the run lacks (a parameter without a value,
    an upstream result not published): it fails instead of running a half-filled command."""

    problem: str


@dataclass(frozen=True)
class PolicyRefused:
    """The run's spec with its placeholders filled in asks for what a policy does not allow
    (a parameter that carries a mount elsewhere): it fails instead of being sent."""

    problem: str  # "refused by the policy of instance 'x': mounts[0]: ..."


@dataclass(frozen=True)
class Retry:
    """Start the next attempt of a failed run, after the delay of its task's retry policy."""


# ---- the agent --------------------------------------------------------------------------
@dataclass(frozen=True)
class AgentReport:
    """A state the agent reported for one attempt: STARTED (accepted), RUNNING, PAUSED, or an
    end (SUCCESS, FAILED, TERMINATED with its exit code and reason). `seq` orders the reports
    of an attempt, so a replay is applied once."""

    agent: str
    attempt: int
    seq: int
    state: RunStatus
    exit_code: int | None = None
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class AgentLost:
    """The run's agent stopped answering."""

    agent: str


# ---- people -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Kill:
    who: str
    detail: str


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Approve:
    """`digest`: the spec digest approved; dispatch runs nothing else."""

    detail: str
    digest: str


@dataclass(frozen=True)
class Reject:
    detail: str


@dataclass(frozen=True)
class Rerun:
    """`who` re-runs a finished run; `upstream` is the run whose re-run took this one along."""

    who: str
    upstream: int | None = None


@dataclass(frozen=True)
class MarkSuccess:
    who: str
    why: str


@dataclass(frozen=True)
class Release:
    """A skipped downstream run let go again: `run_id` was marked SUCCESS."""

    run_id: int


@dataclass(frozen=True)
class ForcePastUpstreams:
    who: str


Command = (
    Fire
    | Skip
    | Dispatch
    | SendFailed
    | DispatchExpired
    | SpecChanged
    | ExpansionFailed
    | PolicyRefused
    | Retry
    | AgentReport
    | AgentLost
    | Kill
    | Pause
    | Resume
    | Approve
    | Reject
    | Rerun
    | MarkSuccess
    | Release
    | ForcePastUpstreams
)
