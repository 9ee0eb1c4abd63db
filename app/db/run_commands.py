"""The one writer of a run's status: `apply` decides a command with the pure lifecycle
(app/domain/run_lifecycle.py) and writes what it decided, with its timeline event.

The caller carries out the decision's effects after the commit (telling an agent, waking
dispatch), as it owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.db.runs import ENDED_BACKFILLS, ENDED_GROUP_RUNS, _add_event
from app.db.tables import Run, RunEvent, Task
from app.domain import run_commands as c
from app.domain import run_spec
from app.domain.run_decision import KEEP, Decision, RetryPolicy, RunChanges, RunFacts
from app.domain.run_lifecycle import decide
from app.domain.states import RunStatus, is_terminal


def facts_of(run: Run, retry: RetryPolicy | None = None) -> RunFacts:
    """What the lifecycle weighs of `run` (its task's retry policy only when it is asked)."""
    return RunFacts(
        run_id=run.id or 0,
        status=RunStatus(run.status),  # a row built in memory may hold the string
        attempt=run.attempt,
        agent=run.agent,
        agent_seq=run.agent_seq,
        dispatches=run.dispatches,
        started=run.started_at is not None,
        retry=retry,
    )


def retry_policy(session: Session, run: Run) -> RetryPolicy | None:
    task = session.get(Task, run.task_id) if run.task_id else None
    if task is None:
        return None
    return RetryPolicy(task.retry_attempts, task.retry_delay_seconds, task.retry_exponential)


def apply(session: Session, run: Run, command: c.Command, *, now: datetime) -> Decision:
    """Decide `command` for `run` at `now` and write it: fields, status and event."""
    retry = retry_policy(session, run) if isinstance(command, c.Retry) else None
    decision = decide(facts_of(run, retry), command, now)
    _write_fields(run, decision.changes)
    if decision.status is not None:
        run.status = decision.status
        run.updated_at = now
        _record_move(session, run, decision.status, now, decision.detail or "")
    elif decision.detail is not None:
        # A note: an event under the status the run keeps (no alert, no live change).
        session.add(
            RunEvent(
                run_id=run.id or 0,
                attempt=run.attempt,
                status=RunStatus(run.status),  # a row built in memory may hold the string
                at=now,
                detail=decision.detail,
            )
        )
    return decision


def _record_move(session: Session, run: Run, target: RunStatus, at: datetime, detail: str) -> None:
    """The bookkeeping of a status move: the ended group run to settle, the backfill to
    step, the event."""
    if is_terminal(target):
        if run.group_run_id is not None:
            session.info.setdefault(ENDED_GROUP_RUNS, {})[run.group_run_id] = at
        if run.backfill_id is not None:
            session.info.setdefault(ENDED_BACKFILLS, {})[run.backfill_id] = at
    _add_event(session, run, target, at, detail)


def _write_fields(run: Run, changes: RunChanges) -> None:
    if changes.attempt is not KEEP:
        run.attempt = changes.attempt
    if changes.agent is not KEEP:
        run.agent = changes.agent
    if changes.agent_seq is not KEEP:
        run.agent_seq = changes.agent_seq
    if changes.agent_ended_attempt is not KEEP:
        run.agent_ended_attempt = changes.agent_ended_attempt
    if changes.exit_code is not KEEP:
        run.exit_code = changes.exit_code
    if changes.reason is not KEEP:
        run.reason = changes.reason
    if changes.dispatches is not KEEP:
        run.dispatches = changes.dispatches
    if changes.ignore_upstreams is not KEEP:
        run.ignore_upstreams = changes.ignore_upstreams
    if changes.approved_digest is not KEEP:
        run.spec = {**run.spec, run_spec.APPROVED: changes.approved_digest}
    _write_times(run, changes)


def _write_times(run: Run, changes: RunChanges) -> None:
    if changes.not_before is not KEEP:
        run.not_before = changes.not_before
    if changes.dispatched_at is not KEEP:
        run.dispatched_at = changes.dispatched_at
    if changes.started_at is not KEEP:
        run.started_at = changes.started_at
    if changes.finished_at is not KEEP:
        run.finished_at = changes.finished_at
