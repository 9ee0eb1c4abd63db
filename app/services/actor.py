"""Who acts: the user (role and instance scope read fresh for the request) and the address
the request came from; every change a service makes is audited in their name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from app.db import versions
from app.db.audit import record_audit
from app.db.tables import AuditEvent, User
from app.domain.roles import Role, role_at_least
from app.errors import Forbidden
from app.services.scope import InstanceScope

# Where a change can come from: recorded on every definition version it makes.
VIAS = ("ui", "api", "cli", "import", "apply", "sync", "system")


@dataclass(frozen=True)
class Actor:
    user: User
    source: str | None = None
    # ui (web pages), api (REST), cli (the command line's client), import, apply, sync.
    via: str = "api"

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def scope(self) -> InstanceScope:
        return InstanceScope.of(self.user)

    def at_least(self, role: Role) -> bool:
        return role_at_least(self.user.role, role)

    def require(self, role: Role) -> None:
        """Forbidden unless the user holds `role` or a stronger one: every command checks
        it, whether a REST route or a web page calls it."""
        if not self.at_least(role):
            raise Forbidden(f"role {role.value} or higher required")

    def bind(self, session: Session, at: datetime) -> None:
        """The transaction's definition changes are this actor's, made at `at`."""
        versions.bind(session, versions.Acting(self.username, self.via, self.source, at))

    def through(self, via: str) -> Actor:
        """The same caller, acting through another path (an import, an apply, a sync)."""
        return Actor(self.user, self.source, via)

    def audit(
        self,
        session: Session,
        *,
        at: datetime,
        action: str,
        target_kind: str,
        target_id: object,
        before: BaseModel | dict[str, Any] | None = None,
        after: BaseModel | dict[str, Any] | None = None,
        instance: str | None = None,
        detail: str = "",
    ) -> AuditEvent:
        """Records who, when and from where, in the caller's transaction; the definition
        versions the transaction makes are in the same name (app/db/versions.py)."""
        self.bind(session, at)
        return record_audit(
            session,
            actor=self.username,
            action=action,
            target_kind=target_kind,
            target_id=target_id,
            before=before,
            after=after,
            source=self.source,
            instance=instance,
            detail=detail,
            at=at,
        )
