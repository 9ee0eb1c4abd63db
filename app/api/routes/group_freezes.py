"""/groups/{gid}/freezes: business dates on which a group's run and its task runs skip."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Response

from app.api.deps import ActorDep, ContextDep, OperatorDep, UserDep
from app.db.engine import session_scope
from app.models.schemas import FreezeCreate, FreezePublic
from app.services import freezes

router = APIRouter(prefix="/groups", tags=["groups"])


@router.get("/{gid}/freezes", response_model=list[FreezePublic])
def list_group_freezes(
    gid: int, context: ContextDep, user: UserDep, actor: ActorDep
) -> list[FreezePublic]:
    with session_scope(context.engine) as session:
        return freezes.group_freezes(session, actor=actor, gid=gid)


@router.post("/{gid}/freezes", response_model=FreezePublic, status_code=201)
def freeze_group(
    gid: int, body: FreezeCreate, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> FreezePublic:
    """Freeze the group for one business date: that day's group run and task runs skip."""
    return freezes.freeze_group(
        context.engine, actor=actor, now=context.clock.now(), gid=gid, body=body
    )


@router.delete("/{gid}/freezes/{day}", status_code=204)
def unfreeze_group(
    gid: int, day: date, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> Response:
    freezes.unfreeze_group(context.engine, actor=actor, now=context.clock.now(), gid=gid, day=day)
    return Response(status_code=204)
