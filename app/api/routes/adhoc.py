"""/adhoc: one command on chosen agents now, as a batch of runs sharing a `batch_id`.

Each run has no task, `trigger_kind: adhoc` and its agent as its spec's `target`. A batch a
`user` submits waits in PENDING_APPROVAL, run by run, for an operator (approvals.py).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlmodel import Session, col, select

from app.api.deps import AuditDep, ContextDep, OperatorDep, ScopeDep, UserDep, WriterDep
from app.context import AppContext
from app.control_relay import Delivery
from app.db.engine import session_scope
from app.db.runs import create_run
from app.db.sealing import box_of
from app.db.tables import Agent, Run
from app.domain.states import RunStatus, TriggerKind, is_terminal
from app.env_secrets import EnvValues
from app.errors import Conflict, InvalidInput, NotFound
from app.models.schemas import Memory, Mount, RunPublic
from app.protocol.frames import Control
from app.scheduler.operator import stop_run
from app.security import submission_status
from app.services.env_view import audited_run
from app.services.policy_gate import enforce
from app.services.runs_view import run_public

router = APIRouter(prefix="/adhoc", tags=["adhoc"])
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
BatchId = Annotated[str, Path(min_length=1, max_length=64)]


class AdhocRequest(BaseModel):
    """Where: exactly one of `agents` (names), `labels` (every online agent that has them)
    or `all` (every online agent). What: the command and, optionally, its resources."""

    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1, max_length=100_000)
    agents: list[Name] | None = Field(default=None, min_length=1, max_length=10_000)
    labels: dict[str, str] | None = None
    all: bool = False
    image: str | None = Field(default=None, max_length=500)
    cpus: float | None = Field(default=None, gt=0, le=1024)
    memory: Memory | None = None
    gpus: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list)
    mounts: list[Mount] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    workdir: str | None = Field(default=None, max_length=1000)
    run_as_user: str | None = Field(default=None, max_length=100)
    max_run_seconds: float | None = Field(default=None, gt=0)
    instance: Name = "default"

    @model_validator(mode="after")
    def _one_target(self) -> AdhocRequest:
        if not self.command.strip():
            raise ValueError("command: must not be empty")
        chosen = [
            n
            for n, v in (
                ("agents", self.agents),
                ("labels", self.labels),
                ("all", self.all or None),
            )
            if v is not None
        ]
        if len(chosen) != 1:
            raise ValueError(
                f"give exactly one of agents, labels or all (got {', '.join(chosen) or 'none'})"
            )
        return self


class AdhocRun(RunPublic):
    target: str | None = Field(description="The agent this run is for.")


class AdhocBatch(BaseModel):
    batch_id: str
    command: str | None
    # Runs per status, e.g. {"RUNNING": 2, "SUCCESS": 1}.
    summary: dict[str, int]
    done: bool
    runs: list[AdhocRun]


KillOutcome = Literal["killed", "sent", "relayed", "already ended", "not reachable"]


class KilledRun(BaseModel):
    """What a batch kill did to one run: `killed` (ended here, no agent held it), `sent`
    (told its agent, connected to this server), `relayed` (told its agent through the server
    holding it), `already ended`, `not reachable` (no server holds its agent)."""

    run: int
    agent: str | None
    outcome: KillOutcome


class AdhocKill(AdhocBatch):
    killed: list[KilledRun]


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
        "mounts": list(body.mounts),
        "max_run_seconds": body.max_run_seconds,
        "target": agent,
        "labels": {},
        "task_name": None,
        "concurrency": "allow",
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


def _batch(session: Session, batch_id: str, scope: ScopeDep) -> list[Run]:
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


@router.post("", response_model=AdhocBatch, status_code=201)
def submit(
    body: AdhocRequest, context: ContextDep, user: WriterDep, scope: ScopeDep, audit: AuditDep
) -> AdhocBatch:
    """Start the command on every chosen agent now: one run per agent, one `batch_id`."""
    scope.require(body.instance)
    status = submission_status(user.role)
    batch_id = uuid.uuid4().hex
    now = context.clock.now()
    verb = "started" if status is RunStatus.ACTIVE else "submitted for approval"
    with session_scope(context.engine) as session:
        sealed = box_of(session).seal(EnvValues(env=dict(body.env)))
        enforce(session, user.role, _spec(body, ""), body.instance)  # before who is online
        chosen = _agents(session, body)
        enforce(session, user.role, _spec(body, ""), body.instance, chosen)
        runs = [
            create_run(
                session,
                at=now,
                status=status,
                trigger_kind=TriggerKind.ADHOC,
                spec=_spec(body, agent, sealed),
                created_by=user.username,
                instance=body.instance,
                batch_id=batch_id,
                detail=f"adhoc {verb} by {user.username} on {agent}",
            )
            for agent in chosen
        ]
        view = batch_view(batch_id, runs)
        audit(
            session,
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
        context.scheduler.wake_dispatch()
    return view


@router.get("/{batch_id}", response_model=AdhocBatch)
def read(batch_id: BatchId, context: ContextDep, user: UserDep, scope: ScopeDep) -> AdhocBatch:
    return _read(context, batch_id, scope)


def _read(context: AppContext, batch_id: str, scope: ScopeDep) -> AdhocBatch:
    with session_scope(context.engine) as session:
        return batch_view(batch_id, _batch(session, batch_id, scope))


def _stop_here(
    context: AppContext, batch_id: str, scope: ScopeDep, who: str
) -> tuple[list[Run], list[Run], dict[int, KillOutcome]]:
    """End the runs no agent holds yet; return (runs agents must be told to kill, runs whose
    start may be on its way, outcomes so far per run)."""
    now = context.clock.now()
    tell: list[Run] = []
    starting: list[Run] = []
    outcomes: dict[int, KillOutcome] = {}
    with session_scope(context.engine) as session:
        runs = _batch(session, batch_id, scope)
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


async def _kill_on_agent(context: AppContext, run: Run) -> KillOutcome:
    if run.agent is None:
        return "not reachable"
    delivery = await context.controls.deliver(
        run.agent, Control(type="kill", run_id=run.id or 0, attempt=run.attempt)
    )
    if delivery is Delivery.SENT:
        return "sent"
    return "relayed" if delivery is Delivery.RELAYED else "not reachable"


@router.post(
    "/{batch_id}/kill",
    response_model=AdhocKill,
    responses={
        202: {"model": AdhocKill, "description": "Some kills were relayed to other servers"}
    },
)
async def kill(
    batch_id: BatchId,
    context: ContextDep,
    user: OperatorDep,
    scope: ScopeDep,
    audit: AuditDep,
    response: Response,
) -> AdhocKill:
    """Kill every run of the batch that has not ended: those no agent holds end now, those on
    an agent are told to stop (through the server holding it), and `killed` says per run what
    happened. 409 when nothing could be stopped (all ended, or no server holds their agents)."""
    tell, starting, outcomes = await anyio.to_thread.run_sync(
        _stop_here, context, batch_id, scope, user.username
    )
    told = await asyncio.gather(*(_kill_on_agent(context, run) for run in tell))
    outcomes.update({run.id or 0: outcome for run, outcome in zip(tell, told, strict=True)})
    for run in starting:  # ended here; its start may already be on its way
        if run.agent:
            await context.controls.tell(
                run.agent, Control(type="kill", run_id=run.id or 0, attempt=run.attempt)
            )
    agents = {run.id or 0: run.agent for run in [*tell, *starting]}
    killed = [
        KilledRun(run=run_id, agent=agents.get(run_id), outcome=outcome)
        for run_id, outcome in sorted(outcomes.items())
    ]
    view = await anyio.to_thread.run_sync(_read, context, batch_id, scope)
    await anyio.to_thread.run_sync(
        lambda: audit.log(
            action="adhoc.kill",
            target_kind="batch",
            target_id=batch_id,
            after={"runs": {str(k.run): k.outcome for k in killed}},
            instance=view.runs[0].instance,
        )
    )
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
    if any(k.outcome == "relayed" for k in killed):
        response.status_code = 202
    return AdhocKill(**view.model_dump(), killed=killed)
