"""Request dependencies: the app context, the authenticated user, role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import select

from app.context import AppContext
from app.db.engine import session_scope
from app.db.tables import ApiToken, User
from app.domain.roles import Role, role_at_least
from app.errors import AuthError, Forbidden
from app.security import hash_token


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return None


def authenticate(context: AppContext, token: str | None) -> User:
    if not token:
        raise AuthError("missing bearer token")
    now = context.clock.now()
    with session_scope(context.engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
        if row is None or row.revoked_at is not None:
            raise AuthError("invalid or revoked token")
        if row.expires_at is not None and row.expires_at <= now:
            raise AuthError("token expired")
        user = session.get(User, row.user_id)
        if user is None or user.disabled:
            raise AuthError("user disabled")
        row.last_used_at = now
        return user


def current_user(request: Request, context: ContextDep) -> User:
    return authenticate(context, bearer_token(request))


UserDep = Annotated[User, Depends(current_user)]


def require(role: Role) -> Callable[[User], User]:
    def check(user: UserDep) -> User:
        if not role_at_least(user.role, role):
            raise Forbidden(f"role {role.value} or higher required")
        return user

    return check


OperatorDep = Annotated[User, Depends(require(Role.OPERATOR))]
AdminDep = Annotated[User, Depends(require(Role.ADMIN))]
WriterDep = Annotated[User, Depends(require(Role.USER))]
