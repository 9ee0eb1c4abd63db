"""How agent reports, retries, lost agents and unacknowledged dispatches move runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.db.runs import get_run, transition
from app.db.tables import Run, RunEvent, Task
from app.domain.policies import retry_delay
from app.domain.states import ON_AGENT, RunStatus, can_transition
from app.protocol.frames import StateChange

MAX_DISPATCHES = 3


def apply_state(session: Session, change: StateChange, *, agent: str, now: datetime) -> bool:
    """Apply one state change reported by `agent`, once. Returns True when the run ended.

    The caller holds the run's row lock (the hub locks a whole batch's runs in one query).
    """
    run = get_run(session, change.run_id)
    if change.attempt != run.attempt or change.seq <= run.agent_seq or run.agent != agent:
        return False  # a replay we already applied, or a stale attempt
    run.agent_seq = change.seq
    target = RunStatus(change.status)
    current = RunStatus(run.status)
    if current not in ON_AGENT or not can_transition(current, target):
        # A late report (e.g. after the run was declared lost): keep it on the timeline only.
        session.add(
            RunEvent(
                run_id=run.id or 0,
                attempt=run.attempt,
                status=current.value,
                at=change.at,
                detail=f"agent reported {target.value} late"
                f"{': ' + change.reason if change.reason else ''}",
            )
        )
        return False
    extra: dict[str, object] = {}
    if target in (RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.TERMINATED):
        # Ended by its own agent, which may still owe what it spooled (hub: frame_refusal).
        extra = {
            "exit_code": change.exit_code,
            "reason": change.reason,
            "agent_ended_attempt": run.attempt,
        }
    detail = change.detail or (change.reason or "")
    transition(session, run, target, at=change.at, detail=detail, **extra)
    if target is RunStatus.FAILED:
        schedule_retry(session, run, now=now)
    return target in (RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.TERMINATED)


def schedule_retry(session: Session, run: Run, *, now: datetime) -> bool:
    """Start the next attempt of a failed run when its task's policy allows one."""
    task = session.get(Task, run.task_id) if run.task_id else None
    if task is None or run.attempt > task.retry_attempts:
        return False
    delay = retry_delay(run.attempt, task.retry_delay_seconds, task.retry_exponential)
    next_attempt = run.attempt + 1
    transition(
        session,
        run,
        RunStatus.ACTIVE,
        at=now,
        detail=f"retry: attempt {next_attempt} of {task.retry_attempts + 1} in {delay:g}s",
        attempt=next_attempt,
        agent_seq=0,
        agent=None,
        exit_code=None,
        started_at=None,
        finished_at=None,
        dispatched_at=None,
        not_before=now + timedelta(seconds=delay),
    )
    return True


def fail_runs_of_lost_agent(session: Session, agent: str, *, now: datetime) -> list[int]:
    stmt = select(Run).where(Run.agent == agent, col(Run.status).in_([s.value for s in ON_AGENT]))
    failed = []
    for run in session.exec(stmt.with_for_update()).all():
        transition(
            session,
            run,
            RunStatus.FAILED,
            at=now,
            reason="agent lost",
            detail=f"agent {agent} stopped answering",
        )
        failed.append(run.id or 0)
        schedule_retry(session, run, now=now)
    return failed


def expire_dispatches(session: Session, *, now: datetime, deadline_seconds: float) -> list[int]:
    """Runs an agent never acknowledged go back to ACTIVE, or fail after a few tries."""
    cutoff = now - timedelta(seconds=deadline_seconds)
    stmt = select(Run).where(Run.status == RunStatus.TRIGGER.value, col(Run.dispatched_at) < cutoff)
    changed = []
    for run in session.exec(stmt.with_for_update()).all():
        tries = int(run.spec.get("_dispatches", 1))
        if tries >= MAX_DISPATCHES:
            transition(
                session,
                run,
                RunStatus.FAILED,
                at=now,
                reason=f"not accepted by an agent after {tries} dispatches",
            )
        else:
            transition(
                session,
                run,
                RunStatus.ACTIVE,
                at=now,
                agent=None,
                dispatched_at=None,
                detail=f"agent {run.agent} did not acknowledge within "
                f"{deadline_seconds:g}s; dispatching again",
            )
        changed.append(run.id or 0)
    return changed
