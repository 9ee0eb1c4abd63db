"""/tokens: personal API tokens (app/services/tokens.py). Named, expiring, revocable;
stored as SHA-256 digests and shown once. Everyone manages their own; an admin lists and
revokes those of the users they manage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import ActorDep, ContextDep, UserDep
from app.db.engine import session_scope
from app.models.security_schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenPublic
from app.services import tokens

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", response_model=list[ApiTokenPublic])
def list_tokens(
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    all_users: Annotated[bool, Query(alias="all")] = False,
) -> list[ApiTokenPublic]:
    """Your tokens; with `all=true` (admins) those of every user you manage too."""
    with session_scope(context.engine) as session:
        return tokens.list_tokens(session, actor=actor, all_users=all_users)


@router.post("", response_model=ApiTokenCreated, status_code=201)
def create_token(
    body: ApiTokenCreate, context: ContextDep, user: UserDep, actor: ActorDep
) -> ApiTokenCreated:
    return tokens.create_token(context.engine, actor=actor, now=context.clock.now(), body=body)


@router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: int, context: ContextDep, user: UserDep, actor: ActorDep) -> Response:
    tokens.revoke_token(context.engine, actor=actor, now=context.clock.now(), token_id=token_id)
    return Response(status_code=204)
