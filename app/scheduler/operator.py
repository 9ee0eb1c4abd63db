"""Operator controls on group runs: force past upstreams, re-run downstream, mark success,
terminate. Pure database work; the caller sends kill messages and wakes dispatch."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from app.db.group_run_moves import move_group_run
from app.db.groups import group_edges, member_ids
from app.db.run_commands import apply
from app.db.tables import GroupRun, Run
from app.domain import run_commands as c
from app.domain.dag import rerun_set
from app.domain.group_run_states import GroupRunStatus, can_move
from app.domain.run_lifecycle import KillPlan
from app.domain.states import RunStatus, is_terminal
from app.errors import Conflict, NotFound


def force_past_upstreams(session: Session, run: Run, *, who: str, now: datetime) -> None:
    apply(session, run, c.ForcePastUpstreams(who), now=now)


def rerun_with_downstream(session: Session, run: Run, *, who: str, now: datetime) -> list[int]:
    """Start `run` again, and with it everything downstream in its group run."""
    if not is_terminal(run.status):  # refused before anything moves
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
        if not is_terminal(target.status):
            continue
        upstream = None if target is run else run.id
        apply(session, target, c.Rerun(who, upstream), now=now)
        restarted.append(target.id or 0)
    return restarted


def mark_success(session: Session, run: Run, *, who: str, why: str, now: datetime) -> list[int]:
    """A failed run marked SUCCESS by hand releases what it had held downstream."""
    apply(session, run, c.MarkSuccess(who, why), now=now)
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
                Run.status == RunStatus.SKIPPED,
                col(Run.started_at).is_(None),
            )
        ).all()
        for target in skipped:
            apply(session, target, c.Release(run.id or 0), now=now)
            released.append(target.id or 0)
        move_group_run(group_run, GroupRunStatus.RUNNING, at=now)
    return released


def stop_run(session: Session, run: Run, *, who: str, detail: str, now: datetime) -> KillPlan:
    """Kill `run` as the lifecycle decides: what ends here ends now; the caller tells the
    agent when the plan says so (after the commit: the ending is stored first). An ended run
    is left as it is."""
    if is_terminal(run.status):
        return KillPlan(None, tell_agent=False)
    decision = apply(session, run, c.Kill(who, detail), now=now)
    return KillPlan(decision.status, tell_agent=decision.tells())


def terminate_group_run(
    session: Session, group_run_id: int, *, who: str, now: datetime
) -> list[tuple[str, int, int]]:
    """End a group run: runs not on an agent end now; returns (agent, run, attempt) to kill."""
    group_run = session.get(GroupRun, group_run_id)
    if group_run is None:
        raise NotFound("group run", group_run_id)
    if not can_move(group_run.status, GroupRunStatus.TERMINATED):
        raise Conflict(f"group run {group_run_id} is {group_run.status}: it has ended")
    to_kill = []
    for run in session.exec(select(Run).where(Run.group_run_id == group_run_id)).all():
        plan = stop_run(session, run, who=who, detail=f"group run terminated by {who}", now=now)
        if plan.tell_agent and run.agent:
            to_kill.append((run.agent, run.id or 0, run.attempt))
    # Ended at once unless a run is on an agent: then when the last killed run ends (settle).
    move_group_run(group_run, GroupRunStatus.TERMINATED, at=now, finished=not to_kill)
    return to_kill
