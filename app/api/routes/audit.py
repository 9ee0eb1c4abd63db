"""/audit: the audit log, newest first, for admins (limited to their instances)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import ActorDep, AdminDep, ContextDep
from app.db.engine import session_scope
from app.models.security_schemas import AuditPage
from app.services import audit_log

router = APIRouter(prefix="/audit", tags=["audit"])
Text = Annotated[str | None, Query(max_length=200)]


@router.get("", response_model=AuditPage)
def list_audit(
    context: ContextDep,
    user: AdminDep,
    caller: ActorDep,
    actor: Text = None,
    action: Annotated[
        str | None, Query(max_length=50, description='exact, or a prefix: "task.*"')
    ] = None,
    target_kind: Text = None,
    target_id: Text = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    with session_scope(context.engine) as session:
        return audit_log.list_audit(
            session,
            actor=caller,
            who=actor,
            action=action,
            target_kind=target_kind,
            target_id=target_id,
            since=since,
            until=until,
            page=page,
            page_size=page_size,
        )
