"""/agents: the fleet (list, drain, undrain, remove), agent tokens, and the agents' WebSocket."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Response, WebSocket, status

from app.api.deps import (
    ActorDep,
    AdminDep,
    ContextDep,
    OperatorDep,
    UserDep,
    bearer_token,
)
from app.context import AppContext
from app.db.engine import session_scope
from app.hub.admission import grant_for
from app.models.schemas import AgentTokenCreated
from app.models.security_schemas import (
    AgentTokenCreateBody,
    AgentTokenListed,
    AgentTokenScopeBody,
)
from app.services import agent_tokens, agents
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
    body: AgentTokenCreateBody, context: ContextDep, user: AdminDep, actor: ActorDep
) -> AgentTokenCreated:
    """A token for `almanac agent --token`, shown once, bound to one agent name (`agent`, or
    `name` when left out): a hello under any other name is refused. With `expires_in_days` it
    stops working then (stored as a revocation scheduled in advance)."""
    return agent_tokens.create_agent_token(
        context.engine, actor=actor, now=context.clock.now(), body=body
    )


@router.get("/tokens", response_model=list[AgentTokenListed])
def list_agent_tokens(
    context: ContextDep, user: AdminDep, actor: ActorDep
) -> list[AgentTokenListed]:
    with session_scope(context.engine) as session:
        return agent_tokens.list_agent_tokens(session, actor=actor, now=context.clock.now())


@router.patch("/tokens/{token_id}", response_model=AgentTokenListed)
async def set_agent_token_scope(
    token_id: int,
    body: AgentTokenScopeBody,
    context: ContextDep,
    user: AdminDep,
    actor: ActorDep,
) -> AgentTokenListed:
    """Change an existing token's scope: the one agent name it may connect as (`agent`).
    Audited (`agent_token.scope`, before and after); its open connections are closed at once
    (on another replica at their next heartbeat), so the agent holding it is bound by the new
    name from then on. A revoked token is a 409."""
    return await agent_tokens.set_agent_token_scope(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        token_id=token_id,
        body=body,
        hub=context.hub,
    )


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_agent_token(
    token_id: int, context: ContextDep, user: AdminDep, actor: ActorDep
) -> Response:
    """The token stops working at once: its open connections are closed, so it gets no more
    work (a connection on another replica is closed at its next heartbeat)."""
    await agent_tokens.revoke_agent_token(
        context.engine, actor=actor, now=context.clock.now(), token_id=token_id, hub=context.hub
    )
    return Response(status_code=204)


# After /tokens: "tokens" is no agent name.
@router.get("/{name}", response_model=AgentView)
def get_agent(name: AgentName, context: ContextDep, user: UserDep, actor: ActorDep) -> AgentView:
    """One agent: its capacity, what its runs hold, and those runs of the caller's."""
    with session_scope(context.engine) as session:
        return agents.get_agent(session, actor=actor, hub=context.hub, name=name)


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
