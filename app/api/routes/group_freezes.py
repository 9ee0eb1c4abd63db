"""/groups/{gid}/freezes: business dates on which a group's run and its task runs skip."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Response

from app.api.deps import AuditDep, ContextDep, OperatorDep, UserDep
from app.db.engine import session_scope
from app.db.freezes import add_freeze, remove_freeze
from app.db.freezes import list_freezes as list_freezes_of
from app.models.schemas import FreezeCreate, FreezePublic
from app.services.groups import visible_group
from app.services.schedule_views import freeze_public
from app.services.scope import InstanceScope

router = APIRouter(prefix="/groups", tags=["groups"])


@router.get("/{gid}/freezes", response_model=list[FreezePublic])
def list_group_freezes(gid: int, context: ContextDep, user: UserDep) -> list[FreezePublic]:
    with session_scope(context.engine) as session:
        visible_group(session, InstanceScope.of(user), gid)
        return [freeze_public(r) for r in list_freezes_of(session, group_id=gid)]


@router.post("/{gid}/freezes", response_model=FreezePublic, status_code=201)
def freeze_group(
    gid: int, body: FreezeCreate, context: ContextDep, user: OperatorDep, audit: AuditDep
) -> FreezePublic:
    """Freeze the group for one business date: that day's group run and task runs skip."""
    with session_scope(context.engine) as session:
        group = visible_group(session, InstanceScope.of(user), gid)
        public = freeze_public(
            add_freeze(
                session,
                body.date,
                reason=body.reason,
                who=user.username,
                now=context.clock.now(),
                group_id=gid,
            )
        )
        audit(
            session,
            action="group.freeze",
            target_kind="group",
            target_id=gid,
            after=public,
            instance=group.instance,
        )
    return public


@router.delete("/{gid}/freezes/{day}", status_code=204)
def unfreeze_group(
    gid: int, day: date, context: ContextDep, user: OperatorDep, audit: AuditDep
) -> Response:
    with session_scope(context.engine) as session:
        group = visible_group(session, InstanceScope.of(user), gid)
        row = remove_freeze(session, day, group_id=gid)
        audit(
            session,
            action="group.unfreeze",
            target_kind="group",
            target_id=gid,
            before=freeze_public(row),
            instance=group.instance,
        )
    return Response(status_code=204)
