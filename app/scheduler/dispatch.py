"""Dispatch: choose an agent for each ACTIVE run and mark it TRIGGER (sent, awaiting ack)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from app.db.run_commands import apply
from app.db.sealing import box_or_none, spec_env
from app.db.tables import Run
from app.domain import run_commands as c
from app.domain import run_spec
from app.domain.admission import ask_of
from app.domain.placement import AgentSlot, choose_agent
from app.domain.states import ON_AGENT
from app.env_secrets import EnvBox
from app.protocol.frames import StartRun
from app.scheduler.admission import DISPATCH_BATCH, load_gates, ready_runs
from app.scheduler.group_runs import Blockers

__all__ = ["DISPATCH_BATCH", "dispatch_pending", "running_counts", "start_message"]


def start_message(run: Run, box: EnvBox | None = None) -> StartRun:
    """The start frame: the only place a run's sealed environment is opened."""
    spec = run.spec
    return StartRun(
        run_id=run.id or 0,
        attempt=run.attempt,
        command=str(spec["command"]),
        image=spec.get("image"),
        env=spec_env(spec, box).for_command(),
        workdir=spec.get("workdir"),
        run_as_user=spec.get("run_as_user"),
        cpus=spec.get("cpus"),
        memory=spec.get("memory"),
        gpus=spec.get("gpus") or [],
        mounts=spec.get("mounts") or [],
        max_run_seconds=spec.get("max_run_seconds"),
    )


def dispatch_pending(
    session: Session,
    *,
    now: datetime,
    agents: Sequence[AgentSlot],
    observe_hop: Callable[[float], None] | None = None,
) -> list[tuple[str, StartRun]]:
    """Assign ready ACTIVE runs to agents; returns the start messages to send after commit."""
    sends: list[tuple[str, StartRun]] = []
    # Tasks with `queue` concurrency run one at a time, oldest first.
    busy = _tasks_on_agents(session)
    blockers = Blockers(session)
    box = box_or_none(session)  # one key ring for the pass
    gates = load_gates(session)  # pools, locks, quotas (app/domain/admission.py)
    for run in ready_runs(session, now=now, gates=gates):
        waiting = blockers.of(run)
        if waiting:
            more = f" (+{len(waiting) - 1} more)" if len(waiting) > 1 else ""
            _wait(run, str(waiting[0]["detail"]) + more)
            continue
        queued = run.spec.get("concurrency") == "queue" and run.task_id is not None
        if queued and run.task_id in busy:
            _wait(run, "waiting for the previous run of this task to finish")
            continue
        if queued:
            busy.add(run.task_id or 0)
        ask = ask_of(run.id or 0, run.instance, run.spec)
        denials = gates.denials(ask)
        if denials:
            gates.refuse(ask, denials)
            _wait(run, denials[0].detail)
            continue
        choice = choose_agent(run.spec, agents)
        if isinstance(choice, str):
            _wait(run, choice)
            continue
        if not _as_approved(session, run, now):
            continue
        choice.running += 1
        gates.take(ask)
        released = blockers.released_at(run) if observe_hop else None
        if observe_hop and released is not None:
            observe_hop((now - released).total_seconds())
        apply(session, run, c.Dispatch(choice.name), now=now)
        sends.append((choice.name, start_message(run, box)))
    return sends


def _as_approved(session: Session, run: Run, now: datetime) -> bool:
    """An approved run runs the spec that was approved or nothing: one changed since (by
    whatever path) fails instead."""
    approved = run.spec.get(run_spec.APPROVED)
    if approved is None or run_spec.digest(run.spec) == approved:
        return True
    apply(session, run, c.SpecChanged(str(approved)), now=now)
    return False


def _wait(run: Run, reason: str) -> None:
    """Say why `run` waits; a reason that did not change leaves the row untouched (a pass over
    many waiting runs then writes nothing)."""
    if run.reason != reason:
        run.reason = reason


def _tasks_on_agents(session: Session) -> set[int]:
    stmt = (
        select(Run.task_id)
        .where(col(Run.status).in_(ON_AGENT), col(Run.task_id).is_not(None))
        .distinct()
    )
    return {int(tid) for tid in session.exec(stmt).all() if tid is not None}


def running_counts(session: Session) -> dict[str, int]:
    """Runs each agent holds now, from the database (the truth across restarts)."""
    stmt = select(Run.agent).where(col(Run.status).in_(ON_AGENT))
    counts: dict[str, int] = {}
    for name in session.exec(stmt).all():
        if name:
            counts[name] = counts.get(name, 0) + 1
    return counts
