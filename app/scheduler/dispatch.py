"""Dispatch: choose an agent for each ACTIVE run and mark it TRIGGER (sent, awaiting ack)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, or_, select

from app.agents.protocol import StartRun
from app.db.runs import transition
from app.db.sealing import box_or_none, spec_env
from app.db.tables import Run
from app.domain import run_spec
from app.domain.run_policy import RunPolicy, check_resolved
from app.domain.states import ON_AGENT, RunStatus
from app.env_secrets import EnvBox
from app.scheduler.group_runs import Blockers

DISPATCH_BATCH = 1000


@dataclass(kw_only=True)
class AgentSlot:
    """What dispatch knows of a connected agent."""

    name: str
    labels: dict[str, str]
    max_runs: int | None
    running: int
    docker: bool
    draining: bool = False
    # What the agent reports keeps it from taking work (e.g. "spool full: ..."), if anything.
    problem: str | None = None
    # What the agent says it enforces itself (None: it reports nothing, so nothing is known).
    policy: RunPolicy | None = None

    @property
    def has_room(self) -> bool:
        return not self.draining and (self.max_runs is None or self.running < self.max_runs)


def choose_agent(spec: dict[str, object], agents: Sequence[AgentSlot]) -> AgentSlot | str:
    """The agent to run `spec` on, or the reason why none can take it now."""
    target = spec.get("target")
    if target:
        matches = [a for a in agents if a.name == target]
        if not matches:
            return f"waiting for agent {target} to be online"
    else:
        matches = list(agents)
        if not matches:
            return "waiting for an online agent"
    selector = spec.get("labels") or {}
    assert isinstance(selector, dict)
    matches = [a for a in matches if all(a.labels.get(k) == v for k, v in selector.items())]
    if not matches:
        wanted = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        return f"waiting for an online agent with labels {wanted}"
    if spec.get("image"):
        matches = [a for a in matches if a.docker]
        if not matches:
            return "waiting for an online agent with Docker"
    healthy = [a for a in matches if a.problem is None]
    if not healthy:
        by_name = sorted(matches, key=lambda a: a.name)
        problems = "; ".join(f"{a.name}: {a.problem}" for a in by_name)
        return f"waiting for a healthy agent ({problems})"
    matches = healthy
    allowed = [a for a in matches if a.policy is None or not check_resolved(spec, a.policy)]
    if not allowed:
        first = matches[0]
        assert first.policy is not None
        return (
            f"waiting for an agent whose policy allows this run ({first.name}: "
            f"{check_resolved(spec, first.policy)[0]})"
        )
    matches = allowed
    free = [a for a in matches if a.has_room]
    if not free:
        return "waiting for a free slot on " + ", ".join(sorted(a.name for a in matches))
    return min(free, key=lambda a: (a.running, a.name))


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
    stmt = (
        select(Run)
        .where(
            Run.status == RunStatus.ACTIVE.value,
            or_(col(Run.not_before).is_(None), col(Run.not_before) <= now),
        )
        .order_by(col(Run.trigger_time), col(Run.id))
        .limit(DISPATCH_BATCH)
        .with_for_update(skip_locked=True)
    )
    sends: list[tuple[str, StartRun]] = []
    # Tasks with `queue` concurrency run one at a time, oldest first.
    busy = _tasks_on_agents(session)
    blockers = Blockers(session)
    box = box_or_none(session)  # one key ring for the pass
    for run in session.exec(stmt).all():
        waiting = blockers.of(run)
        if waiting:
            more = f" (+{len(waiting) - 1} more)" if len(waiting) > 1 else ""
            _wait(run, str(waiting[0]["detail"]) + more)
            continue
        queued = run.spec.get("concurrency") == "queue" and run.task_id is not None
        if queued and run.task_id in busy:
            _wait(run, "waiting for the previous run of this task to finish")
            continue
        choice = choose_agent(run.spec, agents)
        if queued:
            busy.add(run.task_id or 0)
        if isinstance(choice, str):
            _wait(run, choice)
            continue
        if not _as_approved(session, run, now):
            continue
        choice.running += 1
        spec = dict(run.spec)
        spec["_dispatches"] = int(spec.get("_dispatches", 0)) + 1
        released = blockers.released_at(run) if observe_hop else None
        if observe_hop and released is not None:
            observe_hop((now - released).total_seconds())
        transition(
            session,
            run,
            RunStatus.TRIGGER,
            at=now,
            agent=choice.name,
            dispatched_at=now,
            reason=None,
            spec=spec,
            detail=f"dispatched to {choice.name}",
        )
        sends.append((choice.name, start_message(run, box)))
    return sends


def _as_approved(session: Session, run: Run, now: datetime) -> bool:
    """An approved run runs the spec that was approved or nothing: one changed since (by
    whatever path) fails instead."""
    approved = run.spec.get(run_spec.APPROVED)
    if approved is None or run_spec.digest(run.spec) == approved:
        return True
    transition(
        session,
        run,
        RunStatus.FAILED,
        at=now,
        reason="spec changed after approval: not run",
        detail=f"spec digest is no longer the approved {str(approved)[:12]}",
    )
    return False


def _wait(run: Run, reason: str) -> None:
    """Say why `run` waits; a reason that did not change leaves the row untouched (a pass over
    many waiting runs then writes nothing)."""
    if run.reason != reason:
        run.reason = reason


def _tasks_on_agents(session: Session) -> set[int]:
    stmt = (
        select(Run.task_id)
        .where(col(Run.status).in_([s.value for s in ON_AGENT]), col(Run.task_id).is_not(None))
        .distinct()
    )
    return {int(tid) for tid in session.exec(stmt).all() if tid is not None}


def running_counts(session: Session) -> dict[str, int]:
    """Runs each agent holds now, from the database (the truth across restarts)."""
    stmt = select(Run.agent).where(col(Run.status).in_([s.value for s in ON_AGENT]))
    counts: dict[str, int] = {}
    for name in session.exec(stmt).all():
        if name:
            counts[name] = counts.get(name, 0) + 1
    return counts
