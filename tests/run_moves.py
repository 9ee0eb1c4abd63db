"""Move a run in a test the way the real parts move it: through `run_commands.apply`, with
the command that would bring it there (a dispatch, an agent's report, a kill, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from app.db.run_commands import apply
from app.db.runs import create_run
from app.db.tables import Run
from app.domain import run_commands as c
from app.domain.run_lifecycle import INITIAL
from app.domain.states import ON_AGENT, RunStatus, is_terminal

S = RunStatus
_REPORTED = {S.STARTED, S.RUNNING, S.PAUSED, S.SUCCESS, S.FAILED, S.TERMINATED}


def move(
    session: Session,
    run: Run,
    target: RunStatus,
    *,
    at: datetime,
    agent: str = "a1",
    reason: str | None = None,
    exit_code: int | None = None,
) -> None:
    """`target` from where `run` stands; a run not yet on an agent is dispatched to `agent`
    first when only its agent could report `target`."""
    if run.status is S.ACTIVE and target in _REPORTED - {S.TERMINATED}:
        apply(session, run, c.Dispatch(agent), now=at)
    apply(session, run, command_for(run, target, agent, reason, exit_code), now=at)


def command_for(
    run: Run, target: RunStatus, agent: str, reason: str | None, exit_code: int | None
) -> c.Command:
    status = run.status
    if status in ON_AGENT and target in _REPORTED:
        assert run.agent is not None
        return c.AgentReport(run.agent, run.attempt, run.agent_seq + 1, target, exit_code, reason)
    if target is S.TRIGGER:
        return c.Dispatch(agent)
    if target is S.ACTIVE:
        if status is S.IDLE:
            return c.Fire(late_ms=0)
        if status is S.PENDING_APPROVAL:
            return c.Approve("approved in a test", "0" * 64)
        if status is S.SKIPPED and run.started_at is None:
            return c.Release(0)
        assert is_terminal(status), status
        return c.Rerun("test")
    if target is S.SKIPPED:
        return c.Skip(reason or "skipped in a test")
    if target is S.REJECTED:
        return c.Reject(reason or "rejected in a test")
    if target is S.SUCCESS and status is S.FAILED:
        return c.MarkSuccess("test", reason or "in a test")
    assert target is S.TERMINATED, (status, target)
    return c.Kill("test", reason or "terminated in a test")


# How a run reaches each status from where it was created (ACTIVE, or PENDING_APPROVAL).
_PATH: dict[RunStatus, tuple[RunStatus, ...]] = {
    S.TRIGGER: (S.TRIGGER,),
    S.STARTED: (S.STARTED,),
    S.RUNNING: (S.RUNNING,),
    S.PAUSED: (S.RUNNING, S.PAUSED),
    S.SUCCESS: (S.SUCCESS,),
    S.FAILED: (S.FAILED,),
    S.TERMINATED: (S.TERMINATED,),
    S.REJECTED: (S.REJECTED,),
}


def create_run_in(
    session: Session,
    status: RunStatus,
    *,
    at: datetime,
    agent: str = "a1",
    reason: str | None = None,
    exit_code: int | None = None,
    **fields: Any,
) -> Run:
    """A stored run brought to `status` the way real runs get there: created in a status a
    new run may have, then moved by commands (an ended one was dispatched to `agent`)."""
    if status in INITIAL:
        return create_run(session, at=at, status=status, **fields)
    first = S.PENDING_APPROVAL if status is S.REJECTED else S.ACTIVE
    run = create_run(session, at=at, status=first, **fields)
    for step in _PATH[status]:
        move(session, run, step, at=at, agent=agent, reason=reason, exit_code=exit_code)
    return run
