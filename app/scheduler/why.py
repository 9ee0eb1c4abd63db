"""Why is this run not running? Every blocker of an IDLE or ACTIVE run, in words and data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.db.tables import Freeze, GroupRun, Run, Task, TaskGroup
from app.domain.admission import ask_of_row, is_gate_reason
from app.domain.capacity import request_of
from app.domain.placement import AgentSlot
from app.domain.placer import choose_agent
from app.domain.states import ON_AGENT, RunStatus
from app.scheduler.admission import load_gates
from app.scheduler.group_runs import Blockers


def waiting_for(
    session: Session,
    run: Run,
    *,
    agents: Sequence[AgentSlot],
    now: datetime,
    offline: Sequence[AgentSlot] = (),
) -> list[dict[str, Any]]:
    status = run.status
    if status is RunStatus.PENDING_APPROVAL:
        return [{"kind": "approval", "detail": "waiting for an operator's approval"}]
    if status not in (RunStatus.IDLE, RunStatus.ACTIVE):
        return []
    items: list[dict[str, Any]] = []
    if status is RunStatus.IDLE and run.trigger_time and run.trigger_time > now:
        items.append(
            {
                "kind": "trigger_time",
                "at": run.trigger_time.isoformat(),
                "detail": f"trigger time {run.trigger_time.isoformat()}",
            }
        )
    if run.not_before and run.not_before > now:
        items.append(
            {
                "kind": "not_before",
                "at": run.not_before.isoformat(),
                "detail": f"not before {run.not_before.isoformat()}",
            }
        )
    task = session.get(Task, run.task_id) if run.task_id else None
    items += _frozen(session, run, task)
    items += Blockers(session).of(run)
    if task is not None and task.concurrency == "queue":
        earlier = session.exec(
            select(Run.id, Run.status).where(
                Run.task_id == task.id,
                Run.id != run.id,
                col(Run.status).in_(list(ON_AGENT)),
            )
        ).first()
        if earlier is not None:
            items.append(
                {
                    "kind": "concurrency",
                    "run": earlier[0],
                    "detail": f"waiting for run {earlier[0]} of this task ({earlier[1]})",
                }
            )
    items += _gates(session, run)
    choice = choose_agent(run.spec, agents, offline=offline)
    if isinstance(choice, str):
        items.append({"kind": "agent", "detail": choice, "request": request_of(run.spec).words()})
    return items


def _gates(session: Session, run: Run) -> list[dict[str, Any]]:
    """Pools, locks and quotas that keep the run waiting; a place kept by a run ahead in the
    queue is known only to the last dispatch pass, so its reason is repeated."""
    denials = load_gates(session).denials(ask_of_row(run))
    items: list[dict[str, Any]] = [
        {"kind": d.kind, d.kind: d.name, "detail": d.detail} for d in denials
    ]
    if not items and run.status is RunStatus.ACTIVE and run.reason and is_gate_reason(run.reason):
        items.append({"kind": "queue", "detail": run.reason})
    return items


def _frozen(session: Session, run: Run, task: Task | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    group = None
    if run.group_run_id is not None:
        group_run = session.get(GroupRun, run.group_run_id)
        group = session.get(TaskGroup, group_run.group_id) if group_run else None
    elif task is not None and task.group_id is not None:
        group = session.get(TaskGroup, task.group_id)
    if group is not None and not group.active:
        items.append(
            {
                "kind": "group_frozen",
                "group": group.id,
                "detail": f"group {group.name} is frozen (inactive)",
            }
        )
    if run.status == RunStatus.IDLE and task is not None and run.trigger_time:
        zone = ZoneInfo(str((task.schedule or {}).get("timezone") or "UTC"))
        day = run.trigger_time.astimezone(zone).date()
        row = session.exec(
            select(Freeze).where(Freeze.task_id == task.id, Freeze.day == day)
        ).first()
        if row is not None:
            items.append(
                {
                    "kind": "frozen_date",
                    "date": day.isoformat(),
                    "detail": f"task frozen on {day.isoformat()}",
                }
            )
    return items
