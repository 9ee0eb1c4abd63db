"""/agents: the fleet, agent tokens, and the agents' WebSocket."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Response, WebSocket, status
from sqlmodel import col, select

from app.api.deps import AdminDep, AuditDep, ContextDep, UserDep, bearer_token
from app.api.schemas import AgentPublic, AgentTokenCreated
from app.api.security_schemas import AgentTokenCreateBody, AgentTokenListed
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
def create_agent_token(body: AgentTokenCreateBody, context: ContextDep, user: AdminDep,
                       audit: AuditDep) -> AgentTokenCreated:
    """A token for `almanac agent --token`, shown once. With `expires_in_days` it stops working
    then (stored as a revocation scheduled in advance)."""
    token = new_token("alm_agent")
    now = context.clock.now()
    expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    with session_scope(context.engine) as session:
        row = AgentToken(name=body.name, token_hash=hash_token(token), created_at=now,
                         revoked_at=expires)
        session.add(row)
        session.flush()
        audit(session, action="agent_token.create", target_kind="agent_token",
              target_id=row.id, after=_listed(row, now))
        return AgentTokenCreated(id=row.id or 0, name=row.name, token=token)


def _listed(row: AgentToken, now: datetime) -> AgentTokenListed:
    """A `revoked_at` still ahead is the token's expiry."""
    ahead = row.revoked_at is not None and row.revoked_at > now
    return AgentTokenListed(id=row.id or 0, name=row.name, created_at=row.created_at,
                            expires_at=row.revoked_at if ahead else None,
                            revoked_at=None if ahead else row.revoked_at,
                            last_used_at=row.last_used_at)


@router.get("/tokens", response_model=list[AgentTokenListed])
def list_agent_tokens(context: ContextDep, user: AdminDep) -> list[AgentTokenListed]:
    now = context.clock.now()
    with session_scope(context.engine) as session:
        rows = session.exec(select(AgentToken).order_by(col(AgentToken.id))).all()
        return [_listed(r, now) for r in rows]


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_agent_token(token_id: int, context: ContextDep, user: AdminDep, audit: AuditDep
                       ) -> Response:
    now = context.clock.now()
    with session_scope(context.engine) as session:
        row = session.get(AgentToken, token_id)
        if row is None:
            raise NotFound("agent token", token_id)
        before = _listed(row, now)
        if before.revoked_at is None:
            row.revoked_at = now
            audit(session, action="agent_token.revoke", target_kind="agent_token",
                  target_id=token_id, before=before, after=_listed(row, now))
    return Response(status_code=204)


def _agent_token_ok(context: AppContext, token: str | None) -> bool:
    if not token:
        return False
    with session_scope(context.engine) as session:
        row = session.exec(
            select(AgentToken).where(AgentToken.token_hash == hash_token(token))
        ).first()
        now = context.clock.now()
        if row is None or (row.revoked_at is not None and row.revoked_at <= now):
            return False
        row.last_used_at = now
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
