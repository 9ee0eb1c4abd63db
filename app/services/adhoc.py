"""Adhoc batches: one command on chosen agents now, one run per agent sharing a `batch_id`;
read a batch in the caller's scope; kill what of it has not ended.

Each run has no task, `trigger_kind: adhoc` and its agent as its spec's `target`. A batch a
`user` submits waits in PENDING_APPROVAL, run by run, for an operator (approvals.py).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from app.control_relay import ControlRelay, Delivery
from app.db.capacity_check import check_fits_somewhere
from app.db.engine import session_scope
from app.db.pools import check_pool, lock_dicts
from app.db.runs import create_run
from app.db.sealing import box_of
from app.db.tables import Agent, Run
from app.db.unit_of_work import record
from app.domain.events import DispatchWanted
from app.domain.roles import Role
from app.domain.states import RunStatus, TriggerKind, is_terminal
from app.env_secrets import EnvValues
from app.errors import Conflict, InvalidInput, NotFound
from app.models.adhoc_schemas import (
    AdhocBatch,
    AdhocKill,
    AdhocRequest,
    AdhocRun,
    KilledRun,
    KillOutcome,
)
from app.protocol.frames import Control
from app.scheduler.operator import stop_run
from app.security import submission_status
from app.services.actor import Actor
from app.services.env_view import audited_run
from app.services.policy_gate import enforce
from app.services.runs_view import run_public
from app.services.scope import InstanceScope


def _spec(body: AdhocRequest, agent: str, sealed: str | None = None) -> dict[str, Any]:
    """`sealed`: the env sealed (app/db/sealing.py); without it the env is left out."""
    return {
        "command": body.command,
        "image": body.image,
        **({"env_sealed": sealed} if sealed else {"env": {}}),
        "workdir": body.workdir,
        "run_as_user": body.run_as_user,
        "cpus": body.cpus,
        "memory": body.memory,
        "gpus": list(body.gpus),
        **({"gpu_count": body.gpu_count} if body.gpu_count else {}),
        **({"numa_node": body.numa_node} if body.numa_node is not None else {}),
        "mounts": list(body.mounts),
        "max_run_seconds": body.max_run_seconds,
        "target": agent,
        "labels": {},
        "task_name": None,
        "concurrency": "allow",
        # Admission: settled onto the run when it is stored (app/db/run_admission.py).
        "pool": body.pool,
        "pool_slots": body.pool_slots or 1,
        "locks": lock_dicts(body.locks),
        "priority": body.priority or 0,
    }


def _agents(session: Session, body: AdhocRequest) -> list[str]:
    if body.agents is not None:
        wanted = sorted(set(body.agents))
        known = set(session.exec(select(Agent.name).where(col(Agent.name).in_(wanted))).all())
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise InvalidInput("agents", "unknown agent " + ", ".join(repr(n) for n in unknown))
        return wanted
    online = session.exec(
        select(Agent).where(Agent.status == "online").order_by(col(Agent.name))
    ).all()
    if body.all:
        if not online:
            raise InvalidInput("all", "no agent is online")
        return [a.name for a in online]
    selector = body.labels or {}
    chosen = [a.name for a in online if all(a.labels.get(k) == v for k, v in selector.items())]
    if not chosen:
        labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        raise InvalidInput("labels", f"no online agent has the labels {labels or '(none)'}")
    return chosen


def _batch(session: Session, batch_id: str, scope: InstanceScope) -> list[Run]:
    runs = [
        r
        for r in session.exec(
            select(Run).where(Run.batch_id == batch_id).order_by(col(Run.agent), col(Run.id))
        ).all()
        if scope.allows(r.instance)
    ]
    if not runs:
        raise NotFound("adhoc batch", batch_id)
    return runs


def batch_view(batch_id: str, runs: list[Run]) -> AdhocBatch:
    summary: dict[str, int] = {}
    for run in runs:
        summary[run.status] = summary.get(run.status, 0) + 1
    return AdhocBatch(
        batch_id=batch_id,
        command=runs[0].spec.get("command") if runs else None,
        summary=dict(sorted(summary.items())),
        done=all(is_terminal(RunStatus(r.status)) for r in runs),
        runs=[AdhocRun(**run_public(r).model_dump(), target=r.spec.get("target")) for r in runs],
    )


def submit_batch(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    body: AdhocRequest,
) -> AdhocBatch:
    """Start the command on every chosen agent now: one run per agent, one `batch_id`."""
    actor.require(Role.USER)
    actor.scope.require(body.instance)
    status = submission_status(actor.role)
    batch_id = uuid.uuid4().hex
    verb = "started" if status is RunStatus.ACTIVE else "submitted for approval"
    with session_scope(engine) as session:
        check_pool(session, instance=body.instance, pool=body.pool, slots=body.pool_slots)
        sealed = box_of(session).seal(EnvValues(env=dict(body.env)))
        enforce(session, actor.role, _spec(body, ""), body.instance)  # before who is online
        chosen = _agents(session, body)
        enforce(session, actor.role, _spec(body, ""), body.instance, chosen)
        for agent in chosen:
            check_fits_somewhere(session, _spec(body, agent))
        runs = [
            create_run(
                session,
                at=now,
                status=status,
                trigger_kind=TriggerKind.ADHOC,
                spec=_spec(body, agent, sealed),
                created_by=actor.username,
                instance=body.instance,
                batch_id=batch_id,
                detail=f"adhoc {verb} by {actor.username} on {agent}",
            )
            for agent in chosen
        ]
        view = batch_view(batch_id, runs)
        actor.audit(
            session,
            at=now,
            action="adhoc.submit",
            target_kind="batch",
            target_id=batch_id,
            after={
                "command": body.command,
                "agents": [r.spec["target"] for r in runs],
                "status": status.value,
                "runs": [audited_run(session, r) for r in runs],
            },
            instance=body.instance,
        )
        if status is RunStatus.ACTIVE:
            record(session, DispatchWanted())
    return view


def read_batch(session: Session, *, actor: Actor, batch_id: str) -> AdhocBatch:
    return batch_view(batch_id, _batch(session, batch_id, actor.scope))


def recent_batches(session: Session, *, actor: Actor, limit: int = 8) -> list[dict[str, Any]]:
    """The latest adhoc batches the caller may see: id, command, runs, newest run id."""
    rows = session.exec(
        select(Run.batch_id, func.max(Run.id), func.count())
        .where(
            Run.trigger_kind == "adhoc",
            col(Run.batch_id).is_not(None),
            actor.scope.condition(Run.instance),
        )
        .group_by(col(Run.batch_id))
        .order_by(func.max(Run.id).desc())
        .limit(limit)
    ).all()
    newest = {
        r.id: r
        for r in session.exec(select(Run).where(col(Run.id).in_([row[1] for row in rows]))).all()
    }
    return [
        {
            "batch_id": batch,
            "runs": count,
            "command": newest[last].spec.get("command"),
            "at": newest[last].created_at,
        }
        for batch, last, count in rows
        if last in newest
    ]


def _stop_here(
    engine: Engine, actor: Actor, now: datetime, batch_id: str
) -> tuple[list[Run], list[Run], dict[int, KillOutcome]]:
    """End the runs no agent holds yet; return (runs agents must be told to kill, runs whose
    start may be on its way, outcomes so far per run)."""
    who = actor.username
    tell: list[Run] = []
    starting: list[Run] = []
    outcomes: dict[int, KillOutcome] = {}
    with session_scope(engine) as session:
        runs = _batch(session, batch_id, actor.scope)
        for run in session.exec(
            select(Run).where(col(Run.id).in_([r.id for r in runs])).with_for_update()
        ).all():
            run_id = run.id or 0
            plan = stop_run(session, run, who=who, detail=f"batch killed by {who}", now=now)
            if plan.end_here is not None:
                outcomes[run_id] = "killed"
                if plan.tell_agent:
                    starting.append(run)
            elif plan.tell_agent:
                outcomes[run_id] = "killed"
                tell.append(run)
            else:
                outcomes[run_id] = "already ended"
        return tell, starting, outcomes


async def _kill_on_agent(controls: ControlRelay, run: Run) -> KillOutcome:
    if run.agent is None:
        return "not reachable"
    delivery = await controls.deliver(
        run.agent, Control(type="kill", run_id=run.id or 0, attempt=run.attempt)
    )
    if delivery is Delivery.SENT:
        return "sent"
    return "relayed" if delivery is Delivery.RELAYED else "not reachable"


def _finish_kill(
    engine: Engine, actor: Actor, now: datetime, batch_id: str, killed: list[KilledRun]
) -> AdhocBatch:
    with session_scope(engine) as session:
        view = read_batch(session, actor=actor, batch_id=batch_id)
        actor.audit(
            session,
            at=now,
            action="adhoc.kill",
            target_kind="batch",
            target_id=batch_id,
            after={"runs": {str(k.run): k.outcome for k in killed}},
            instance=view.runs[0].instance,
        )
        return view


async def kill_batch(
    engine: Engine, *, actor: Actor, now: datetime, batch_id: str, controls: ControlRelay
) -> AdhocKill:
    """Kill every run of the batch that has not ended: those no agent holds end now, those on
    an agent are told to stop (through the server holding it), and `killed` says per run what
    happened. Conflict when nothing could be stopped (all ended, or no server holds their
    agents). The database work runs in worker threads."""
    actor.require(Role.OPERATOR)
    tell, starting, outcomes = await anyio.to_thread.run_sync(
        _stop_here, engine, actor, now, batch_id
    )
    told = await asyncio.gather(*(_kill_on_agent(controls, run) for run in tell))
    outcomes.update({run.id or 0: outcome for run, outcome in zip(tell, told, strict=True)})
    for run in starting:  # ended here; its start may already be on its way
        if run.agent:
            await controls.tell(
                run.agent, Control(type="kill", run_id=run.id or 0, attempt=run.attempt)
            )
    agents = {run.id or 0: run.agent for run in [*tell, *starting]}
    killed = [
        KilledRun(run=run_id, agent=agents.get(run_id), outcome=outcome)
        for run_id, outcome in sorted(outcomes.items())
    ]
    view = await anyio.to_thread.run_sync(_finish_kill, engine, actor, now, batch_id, killed)
    if not any(k.outcome in ("killed", "sent", "relayed") for k in killed):
        raise Conflict(
            f"nothing of batch {batch_id} was stopped: "
            + ", ".join(
                f"run {k.run} {k.outcome}"
                + (
                    f" (agent {k.agent} is not connected to any server)"
                    if k.outcome == "not reachable"
                    else ""
                )
                for k in killed
            )
        )
    return AdhocKill(**view.model_dump(), killed=killed)
