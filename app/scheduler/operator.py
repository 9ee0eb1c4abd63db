"""Operator controls on group runs: force past upstreams, re-run downstream, mark success,
terminate. Pure database work; the caller sends kill messages and wakes dispatch."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from app.db.group_run_moves import group_status, move_group_run
from app.db.groups import group_edges, member_ids
from app.db.runs import transition
from app.db.tables import GroupRun, Run, RunEvent
from app.domain.dag import rerun_set
from app.domain.group_run_states import GroupRunStatus, can_move
from app.domain.run_lifecycle import KillPlan, kill_plan
from app.domain.states import RunStatus, is_terminal
from app.errors import Conflict, NotFound
from app.scheduler.group_runs import IGNORE_UPSTREAMS


def force_past_upstreams(session: Session, run: Run, *, who: str, now: datetime) -> None:
    if run.status != RunStatus.ACTIVE.value:
        raise Conflict(f"run {run.id} is {run.status}: only an ACTIVE run can be forced")
    run.spec = {**run.spec, IGNORE_UPSTREAMS: True}
    run.not_before = None
    session.add(run)
    transition_note(session, run, now, f"forced past its upstreams by {who}")


def transition_note(session: Session, run: Run, at: datetime, detail: str) -> None:
    """An event on the timeline without a status change (same status, a note)."""
    session.add(
        RunEvent(run_id=run.id or 0, attempt=run.attempt, status=run.status, at=at, detail=detail)
    )


def rerun_with_downstream(session: Session, run: Run, *, who: str, now: datetime) -> list[int]:
    """Start `run` again, and with it everything downstream in its group run."""
    if not is_terminal(RunStatus(run.status)):
        raise Conflict(f"run {run.id} is {run.status}: only a finished run can be re-run")
    targets = [run]
    if run.group_run_id is not None and run.task_id is not None:
        group_run = session.get(GroupRun, run.group_run_id)
        assert group_run is not None
        order = rerun_set(
            run.task_id,
            member_ids(session, group_run.group_id),
            group_edges(session, group_run.group_id),
        )
        by_task = {
            r.task_id: r
            for r in session.exec(select(Run).where(Run.group_run_id == run.group_run_id)).all()
        }
        targets = [by_task[t] for t in order if t in by_task]
        move_group_run(group_run, GroupRunStatus.RUNNING, at=now)
    restarted = []
    for target in targets:
        if not is_terminal(RunStatus(target.status)):
            continue
        ran = target.started_at is not None or target.status != RunStatus.SKIPPED.value
        transition(
            session,
            target,
            RunStatus.ACTIVE,
            at=now,
            reason=None,
            exit_code=None,
            started_at=None,
            finished_at=None,
            dispatched_at=None,
            agent=None,
            agent_seq=0,
            attempt=target.attempt + 1 if ran else target.attempt,
            detail=f"re-run by {who}" + ("" if target is run else f" (downstream of run {run.id})"),
        )
        restarted.append(target.id or 0)
    return restarted


def mark_success(session: Session, run: Run, *, who: str, why: str, now: datetime) -> list[int]:
    """A failed run marked SUCCESS by hand releases what it had held downstream."""
    if run.status != RunStatus.FAILED.value:
        raise Conflict(f"run {run.id} is {run.status}: only a FAILED run can be marked SUCCESS")
    transition(session, run, RunStatus.SUCCESS, at=now, detail=f"marked SUCCESS by {who}: {why}")
    released = []
    if run.group_run_id is not None and run.task_id is not None:
        group_run = session.get(GroupRun, run.group_run_id)
        assert group_run is not None
        downstream = rerun_set(
            run.task_id,
            member_ids(session, group_run.group_id),
            group_edges(session, group_run.group_id),
        )[1:]
        skipped = session.exec(
            select(Run).where(
                Run.group_run_id == run.group_run_id,
                col(Run.task_id).in_(downstream),
                Run.status == RunStatus.SKIPPED.value,
                col(Run.started_at).is_(None),
            )
        ).all()
        for target in skipped:
            transition(
                session,
                target,
                RunStatus.ACTIVE,
                at=now,
                reason=None,
                finished_at=None,
                detail=f"released: run {run.id} marked SUCCESS",
            )
            released.append(target.id or 0)
        move_group_run(group_run, GroupRunStatus.RUNNING, at=now)
    return released


def stop_run(session: Session, run: Run, *, who: str, detail: str, now: datetime) -> KillPlan:
    """Kill `run` as `kill_plan` decides: what ends here ends now; the caller tells the agent
    when the plan says so (after the commit: the ending is stored first)."""
    plan = kill_plan(RunStatus(run.status), run.agent is not None)
    if plan.end_here is RunStatus.REJECTED:
        transition(session, run, plan.end_here, at=now, reason=f"killed by {who}", detail=detail)
    elif plan.end_here is not None:
        transition(session, run, plan.end_here, at=now, reason="terminated", detail=detail)
    return plan


def terminate_group_run(
    session: Session, group_run_id: int, *, who: str, now: datetime
) -> list[tuple[str, int, int]]:
    """End a group run: runs not on an agent end now; returns (agent, run, attempt) to kill."""
    group_run = session.get(GroupRun, group_run_id)
    if group_run is None:
        raise NotFound("group run", group_run_id)
    if not can_move(group_status(group_run), GroupRunStatus.TERMINATED):
        raise Conflict(f"group run {group_run_id} is {group_run.status}: it has ended")
    to_kill = []
    for run in session.exec(select(Run).where(Run.group_run_id == group_run_id)).all():
        plan = stop_run(session, run, who=who, detail=f"group run terminated by {who}", now=now)
        if plan.tell_agent and run.agent:
            to_kill.append((run.agent, run.id or 0, run.attempt))
    # Ended at once unless a run is on an agent: then when the last killed run ends (settle).
    move_group_run(group_run, GroupRunStatus.TERMINATED, at=now, finished=not to_kill)
    return to_kill
