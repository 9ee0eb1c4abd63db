"""Request dependencies: the app context, the authenticated user, role checks, the caller's
instance scope, and the acting user for the services.

For route authors:
- `UserDep` (any role), `WriterDep` (user+), `OperatorDep`, `AdminDep`: who may call.
- `ScopeDep`: the instances the caller may see. `scope.check(row.instance, "task", tid)`
  raises NotFound for a row outside them (never 403: another instance does not exist for
  the caller); `scope.filter(stmt, Task.instance)` narrows a list query; `scope.require(i)`
  refuses to write into an instance that is not granted.
- `ActorDep`: the caller for a service call (app/services): user, scope and address; the
  service audits in its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.context import AppContext
from app.db.engine import session_scope
from app.db.tables import User
from app.db.users import token_by_secret
from app.domain.roles import Role, role_at_least
from app.errors import AuthError, Forbidden
from app.services.actor import Actor
from app.services.scope import InstanceScope

PASSWORD_CHANGE_PATH = "/api/v1/auth/password"


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


@dataclass(frozen=True)
class Login:
    """The authenticated user and the token row the request came with."""

    user: User
    token_id: int


def authenticate_login(context: AppContext, token: str | None) -> Login:
    """Check a bearer (or session cookie) token; the user's role is read fresh every time."""
    if not token:
        raise AuthError("missing bearer token")
    now = context.clock.now()
    with session_scope(context.engine) as session:
        row = token_by_secret(session, token)
        if row is None or row.revoked_at is not None:
            raise AuthError("invalid or revoked token")
        if row.expires_at is not None and row.expires_at <= now:
            raise AuthError("token expired")
        user = session.get(User, row.user_id)
        if user is None or user.disabled:
            raise AuthError("user disabled")
        row.last_used_at = now
        return Login(user=user, token_id=row.id or 0)


def _usable(user: User) -> User:
    if user.must_change_password:
        raise Forbidden(f"password change required: POST {PASSWORD_CHANGE_PATH} first")
    return user


def current_login(request: Request, context: ContextDep) -> Login:
    return authenticate_login(context, bearer_token(request))


LoginDep = Annotated[Login, Depends(current_login)]


def current_user(login: LoginDep) -> User:
    return _usable(login.user)


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


def instance_scope(user: UserDep) -> InstanceScope:
    return InstanceScope.of(user)


ScopeDep = Annotated[InstanceScope, Depends(instance_scope)]


def client_source(request: Request) -> str | None:
    """The client's address as the server sees it (proxies' X-Forwarded-For is not trusted)."""
    return request.client.host if request.client else None


# The header the command line's client sends: its changes are recorded as made "via cli".
CLIENT_HEADER = "X-Almanac-Client"


def client_via(request: Request) -> str:
    return "cli" if request.headers.get(CLIENT_HEADER, "").strip().lower() == "cli" else "api"


def current_actor(request: Request, user: UserDep) -> Actor:
    """The caller as the services see it (the route's role dependency gates it first)."""
    return Actor(user, client_source(request), client_via(request))


ActorDep = Annotated[Actor, Depends(current_actor)]
