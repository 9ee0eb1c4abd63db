"""/auth: log in (throttled), change one's own password, log out, who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from app.api.deps import ActorDep, ContextDep, LoginDep, client_source
from app.db.engine import session_scope
from app.db.tables import ApiToken
from app.db.users import LoginResult, attempt_login, issue_token
from app.errors import AuthError, InvalidInput
from app.models.schemas import LoginRequest
from app.models.security_schemas import LoginResponse, MeUpdate, PasswordChange, UserPublic
from app.security import LoginThrottle
from app.services import users
from app.services.actor import Actor
from app.services.users import user_public

router = APIRouter(prefix="/auth", tags=["auth"])
THROTTLE = LoginThrottle()

_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "wrong username or password"},
    429: {
        "description": "throttled: the account after failures in a row, or this source "
        "address after too many failures; wait Retry-After seconds"
    },
}


def _refuse(result: LoginResult, wrong: Exception) -> Exception:
    headers = {"Retry-After": str(result.retry_after)}
    if result.refusal == "source_locked":
        return HTTPException(
            429,
            f"too many failed logins from this address: try again in {result.retry_after} s",
            headers=headers,
        )
    if result.refusal == "slowed":
        return HTTPException(
            429,
            f"too many failed logins for this account: try again in {result.retry_after} s",
            headers=headers,
        )
    return wrong


def throttled_login(
    request: Request, context: ContextDep, username: str, password: str, channel: str
) -> LoginResult:
    """The throttled check shared by the API and the web form."""
    return attempt_login(
        context.engine,
        username,
        password,
        source=client_source(request),
        now=context.clock.now(),
        throttle=THROTTLE,
        channel=channel,
    )


@router.post("/token", response_model=LoginResponse, responses=_REFUSALS)
def issue_login_token(body: LoginRequest, request: Request, context: ContextDep) -> LoginResponse:
    """Trade a username and password for a bearer token. A user who must change the password
    gets a token that only `POST /auth/password` accepts."""
    result = throttled_login(request, context, body.username, body.password, "api")
    if result.user is None:
        raise _refuse(result, AuthError("wrong username or password"))
    now = context.clock.now()
    with session_scope(context.engine) as session:
        expires = now + timedelta(hours=context.settings.token_ttl_hours)
        _, token = issue_token(session, result.user, name="login", now=now, expires_at=expires)
    return LoginResponse(
        access_token=token,
        expires_at=expires,
        must_change_password=result.user.must_change_password,
    )


@router.post(
    "/password",
    status_code=204,
    responses={
        422: {"description": "weak password or wrong current password"},
        **{k: v for k, v in _REFUSALS.items() if k != 401},
    },
)
def change_password(
    body: PasswordChange, request: Request, context: ContextDep, login: LoginDep
) -> Response:
    """Change your own password (the one route open while a change is required). Your other
    sessions and tokens end; the token of this request stays valid."""
    username = login.user.username
    users.check_new_password(username, body.current_password, body.password)
    result = throttled_login(request, context, username, body.current_password, "password change")
    if result.user is None:
        raise _refuse(result, InvalidInput("current_password", "is wrong"))
    users.change_own_password(
        context.engine,
        actor=Actor(login.user, client_source(request)),
        now=context.clock.now(),
        password=body.password,
        keep_token=login.token_id,
    )
    return Response(status_code=204)


@router.post("/logout", status_code=204)
def logout(context: ContextDep, login: LoginDep) -> Response:
    """End the session of this token."""
    with session_scope(context.engine) as session:
        row = session.get(ApiToken, login.token_id)
        if row is not None and row.revoked_at is None:
            row.revoked_at = context.clock.now()
    return Response(status_code=204)


@router.get("/me", response_model=UserPublic)
def me(login: LoginDep) -> UserPublic:
    """The caller's account (answers even while a password change is required)."""
    return user_public(login.user)


@router.patch("/me", response_model=UserPublic)
def update_me(body: MeUpdate, context: ContextDep, actor: ActorDep) -> UserPublic:
    """Change your own settings (the timezone your pages show times in)."""
    return users.set_own_timezone(
        context.engine, actor=actor, now=context.clock.now(), timezone=body.timezone
    )
