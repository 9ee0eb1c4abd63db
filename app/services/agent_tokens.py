"""Agent tokens: for `almanac agent --token`, shown once, each bound to one agent name (a
hello under any other name is refused); expiring (a revocation scheduled in advance) or
revoked, which closes the token's open connections at once."""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.tables import AgentToken
from app.domain.roles import Role
from app.errors import Conflict, NotFound
from app.hub.hub import AgentHub
from app.models.schemas import AgentTokenCreated
from app.models.security_schemas import (
    AgentTokenCreateBody,
    AgentTokenListed,
    AgentTokenScopeBody,
)
from app.security import hash_token, new_token
from app.services.actor import Actor


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


def list_agent_tokens(session: Session, *, actor: Actor, now: datetime) -> list[AgentTokenListed]:
    actor.require(Role.ADMIN)
    rows = session.exec(select(AgentToken).order_by(col(AgentToken.id))).all()
    return [_listed(r, now) for r in rows]


def create_agent_token(
    engine: Engine, *, actor: Actor, now: datetime, body: AgentTokenCreateBody
) -> AgentTokenCreated:
    """Bound to `agent`, or to `name` when left out; with `expires_in_days` it stops working
    then."""
    actor.require(Role.ADMIN)
    token = new_token("alm_agent")
    expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    agent = body.agent or body.name
    with session_scope(engine) as session:
        row = AgentToken(
            name=body.name,
            agent_name=agent,
            token_hash=hash_token(token),
            created_at=now,
            revoked_at=expires,
        )
        session.add(row)
        session.flush()
        actor.audit(
            session,
            at=now,
            action="agent_token.create",
            target_kind="agent_token",
            target_id=row.id,
            after=_listed(row, now),
        )
        return AgentTokenCreated(id=row.id or 0, name=row.name, agent=agent, token=token)


def _revoke(engine: Engine, actor: Actor, now: datetime, token_id: int) -> None:
    with session_scope(engine) as session:
        row = session.get(AgentToken, token_id)
        if row is None:
            raise NotFound("agent token", token_id)
        before = _listed(row, now)
        if before.revoked_at is None:
            row.revoked_at = now
            actor.audit(
                session,
                at=now,
                action="agent_token.revoke",
                target_kind="agent_token",
                target_id=token_id,
                before=before,
                after=_listed(row, now),
            )


async def revoke_agent_token(
    engine: Engine, *, actor: Actor, now: datetime, token_id: int, hub: AgentHub
) -> None:
    """The token stops working at once: its open connections are closed, so it gets no more
    work (a connection on another replica is closed at its next heartbeat)."""
    actor.require(Role.ADMIN)
    await anyio.to_thread.run_sync(_revoke, engine, actor, now, token_id)
    await hub.disconnect_token(token_id, reason="agent token revoked")


def _rescope(
    engine: Engine, actor: Actor, now: datetime, token_id: int, agent: str
) -> tuple[AgentTokenListed, bool]:
    """The token's row after the change, and whether its scope changed."""
    with session_scope(engine) as session:
        row = session.get(AgentToken, token_id)
        if row is None:
            raise NotFound("agent token", token_id)
        before = _listed(row, now)
        if before.revoked_at is not None:
            raise Conflict(f"agent token {token_id} is revoked: create a new one")
        if row.agent_name == agent:
            return before, False
        row.agent_name = agent
        after = _listed(row, now)
        actor.audit(
            session,
            at=now,
            action="agent_token.scope",
            target_kind="agent_token",
            target_id=token_id,
            before=before,
            after=after,
        )
        return after, True


async def set_agent_token_scope(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    token_id: int,
    body: AgentTokenScopeBody,
    hub: AgentHub,
) -> AgentTokenListed:
    """Bind an existing token to another agent name. Its open connections are closed at once
    (on another replica at their next heartbeat): the agent holding it gets in again only
    under the new name."""
    actor.require(Role.ADMIN)
    listed, changed = await anyio.to_thread.run_sync(
        _rescope, engine, actor, now, token_id, body.agent
    )
    if changed:
        await hub.disconnect_token(token_id, reason="agent token bound to another agent")
    return listed
