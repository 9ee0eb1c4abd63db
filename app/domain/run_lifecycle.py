"""The run lifecycle: every change of a run is decided here, from its facts and a command.

`decide(facts, command, now)` answers with a `Decision`: the new status (None: a note, or
nothing at all), the fields that change, the timeline detail and what the caller must do
after the commit (tell the agent, try the next attempt, ...). An illegal command is refused
with `Conflict`. The database layer (app/db/run_commands.py) applies decisions and is the only
writer of a run's status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from app.domain import run_commands as c
from app.domain.policies import retry_delay
from app.domain.run_decision import (
    NOTHING,
    Decision,
    Effect,
    ReleaseDownstream,
    RunChanges,
    RunFacts,
    ScheduleRetry,
    SettleGroupRun,
    TellAgent,
    new_attempt,
)
from app.domain.states import ON_AGENT, RunStatus, can_transition, is_terminal
from app.errors import Conflict

# An unacknowledged run is dispatched this many times before it fails.
MAX_DISPATCHES = 3

# The statuses a run may be created in, and when.
INITIAL: dict[RunStatus, str] = {
    RunStatus.IDLE: "a planned occurrence, or one found missed",
    RunStatus.ACTIVE: "a forced run, an adhoc command, a task of a group run",
    RunStatus.PENDING_APPROVAL: "submitted by a user: waits for an operator",
    RunStatus.SKIPPED: "an occurrence on a closed calendar day",
}


def check_initial(status: RunStatus) -> None:
    if status not in INITIAL:
        raise Conflict(f"a new run cannot start {status}")


@dataclass(frozen=True)
class KillPlan:
    """What stopping a run means, for a single kill, a batch kill and a terminated group
    run: `end_here` is the status the server gives it now (None: it stays until its agent
    reports), `tell_agent` whether its agent must be told to stop."""

    end_here: RunStatus | None
    tell_agent: bool


def kill_plan(status: RunStatus, on_an_agent: bool) -> KillPlan:
    """`on_an_agent`: the run names the agent it was dispatched to."""
    if is_terminal(status):
        return KillPlan(None, tell_agent=False)
    if status is RunStatus.PENDING_APPROVAL:  # never started: refusing it is what ends it
        return KillPlan(RunStatus.REJECTED, tell_agent=False)
    if status is RunStatus.TRIGGER:  # ended here, and the start may already be on its way
        return KillPlan(RunStatus.TERMINATED, tell_agent=on_an_agent)
    if status in ON_AGENT and on_an_agent:  # the agent ends it and reports TERMINATED
        return KillPlan(None, tell_agent=True)
    return KillPlan(RunStatus.TERMINATED, tell_agent=False)


def retry_left(facts: RunFacts) -> bool:
    return facts.retry is not None and facts.attempt <= facts.retry.attempts


def decide(facts: RunFacts, command: c.Command, now: datetime) -> Decision:
    """The decision on `command` for the run `facts` describes, at `now`."""
    decision = _HANDLERS[type(command)](facts, command, now)
    target = decision.status
    if target is None:
        return decision
    sources = _SOURCES.get(type(command))
    if (sources is not None and facts.status not in sources) or not can_transition(
        facts.status, target
    ):
        raise Conflict(f"run {facts.run_id} cannot go from {facts.status} to {target}")
    return _stamped(facts, decision, now)


def _stamped(facts: RunFacts, decision: Decision, now: datetime) -> Decision:
    """A run that starts running gets its start time, one that ends its end time."""
    target = decision.status
    changes = decision.changes
    effects = decision.effects
    if target is RunStatus.RUNNING and not facts.started:
        changes = replace(changes, started_at=now)
    if target is not None and is_terminal(target):
        changes = replace(changes, finished_at=now)
        effects = (*effects, SettleGroupRun())
    return replace(decision, changes=changes, effects=effects)


def _require(facts: RunFacts, status: RunStatus, done: str) -> None:
    if facts.status is not status:
        article = "an" if status is RunStatus.ACTIVE else "a"
        raise Conflict(
            f"run {facts.run_id} is {facts.status}: only {article} {status} run can be {done}"
        )


# ---- the scheduler ----------------------------------------------------------------------
def _fire(facts: RunFacts, fire: c.Fire, now: datetime) -> Decision:
    return Decision(RunStatus.ACTIVE, detail=f"trigger time reached ({fire.late_ms:.0f} ms late)")


def _skip(facts: RunFacts, skip: c.Skip, now: datetime) -> Decision:
    return Decision(RunStatus.SKIPPED, RunChanges(reason=skip.reason), skip.detail)


def _dispatch(facts: RunFacts, dispatch: c.Dispatch, now: datetime) -> Decision:
    changes = RunChanges(
        agent=dispatch.agent, dispatched_at=now, reason=None, dispatches=facts.dispatches + 1
    )
    return Decision(RunStatus.TRIGGER, changes, f"dispatched to {dispatch.agent}")


def _send_failed(facts: RunFacts, failed: c.SendFailed, now: datetime) -> Decision:
    return Decision(
        RunStatus.ACTIVE,
        RunChanges(agent=None, dispatched_at=None),
        f"agent {failed.agent} went away before the send",
    )


def _expired(facts: RunFacts, expired: c.DispatchExpired, now: datetime) -> Decision:
    tries = max(facts.dispatches, 1)  # runs dispatched before the count was kept: once
    if tries >= MAX_DISPATCHES:
        reason = f"not accepted by an agent after {tries} dispatches"
        return Decision(RunStatus.FAILED, RunChanges(reason=reason))
    return Decision(
        RunStatus.ACTIVE,
        RunChanges(agent=None, dispatched_at=None),
        f"agent {facts.agent} did not acknowledge within "
        f"{expired.deadline_seconds:g}s; dispatching again",
    )


def _spec_changed(facts: RunFacts, changed: c.SpecChanged, now: datetime) -> Decision:
    return Decision(
        RunStatus.FAILED,
        RunChanges(reason="spec changed after approval: not run"),
        f"spec digest is no longer the approved {changed.approved[:12]}",
    )


def _expansion_failed(facts: RunFacts, failed: c.ExpansionFailed, now: datetime) -> Decision:
    return Decision(
        RunStatus.FAILED,
        RunChanges(reason=f"placeholder: {failed.problem}"),
        f"not dispatched: {failed.problem}",
    )


def _policy_refused(facts: RunFacts, refused: c.PolicyRefused, now: datetime) -> Decision:
    return Decision(
        RunStatus.FAILED, RunChanges(reason=refused.problem), f"not dispatched: {refused.problem}"
    )


def _retry(facts: RunFacts, retry: c.Retry, now: datetime) -> Decision:
    policy = facts.retry
    if facts.status is not RunStatus.FAILED or policy is None or not retry_left(facts):
        raise Conflict(f"run {facts.run_id} is {facts.status}: it has no retry left")
    delay = retry_delay(facts.attempt, policy.delay_seconds, policy.exponential)
    following = facts.attempt + 1
    changes = replace(new_attempt(following), not_before=now + timedelta(seconds=delay))
    detail = f"retry: attempt {following} of {policy.attempts + 1} in {delay:g}s"
    return Decision(RunStatus.ACTIVE, changes, detail)


# ---- the agent --------------------------------------------------------------------------
_ENDS = (RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.TERMINATED)


def _report(facts: RunFacts, report: c.AgentReport, now: datetime) -> Decision:
    if (
        report.attempt != facts.attempt
        or report.seq <= facts.agent_seq
        or report.agent != facts.agent
    ):
        return NOTHING  # a replay already applied, or a stale attempt
    seen = RunChanges(agent_seq=report.seq)
    target = report.state
    if facts.status not in ON_AGENT or not can_transition(facts.status, target):
        # A late report (e.g. after the run was declared lost): on the timeline only.
        why = f": {report.reason}" if report.reason else ""
        return Decision(None, seen, f"agent reported {target} late{why}")
    detail = report.detail or (report.reason or "")
    if target not in _ENDS:
        return Decision(target, seen, detail)
    # Ended by its own agent, which may still owe what it spooled (hub: frame_refusal).
    ended = replace(
        seen, exit_code=report.exit_code, reason=report.reason, agent_ended_attempt=facts.attempt
    )
    retry = (ScheduleRetry(),) if target is RunStatus.FAILED else ()
    return Decision(target, ended, detail, retry)


def _lost(facts: RunFacts, lost: c.AgentLost, now: datetime) -> Decision:
    return Decision(
        RunStatus.FAILED,
        RunChanges(reason="agent lost"),
        f"agent {lost.agent} stopped answering",
        (ScheduleRetry(),),
    )


# ---- people -----------------------------------------------------------------------------
def _kill(facts: RunFacts, kill: c.Kill, now: datetime) -> Decision:
    if is_terminal(facts.status):
        raise Conflict(f"run {facts.run_id} already ended {facts.status}")
    plan = kill_plan(facts.status, facts.agent is not None)
    tell: tuple[Effect, ...] = ()
    if plan.tell_agent and facts.agent:
        tell = (TellAgent("kill", facts.agent, facts.attempt),)
    if plan.end_here is None:
        return Decision(None, detail=None, effects=tell)  # the agent reports the end
    reason = f"killed by {kill.who}" if plan.end_here is RunStatus.REJECTED else "terminated"
    return Decision(plan.end_here, RunChanges(reason=reason), kill.detail, tell)


def _pause(facts: RunFacts, pause: c.Pause, now: datetime) -> Decision:
    _require(facts, RunStatus.RUNNING, "paused")
    return _tell(facts, "pause")


def _resume(facts: RunFacts, resume: c.Resume, now: datetime) -> Decision:
    _require(facts, RunStatus.PAUSED, "resumed")
    return _tell(facts, "resume")


def _tell(facts: RunFacts, control: Literal["pause", "resume"]) -> Decision:
    """The agent pauses or resumes the run and reports it; nothing changes here yet."""
    if facts.agent is None:
        return NOTHING
    return Decision(None, detail=None, effects=(TellAgent(control, facts.agent, facts.attempt),))


def _approve(facts: RunFacts, approve: c.Approve, now: datetime) -> Decision:
    _require(facts, RunStatus.PENDING_APPROVAL, "approved")
    return Decision(RunStatus.ACTIVE, RunChanges(approved_digest=approve.digest), approve.detail)


def _reject(facts: RunFacts, reject: c.Reject, now: datetime) -> Decision:
    _require(facts, RunStatus.PENDING_APPROVAL, "rejected")
    return Decision(RunStatus.REJECTED, RunChanges(reason=reject.detail), reject.detail)


def _rerun(facts: RunFacts, rerun: c.Rerun, now: datetime) -> Decision:
    if not is_terminal(facts.status):
        raise Conflict(f"run {facts.run_id} is {facts.status}: only a finished run can be re-run")
    # A run skipped before it ever started has no attempt to count yet.
    ran = facts.started or facts.status is not RunStatus.SKIPPED
    number = facts.attempt + 1 if ran else facts.attempt
    after = "" if rerun.upstream is None else f" (downstream of run {rerun.upstream})"
    changes = replace(new_attempt(number), reason=None)
    return Decision(RunStatus.ACTIVE, changes, f"re-run by {rerun.who}{after}")


def _mark_success(facts: RunFacts, mark: c.MarkSuccess, now: datetime) -> Decision:
    _require(facts, RunStatus.FAILED, "marked SUCCESS")
    detail = f"marked SUCCESS by {mark.who}: {mark.why}"
    return Decision(RunStatus.SUCCESS, detail=detail, effects=(ReleaseDownstream(),))


def _release(facts: RunFacts, release: c.Release, now: datetime) -> Decision:
    return Decision(
        RunStatus.ACTIVE,
        RunChanges(reason=None, finished_at=None),
        f"released: run {release.run_id} marked SUCCESS",
    )


def _force(facts: RunFacts, force: c.ForcePastUpstreams, now: datetime) -> Decision:
    _require(facts, RunStatus.ACTIVE, "forced")
    return Decision(
        None,
        RunChanges(ignore_upstreams=True, not_before=None),
        f"forced past its upstreams by {force.who}",
    )


_HANDLERS: dict[type, Callable[[RunFacts, Any, datetime], Decision]] = {
    c.Fire: _fire,
    c.Skip: _skip,
    c.Dispatch: _dispatch,
    c.SendFailed: _send_failed,
    c.DispatchExpired: _expired,
    c.SpecChanged: _spec_changed,
    c.ExpansionFailed: _expansion_failed,
    c.PolicyRefused: _policy_refused,
    c.Retry: _retry,
    c.AgentReport: _report,
    c.AgentLost: _lost,
    c.Kill: _kill,
    c.Pause: _pause,
    c.Resume: _resume,
    c.Approve: _approve,
    c.Reject: _reject,
    c.Rerun: _rerun,
    c.MarkSuccess: _mark_success,
    c.Release: _release,
    c.ForcePastUpstreams: _force,
}

# Where a command may move a run from, where the allowed edges alone say too much.
_SOURCES: dict[type, frozenset[RunStatus]] = {
    c.Fire: frozenset({RunStatus.IDLE}),
    c.Skip: frozenset({RunStatus.IDLE, RunStatus.ACTIVE}),
    c.Dispatch: frozenset({RunStatus.ACTIVE}),
    c.SendFailed: frozenset({RunStatus.TRIGGER}),
    c.DispatchExpired: frozenset({RunStatus.TRIGGER}),
    c.SpecChanged: frozenset({RunStatus.ACTIVE}),
    c.ExpansionFailed: frozenset({RunStatus.ACTIVE}),
    c.PolicyRefused: frozenset({RunStatus.ACTIVE}),
    c.AgentLost: ON_AGENT,
    c.Release: frozenset({RunStatus.SKIPPED}),
}
