"""The audit log, newest first, for admins (limited to their instances)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.db.audit import AuditFilter, query_audit
from app.domain.roles import Role
from app.errors import InvalidInput
from app.models.security_schemas import AuditPage, AuditPublic
from app.services.actor import Actor


def list_audit(
    session: Session,
    *,
    actor: Actor,
    who: str | None = None,
    action: str | None = None,
    target_kind: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    page_size: int = 100,
) -> AuditPage:
    """`who`: the acting user's name; `action` exact, or a prefix: "task.*"."""
    actor.require(Role.ADMIN)
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(name, "must carry a UTC offset")
    where = AuditFilter(
        actor=who,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        since=since,
        until=until,
        instances=actor.scope.names(),
    )
    rows = query_audit(session, where, offset=(page - 1) * page_size, limit=page_size + 1)
    items = [AuditPublic.model_validate(r, from_attributes=True) for r in rows[:page_size]]
    return AuditPage(items=items, page=page, page_size=page_size, has_more=len(rows) > page_size)
