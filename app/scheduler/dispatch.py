"""Dispatch: choose an agent for each ACTIVE run and mark it TRIGGER (sent, awaiting ack)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache

from sqlalchemy import String, cast
from sqlmodel import Session, and_, col, or_, select

from app.db.run_commands import apply
from app.db.run_inputs import PassCache, context_for, expand_spec
from app.db.run_results import upstream_environment, upstream_outputs, upstream_results
from app.db.sealing import box_or_none, spec_env
from app.db.tables import Agent, Run
from app.db.variable_sets import pin_variables
from app.domain import run_commands as c
from app.domain import run_spec
from app.domain.capacity import Allocation, capacity_of
from app.domain.placeholders import PlaceholderContext, PlaceholderError
from app.domain.placement import AgentSlot, Policy
from app.domain.placer import Placer
from app.domain.states import ON_AGENT, RunStatus
from app.env_secrets import EnvBox
from app.protocol.frames import StartRun
from app.scheduler.group_runs import Blockers

DISPATCH_BATCH = 1000
# A pass reads the next page of ready runs (oldest first) while the page before placed
# some, so a burst of 10,000 starts in one pass; at most this many pages a pass. A page
# that placed nothing ends the pass: runs further back wait until the head of the queue
# moves (a pass reads no more than it can use when nothing fits).
DISPATCH_PAGES = 10


def start_message(
    run: Run,
    box: EnvBox | None = None,
    context: PlaceholderContext | None = None,
    inputs: dict[str, str] | None = None,
) -> StartRun:
    """The start frame: the only place a run's sealed environment is opened. With a
    `context`, placeholders are expanded and the run-context variables added (after the
    approval check: the approved spec is what expands). PlaceholderError when the run lacks
    a value a placeholder names. `inputs`: the environment its variable sets and upstream
    results add (never stored in plain text)."""
    spec = run.spec
    values = spec_env(spec, box)
    if context is None:
        command, env = str(spec["command"]), values.for_command()
        workdir, mounts = spec.get("workdir"), list(spec.get("mounts") or [])
    else:
        done = expand_spec(spec, values.env, values.secrets, run, context)
        command, env, workdir, mounts = done.command, done.env, done.workdir, done.mounts
    return StartRun(
        run_id=run.id or 0,
        attempt=run.attempt,
        command=command,
        image=spec.get("image"),
        env={**env, **(inputs or {})},
        workdir=workdir,
        run_as_user=spec.get("run_as_user"),
        cpus=spec.get("cpus"),
        memory=spec.get("memory"),
        gpus=_gpus_held(run),
        numa_node=spec.get("numa_node"),
        mounts=mounts,
        max_run_seconds=spec.get("max_run_seconds"),
    )


def _gpus_held(run: Run) -> list[int]:
    """The GPUs placement gave the run (any N free ones for `gpu_count`), else those it
    names."""
    if run.allocation:
        return sorted(Allocation.from_json(run.allocation).gpus)
    return list(run.spec.get("gpus") or [])


def _ready_page(session: Session, now: datetime, after: Run | None) -> list[Run]:
    """The next DISPATCH_BATCH ready ACTIVE runs, oldest first, after `after`."""
    stmt = select(Run).where(
        Run.status == RunStatus.ACTIVE,
        or_(col(Run.not_before).is_(None), col(Run.not_before) <= now),
    )
    if after is not None:
        stmt = stmt.where(
            or_(
                col(Run.trigger_time) > after.trigger_time,
                and_(col(Run.trigger_time) == after.trigger_time, col(Run.id) > after.id),
            )
        )
    stmt = (
        stmt.order_by(col(Run.trigger_time), col(Run.id))
        .limit(DISPATCH_BATCH)
        .with_for_update(skip_locked=True)
    )
    return list(session.exec(stmt).all())


def dispatch_pending(
    session: Session,
    *,
    now: datetime,
    agents: Sequence[AgentSlot],
    observe_hop: Callable[[float], None] | None = None,
    policy: Policy = "spread",
) -> list[tuple[str, StartRun]]:
    """Assign ready ACTIVE runs to agents; returns the start messages to send after commit."""
    sends: list[tuple[str, StartRun]] = []
    # Tasks with `queue` concurrency run one at a time, oldest first.
    busy = _tasks_on_agents(session)
    blockers = Blockers(session)
    box = box_or_none(session)  # one key ring for the pass
    placer = Placer(agents, policy=policy, offline=offline_slots(session, agents))
    cache = PassCache()  # one read of each task, group and calendar for the pass
    after: Run | None = None
    for _ in range(DISPATCH_PAGES):
        page = _ready_page(session, now, after)
        cache.preload(session, page)
        placed_before = len(sends)
        for run in page:
            waiting = blockers.of(run)
            if waiting:
                more = f" (+{len(waiting) - 1} more)" if len(waiting) > 1 else ""
                _wait(run, str(waiting[0]["detail"]) + more)
                continue
            queued = run.spec.get("concurrency") == "queue" and run.task_id is not None
            if queued and run.task_id in busy:
                _wait(run, "waiting for the previous run of this task to finish")
                continue
            placed = placer.place(run.spec)
            if queued:
                busy.add(run.task_id or 0)
            if isinstance(placed, str):
                _wait(run, placed)
                continue
            if not _as_approved(session, run, now):
                continue
            released = blockers.released_at(run) if observe_hop else None
            if observe_hop and released is not None:
                observe_hop((now - released).total_seconds())
            run.allocation = placed.allocation.to_json()
            try:
                environment = run_inputs_environment(session, run)  # pins its variables
                message = start_message(run, box, context_for(session, run, cache), environment)
            except PlaceholderError as exc:
                run.allocation = None  # it holds nothing: it ends here
                apply(session, run, c.ExpansionFailed(str(exc)), now=now)
                continue
            message.inputs = upstream_outputs(session, run)
            apply(session, run, c.Dispatch(placed.agent.name), now=now)
            sends.append((placed.agent.name, message))
        if len(page) < DISPATCH_BATCH or len(sends) == placed_before:
            break  # read all, or this page placed nothing: the next would place nothing
        after = page[-1]
    return sends


def run_inputs_environment(session: Session, run: Run) -> dict[str, str]:
    """`ALMANAC_VAR_*` (the variables, pinned for this dispatch) and `ALMANAC_UPSTREAM_*`."""
    variables = pin_variables(session, run)
    return {
        **variables.environment(),
        **upstream_environment(upstream_results(session, run)),
    }


def offline_slots(session: Session, connected: Sequence[AgentSlot]) -> list[AgentSlot]:
    """Agents the database knows as offline: reasons name them."""
    here = {a.name for a in connected}
    rows = session.exec(
        select(Agent.name, Agent.labels, Agent.docker, Agent.resources).where(
            Agent.status == "offline"
        )
    ).all()
    return [
        AgentSlot(
            name=name,
            labels=dict(labels or {}),
            max_runs=None,
            running=0,
            docker=bool(docker),
            capacity=capacity_of(resources) if "cpus" in (resources or {}) else None,
        )
        for name, labels, docker, resources in rows
        if name not in here
    ]


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


def allocations(session: Session) -> dict[str, Allocation]:
    """What the runs each agent holds now hold, from the database: a run releases what it
    held by leaving the statuses an agent holds it in, whichever way it leaves."""
    return agent_load(session)[1]


def agent_load(session: Session) -> tuple[dict[str, int], dict[str, Allocation]]:
    """The runs each agent holds and what they hold, in one read. Allocations are read as
    text and decoded once per distinct value (runs mostly hold alike: "1 GPU", "2 cores")."""
    stmt = select(Run.agent, cast(Run.allocation, String)).where(col(Run.status).in_(ON_AGENT))
    counts: dict[str, int] = {}
    held: dict[str, Allocation] = {}
    for name, text in session.exec(stmt).all():
        if not name:
            continue
        counts[name] = counts.get(name, 0) + 1
        if text and text != "null":
            one = _decoded(text)
            if one is not None:
                held.setdefault(name, Allocation()).add(one)
    return counts, held


@lru_cache(maxsize=4096)
def _decoded(text: str) -> Allocation | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return Allocation.from_json(data) if isinstance(data, dict) else None
