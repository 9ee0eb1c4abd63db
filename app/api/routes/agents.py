"""/agents: the fleet, agent tokens, and the agents' WebSocket."""

from __future__ import annotations

from fastapi import APIRouter, Response, WebSocket, status
from sqlmodel import col, select

from app.api.deps import AdminDep, ContextDep, UserDep, bearer_token
from app.api.schemas import AgentPublic, AgentTokenCreate, AgentTokenCreated, AgentTokenPublic
from app.context import AppContext
from app.db.engine import session_scope
from app.db.tables import Agent, AgentToken, Run
from app.domain.states import ON_AGENT
from app.errors import NotFound
from app.security import hash_token, new_token

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("", response_model=list[AgentPublic])
def list_agents(context: ContextDep, user: UserDep) -> list[AgentPublic]:
    with session_scope(context.engine) as session:
        agents = session.exec(select(Agent).order_by(col(Agent.name))).all()
        held = session.exec(
            select(Run.agent, Run.id).where(col(Run.status).in_([s.value for s in ON_AGENT]))
        ).all()
    running: dict[str, list[int]] = {}
    for name, run_id in held:
        if name and run_id:
            running.setdefault(name, []).append(run_id)
    return [
        AgentPublic(
            name=a.name, status=a.status, connected=a.name in context.hub.connections,
            labels=a.labels, cpus=a.cpus, memory=a.memory, gpus=a.gpus, docker=a.docker,
            last_heartbeat=a.last_heartbeat, version=a.version, max_runs=a.max_runs,
            resources=a.resources, running_runs=sorted(running.get(a.name, [])),
        )
        for a in agents
    ]


@router.post("/tokens", response_model=AgentTokenCreated, status_code=201)
def create_agent_token(body: AgentTokenCreate, context: ContextDep, user: AdminDep
                       ) -> AgentTokenCreated:
    token = new_token("alm_agent")
    with session_scope(context.engine) as session:
        row = AgentToken(name=body.name, token_hash=hash_token(token),
                         created_at=context.clock.now())
        session.add(row)
        session.flush()
        return AgentTokenCreated(id=row.id or 0, name=row.name, token=token)


@router.get("/tokens", response_model=list[AgentTokenPublic])
def list_agent_tokens(context: ContextDep, user: AdminDep) -> list[AgentTokenPublic]:
    with session_scope(context.engine) as session:
        rows = session.exec(select(AgentToken).order_by(col(AgentToken.id))).all()
        return [AgentTokenPublic.model_validate(r, from_attributes=True) for r in rows]


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_agent_token(token_id: int, context: ContextDep, user: AdminDep) -> Response:
    with session_scope(context.engine) as session:
        row = session.get(AgentToken, token_id)
        if row is None:
            raise NotFound("agent token", token_id)
        row.revoked_at = context.clock.now()
    return Response(status_code=204)


def _agent_token_ok(context: AppContext, token: str | None) -> bool:
    if not token:
        return False
    with session_scope(context.engine) as session:
        row = session.exec(
            select(AgentToken).where(AgentToken.token_hash == hash_token(token))
        ).first()
        if row is None or row.revoked_at is not None:
            return False
        row.last_used_at = context.clock.now()
        return True


@router.websocket("/connect")
async def connect(websocket: WebSocket) -> None:
    context: AppContext = websocket.app.state.context
    token = bearer_token(websocket)  # type: ignore[arg-type]
    if not _agent_token_ok(context, token):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="invalid agent token")
        return
    await websocket.accept()
    await context.hub.serve(websocket)
