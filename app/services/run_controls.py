"""An operator's controls of one run: kill, pause and resume (sent to its agent, here or
through the server holding it), force past its upstreams, re-run it with its downstream,
mark it SUCCESS by hand; each audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import anyio
from sqlalchemy import Engine
from sqlmodel import Session

from app.control_relay import ControlRelay, Delivery
from app.db.engine import session_scope
from app.db.run_commands import facts_of
from app.db.runs import get_run
from app.db.tables import Run
from app.db.unit_of_work import record
from app.domain import run_commands as c
from app.domain.events import DispatchWanted
from app.domain.roles import Role
from app.domain.run_decision import TellAgent
from app.domain.run_lifecycle import decide
from app.errors import Conflict
from app.models.schemas import RunPublic
from app.protocol.frames import Control
from app.scheduler.operator import (
    force_past_upstreams,
    mark_success,
    rerun_with_downstream,
    stop_run,
)
from app.services.actor import Actor
from app.services.policy_gate import enforce
from app.services.run_requests import give_new_params
from app.services.runs import visible_run
from app.services.runs_view import run_public


@dataclass(frozen=True)
class Controlled:
    """The run as it is after the control, and whether the control went through another
    server (the API answers 202 then)."""

    run: RunPublic
    relayed: bool = False


def _visible(engine: Engine, actor: Actor, run_id: int) -> Run:
    with session_scope(engine) as session:
        return visible_run(session, actor.scope, run_id)


def _audit(
    engine: Engine, actor: Actor, now: datetime, action: str, run: Run, after: str, detail: str = ""
) -> None:
    """Record an operator's control of a run (its status before, what was asked or done)."""
    with session_scope(engine) as session:
        actor.audit(
            session,
            at=now,
            action=f"run.{action}",
            target_kind="run",
            target_id=run.id,
            before={"status": run.status},
            after={"status": after},
            instance=run.instance,
            detail=detail,
        )


async def _control(
    controls: ControlRelay, run: Run, kind: Literal["kill", "pause", "resume"]
) -> tuple[str, bool]:
    """Send the control to the run's agent, here or through the server holding it; return
    what happened (for the audit row) and whether it was relayed."""
    control = Control(type=kind, run_id=run.id or 0, attempt=run.attempt)
    delivery = (
        Delivery.UNREACHABLE if run.agent is None else await controls.deliver(run.agent, control)
    )
    if delivery is Delivery.UNREACHABLE:
        raise Conflict(f"agent {run.agent} of run {run.id} is not connected to any server")
    if delivery is Delivery.RELAYED:
        return f"relayed to the server holding agent {run.agent}", True
    return f"sent to agent {run.agent}", False


def _stop_here(engine: Engine, now: datetime, run_id: int, who: str) -> RunPublic:
    with session_scope(engine) as session:
        run = get_run(session, run_id, lock=True)
        stop_run(session, run, who=who, detail=f"terminated by {who}", now=now)
        return run_public(run)


async def kill(
    engine: Engine, *, actor: Actor, now: datetime, run_id: int, controls: ControlRelay
) -> Controlled:
    actor.require(Role.OPERATOR)
    run = await anyio.to_thread.run_sync(_visible, engine, actor, run_id)
    # Decided by the lifecycle (a refusal is its Conflict); written by _stop_here.
    decision = decide(facts_of(run), c.Kill(actor.username, "kill requested"), now)
    if decision.status is None:  # its agent ends it
        how, relayed = await _control(controls, run, "kill")
        await anyio.to_thread.run_sync(
            _audit, engine, actor, now, "kill", run, "kill requested", how
        )
        return Controlled(run_public(run), relayed)
    public = await anyio.to_thread.run_sync(_stop_here, engine, now, run_id, actor.username)
    await anyio.to_thread.run_sync(_audit, engine, actor, now, "kill", run, public.status)
    for effect in decision.effects:  # the start may already be on its way
        if isinstance(effect, TellAgent):
            kill = Control(type="kill", run_id=run_id, attempt=effect.attempt)
            await controls.tell(effect.agent, kill)
    return Controlled(public)


async def pause_or_resume(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    run_id: int,
    kind: Literal["pause", "resume"],
    controls: ControlRelay,
) -> Controlled:
    actor.require(Role.OPERATOR)
    run = await anyio.to_thread.run_sync(_visible, engine, actor, run_id)
    # The lifecycle refuses a run that is not RUNNING (pause) or PAUSED (resume); the agent
    # moves it and reports.
    decide(facts_of(run), c.Pause() if kind == "pause" else c.Resume(), now)
    how, relayed = await _control(controls, run, kind)
    await anyio.to_thread.run_sync(_audit, engine, actor, now, kind, run, f"{kind} requested", how)
    return Controlled(run_public(run), relayed)


def _within_policy(session: Session, role: str, runs: list[Run]) -> None:
    """A run started again meets its instance's and target agent's policies as they are now,
    not only as they were when it was first made (admins may ask past them)."""
    for run in runs:
        enforce(session, role, run.spec, run.instance, [str(run.spec.get("target") or "")])


def _locked(session: Session, actor: Actor, run_id: int) -> Run:
    run = get_run(session, run_id, lock=True)
    actor.scope.check(run.instance, "run", run_id)
    return run


def force(engine: Engine, *, actor: Actor, now: datetime, run_id: int) -> RunPublic:
    """Start this run of a group run now, ignoring its upstreams."""
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        run = _locked(session, actor, run_id)
        before = run_public(run)
        _within_policy(session, actor.role, [run])
        force_past_upstreams(session, run, who=actor.username, now=now)
        public = run_public(run)
        actor.audit(
            session,
            at=now,
            action="run.force",
            target_kind="run",
            target_id=run_id,
            before=before,
            after=public,
            instance=run.instance,
        )
        record(session, DispatchWanted())
    return public


def rerun(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    run_id: int,
    params: dict[str, object] | None = None,
) -> list[int]:
    """Run this finished run again, with everything downstream of it in its group run. It
    keeps its business date and parameter values, unless new `params` are given."""
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        run = _locked(session, actor, run_id)
        before = run_public(run)
        if params is not None:
            give_new_params(session, run, params)
        restarted = rerun_with_downstream(session, run, who=actor.username, now=now)
        # Each run going again, as the policies are now (a refusal undoes the whole re-run).
        _within_policy(session, actor.role, [get_run(session, rid) for rid in restarted])
        actor.audit(
            session,
            at=now,
            action="run.rerun",
            target_kind="run",
            target_id=run_id,
            before=before,
            after={"restarted": restarted},
            instance=run.instance,
        )
        record(session, DispatchWanted())
    return restarted


def mark_run_success(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    run_id: int,
    reason: str,
) -> list[int]:
    """Mark a FAILED run SUCCESS by hand (who and why are recorded); its downstream runs."""
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        run = _locked(session, actor, run_id)
        before = run_public(run)
        released = mark_success(session, run, who=actor.username, why=reason, now=now)
        actor.audit(
            session,
            at=now,
            action="run.mark_success",
            target_kind="run",
            target_id=run_id,
            before=before,
            after=run_public(run),
            instance=run.instance,
            detail=reason,
        )
        record(session, DispatchWanted())
    return released
