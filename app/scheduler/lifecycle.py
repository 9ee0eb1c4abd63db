"""How agent reports, retries, lost agents and unacknowledged dispatches move runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.db.run_commands import apply, facts_of, retry_policy
from app.db.run_secrets import run_secrets
from app.db.runs import get_run
from app.db.tables import Run
from app.domain import run_commands as c
from app.domain.results import check_results
from app.domain.run_decision import Decision, ScheduleRetry
from app.domain.run_lifecycle import MAX_DISPATCHES, retry_left
from app.domain.secret_mask import mask_json
from app.domain.states import ON_AGENT, RunStatus, is_terminal
from app.protocol.frames import StateChange

__all__ = ["MAX_DISPATCHES", "apply_state", "expire_dispatches", "fail_runs_of_lost_agent"]


def apply_state(session: Session, change: StateChange, *, agent: str, now: datetime) -> bool:
    """Apply one state change reported by `agent`, once. Returns True when the run ended.

    The caller holds the run's row lock (the hub locks a whole batch's runs in one query).
    """
    run = get_run(session, change.run_id)
    report = c.AgentReport(
        agent=agent,
        attempt=change.attempt,
        seq=change.seq,
        state=RunStatus(change.status),
        exit_code=change.exit_code,
        reason=change.reason,
        detail=change.detail,
    )
    decision = apply(session, run, report, now=change.at)
    ended = decision.status is not None and is_terminal(decision.status)
    if ended:
        _keep_results(session, run, change)
    _follow(session, run, decision, now)
    return ended


def _keep_results(session: Session, run: Run, change: StateChange) -> None:
    """The attempt's results (app/domain/results.py) replace the run's, every secret value the
    run was given masked in them (as in its output: nothing unmasked is stored, so neither
    the API, the page nor a downstream's placeholders see one); what was dropped of them (by
    the agent or here) is said in its reason."""
    values = change.results or {}
    if values:
        secrets = run_secrets(session, run)
        values = {name: mask_json(secrets, value) for name, value in values.items()}
    kept = check_results(values)
    run.results = kept.values
    notes = [n for n in (change.results_note, kept.note) if n]
    if notes:
        run.reason = "; ".join([run.reason, *notes] if run.reason else notes)


def schedule_retry(session: Session, run: Run, *, now: datetime) -> bool:
    """Start the next attempt of a failed run when its task's policy allows one."""
    if not retry_left(facts_of(run, retry_policy(session, run))):
        return False
    apply(session, run, c.Retry(), now=now)
    return True


def _follow(session: Session, run: Run, decision: Decision, now: datetime) -> None:
    if ScheduleRetry() in decision.effects:
        schedule_retry(session, run, now=now)


def fail_runs_of_lost_agent(session: Session, agent: str, *, now: datetime) -> list[int]:
    stmt = select(Run).where(Run.agent == agent, col(Run.status).in_(ON_AGENT))
    failed = []
    for run in session.exec(stmt.with_for_update()).all():
        decision = apply(session, run, c.AgentLost(agent), now=now)
        failed.append(run.id or 0)
        _follow(session, run, decision, now)
    return failed


def expire_dispatches(session: Session, *, now: datetime, deadline_seconds: float) -> list[int]:
    """Runs an agent never acknowledged go back to ACTIVE, or fail after a few tries."""
    cutoff = now - timedelta(seconds=deadline_seconds)
    stmt = select(Run).where(Run.status == RunStatus.TRIGGER, col(Run.dispatched_at) < cutoff)
    changed = []
    for run in session.exec(stmt.with_for_update()).all():
        apply(session, run, c.DispatchExpired(deadline_seconds), now=now)
        changed.append(run.id or 0)
    return changed
