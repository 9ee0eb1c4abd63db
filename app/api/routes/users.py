"""/users: accounts, for admins. An admin manages operators, users and viewers; only a
superadmin manages admins and superadmins. Nobody grants an instance they do not hold, and
nobody changes their own role, disables or deletes themselves.

A change of role or instances, a disable and a password reset end every session and token
of that user at once (their rows are revoked); besides, every request reads the user's
current role, instances and disabled flag, so no token ever carries stale rights.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import ActorDep, AdminDep, ContextDep
from app.db.engine import session_scope
from app.models.security_schemas import PasswordReset, UserCreate, UserPublic, UserUpdate
from app.services import users

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic])
def list_users(context: ContextDep, user: AdminDep, actor: ActorDep) -> list[UserPublic]:
    with session_scope(context.engine) as session:
        return users.list_users(session, actor=actor)


@router.post("", response_model=UserPublic, status_code=201)
def create(body: UserCreate, context: ContextDep, user: AdminDep, actor: ActorDep) -> UserPublic:
    return users.create(context.engine, actor=actor, now=context.clock.now(), body=body)


@router.get("/{username}", response_model=UserPublic)
def read(username: str, context: ContextDep, user: AdminDep, actor: ActorDep) -> UserPublic:
    with session_scope(context.engine) as session:
        return users.read_user(session, actor=actor, username=username)


@router.patch("/{username}", response_model=UserPublic)
def update(
    username: str, body: UserUpdate, context: ContextDep, user: AdminDep, actor: ActorDep
) -> UserPublic:
    return users.update(
        context.engine, actor=actor, now=context.clock.now(), username=username, body=body
    )


@router.delete("/{username}", status_code=204)
def remove(username: str, context: ContextDep, user: AdminDep, actor: ActorDep) -> Response:
    users.remove(context.engine, actor=actor, now=context.clock.now(), username=username)
    return Response(status_code=204)


@router.post("/{username}/password", status_code=204)
def reset_password(
    username: str, body: PasswordReset, context: ContextDep, user: AdminDep, actor: ActorDep
) -> Response:
    """Set a new password (by default one to change at the next login); clears a lockout and
    ends the user's sessions and tokens."""
    users.reset_password(
        context.engine, actor=actor, now=context.clock.now(), username=username, body=body
    )
    return Response(status_code=204)
