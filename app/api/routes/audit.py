"""/audit: the audit log, newest first, for admins (limited to their instances)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import AdminDep, ContextDep, ScopeDep
from app.db.audit import AuditFilter, query_audit
from app.db.engine import session_scope
from app.errors import InvalidInput
from app.models.security_schemas import AuditPage, AuditPublic

router = APIRouter(prefix="/audit", tags=["audit"])
Text = Annotated[str | None, Query(max_length=200)]


@router.get("", response_model=AuditPage)
def list_audit(
    context: ContextDep,
    user: AdminDep,
    scope: ScopeDep,
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
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(name, "must carry a UTC offset")
    where = AuditFilter(
        actor=actor,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        since=since,
        until=until,
        instances=scope.names(),
    )
    with session_scope(context.engine) as session:
        rows = query_audit(session, where, offset=(page - 1) * page_size, limit=page_size + 1)
        items = [AuditPublic.model_validate(r, from_attributes=True) for r in rows[:page_size]]
    return AuditPage(items=items, page=page, page_size=page_size, has_more=len(rows) > page_size)
