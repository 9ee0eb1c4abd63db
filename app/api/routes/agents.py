"""/agents: the fleet (list, drain, undrain, remove), agent tokens, and the agents' WebSocket."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Response, WebSocket, status
from sqlmodel import col, select

from app.api.deps import (
    ActorDep,
    AdminDep,
    AuditDep,
    ContextDep,
    OperatorDep,
    UserDep,
    bearer_token,
)
from app.context import AppContext
from app.db.engine import session_scope
from app.db.tables import AgentToken
from app.errors import NotFound
from app.hub.admission import grant_for
from app.models.schemas import AgentTokenCreated
from app.models.security_schemas import AgentTokenCreateBody, AgentTokenListed
from app.security import hash_token, new_token
from app.services import agents
from app.services.agents import AgentView
from app.services.outputs import output_store

router = APIRouter(prefix="/agents", tags=["agents"])
AgentName = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("", response_model=list[AgentView])
def list_agents(context: ContextDep, user: UserDep, actor: ActorDep) -> list[AgentView]:
    """Every agent (they serve all instances); the runs each holds only of the caller's."""
    with session_scope(context.engine) as session:
        return agents.list_agents(session, actor=actor, hub=context.hub)


@router.post("/{name}/drain", response_model=AgentView)
def drain(name: AgentName, context: ContextDep, user: OperatorDep, actor: ActorDep) -> AgentView:
    """Let the agent finish its running work and give it no new work (until undrained; kept
    across restarts of the server and of the agent)."""
    return agents.set_draining(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        name=name,
        draining=True,
        hub=context.hub,
        scheduler=context.scheduler,
    )


@router.post("/{name}/undrain", response_model=AgentView)
def undrain(name: AgentName, context: ContextDep, user: OperatorDep, actor: ActorDep) -> AgentView:
    return agents.set_draining(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        name=name,
        draining=False,
        hub=context.hub,
        scheduler=context.scheduler,
    )


@router.delete("/{name}", status_code=204)
async def remove_agent(
    name: AgentName, context: ContextDep, user: AdminDep, actor: ActorDep
) -> Response:
    """Forget an agent that is offline, or drained with no runs left (409 says why not).
    A drained agent still connected is told so and stops instead of dialling again."""
    await agents.remove_agent(
        context.engine, actor=actor, now=context.clock.now(), name=name, hub=context.hub
    )
    return Response(status_code=204)


@router.post("/tokens", response_model=AgentTokenCreated, status_code=201)
def create_agent_token(
    body: AgentTokenCreateBody, context: ContextDep, user: AdminDep, audit: AuditDep
) -> AgentTokenCreated:
    """A token for `almanac agent --token`, shown once, bound to one agent name (`agent`, or
    `name` when left out): a hello under any other name is refused. With `expires_in_days` it
    stops working then (stored as a revocation scheduled in advance)."""
    token = new_token("alm_agent")
    now = context.clock.now()
    expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    agent = body.agent or body.name
    with session_scope(context.engine) as session:
        row = AgentToken(
            name=body.name,
            agent_name=agent,
            token_hash=hash_token(token),
            created_at=now,
            revoked_at=expires,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            action="agent_token.create",
            target_kind="agent_token",
            target_id=row.id,
            after=_listed(row, now),
        )
        return AgentTokenCreated(id=row.id or 0, name=row.name, agent=agent, token=token)


def _listed(row: AgentToken, now: datetime) -> AgentTokenListed:
    """A `revoked_at` still ahead is the token's expiry."""
    ahead = row.revoked_at is not None and row.revoked_at > now
    return AgentTokenListed(
        id=row.id or 0,
        name=row.name,
        agent=row.agent_name,
        created_at=row.created_at,
        expires_at=row.revoked_at if ahead else None,
        revoked_at=None if ahead else row.revoked_at,
        last_used_at=row.last_used_at,
    )


@router.get("/tokens", response_model=list[AgentTokenListed])
def list_agent_tokens(context: ContextDep, user: AdminDep) -> list[AgentTokenListed]:
    now = context.clock.now()
    with session_scope(context.engine) as session:
        rows = session.exec(select(AgentToken).order_by(col(AgentToken.id))).all()
        return [_listed(r, now) for r in rows]


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_agent_token(
    token_id: int, context: ContextDep, user: AdminDep, audit: AuditDep
) -> Response:
    """The token stops working at once: its open connections are closed, so it gets no more
    work (a connection on another replica is closed at its next heartbeat)."""
    await anyio.to_thread.run_sync(_revoke, context, audit, token_id)
    await context.hub.disconnect_token(token_id, reason="agent token revoked")
    return Response(status_code=204)


def _revoke(context: AppContext, audit: AuditDep, token_id: int) -> None:
    now = context.clock.now()
    with session_scope(context.engine) as session:
        row = session.get(AgentToken, token_id)
        if row is None:
            raise NotFound("agent token", token_id)
        before = _listed(row, now)
        if before.revoked_at is None:
            row.revoked_at = now
            audit(
                session,
                action="agent_token.revoke",
                target_kind="agent_token",
                target_id=token_id,
                before=before,
                after=_listed(row, now),
            )


@router.websocket("/connect")
async def connect(websocket: WebSocket) -> None:
    """The agents' WebSocket: the token must hold, and the hello must name the agent the
    token is bound to (the hub checks it, see app/domain/agent_identity.py)."""
    context: AppContext = websocket.app.state.context
    token = bearer_token(websocket)  # type: ignore[arg-type]
    grant = await anyio.to_thread.run_sync(grant_for, context.engine, token, context.clock.now())
    if grant is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="invalid agent token")
        return
    await websocket.accept()
    await context.hub.serve(websocket, output_store(context), grant)
