"""Agent tokens at the door: which agent a token is for, whether it still holds, and the
audit row of every connection refused (the rules themselves: app/domain/agent_identity.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.audit import record_audit
from app.db.engine import session_scope
from app.db.tables import AgentToken
from app.security import hash_token

# The same refusal (name, token, reason) is audited at most once in this window: an agent
# refused redials every few seconds and must not flood the audit log.
AUDIT_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenGrant:
    """A valid agent token, as the hub keeps it on the connection."""

    token_id: int
    label: str  # the token's own name
    agent_name: str | None  # the one agent name it may connect as


def _usable(row: AgentToken, now: datetime) -> bool:
    return row.revoked_at is None or row.revoked_at > now  # a revocation ahead is an expiry


def grant_for(engine: Engine, token: str | None, now: datetime) -> TokenGrant | None:
    """The grant of a presented agent token, or None when it is unknown, revoked or expired."""
    if not token:
        return None
    with session_scope(engine) as session:
        row = session.exec(
            select(AgentToken).where(AgentToken.token_hash == hash_token(token))
        ).first()
        if row is None or not _usable(row, now):
            return None
        row.last_used_at = now
        return TokenGrant(token_id=row.id or 0, label=row.name, agent_name=row.agent_name)


def valid_tokens(
    session: Session, token_ids: Sequence[int], now: datetime
) -> dict[int, str | None]:
    """Those of `token_ids` that still hold, each with the agent name it is bound to, in one
    query a chunk (a flush of the fleet's heartbeats checks every connection's token at
    once; a token re-bound to another name no longer holds for the connection it let in)."""
    found: dict[int, str | None] = {}
    for low in range(0, len(token_ids), 500):
        chunk = list(token_ids[low : low + 500])
        rows = session.exec(select(AgentToken).where(col(AgentToken.id).in_(chunk))).all()
        found.update(
            (row.id, row.agent_name) for row in rows if row.id is not None and _usable(row, now)
        )
    return found


class RefusalAudit:
    """Writes `agent.connection_refused` rows, one per distinct refusal a minute."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int, str], datetime] = {}

    def _due(self, name: str, grant: TokenGrant, reason: str, now: datetime) -> bool:
        key = (name, grant.token_id, reason.split(" (")[0])
        last = self._last.get(key)
        if last is not None and now - last < AUDIT_EVERY:
            return False
        self._last[key] = now
        if len(self._last) > 10_000:  # bounded: forget the oldest half
            for old in sorted(self._last, key=self._last.__getitem__)[:5_000]:
                del self._last[old]
        return True

    def write(
        self,
        engine: Engine,
        *,
        name: str,
        grant: TokenGrant,
        reason: str,
        source: str | None,
        now: datetime,
        action: str = "agent.connection_refused",
    ) -> None:
        """The audit row, unless the same refusal was written within the last minute."""
        if not self._due(name, grant, reason, now):
            return
        with session_scope(engine) as session:
            record_audit(
                session,
                actor=f"agent-token:{grant.token_id}",
                action=action,
                target_kind="agent",
                target_id=name,
                before=None,
                after={
                    "agent": name,
                    "token_id": grant.token_id,
                    "token_name": grant.label,
                    "bound_to": grant.agent_name,
                },
                source=source,
                instance=None,
                detail=reason,
                at=now,
            )
