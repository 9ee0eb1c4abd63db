"""/auth: log in (throttled), change one's own password, log out, who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from sqlmodel import Session

from app.api.deps import ContextDep, LoginDep, client_source
from app.api.schemas import LoginRequest
from app.api.security_schemas import LoginResponse, PasswordChange, UserPublic
from app.context import AppContext
from app.db.audit import record_audit
from app.db.engine import session_scope
from app.db.tables import ApiToken, User
from app.db.users import LoginResult, attempt_login, issue_token, revoke_tokens, user_snapshot
from app.errors import AuthError, InvalidInput
from app.security import LoginThrottle, check_password_strength, hash_password

router = APIRouter(prefix="/auth", tags=["auth"])
THROTTLE = LoginThrottle()

_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "wrong username or password"},
    423: {"description": "account locked after repeated failures; see Retry-After"},
    429: {"description": "too many failures in a row: wait Retry-After seconds"},
}


def user_public(user: User) -> UserPublic:
    return UserPublic(username=user.username, role=user.role, instances=list(user.instances),
                      disabled=user.disabled, timezone=user.timezone,
                      must_change_password=user.must_change_password,
                      locked_until=user.locked_until, created_at=user.created_at)


def _refuse(result: LoginResult, wrong: Exception) -> Exception:
    if result.refusal == "locked":
        return HTTPException(423, f"account locked after {THROTTLE.lock_after} failed logins: "
                                  f"try again in {result.retry_after} s",
                             headers={"Retry-After": str(result.retry_after)})
    if result.refusal == "slowed":
        return HTTPException(429, f"too many failed logins: try again in {result.retry_after} s",
                             headers={"Retry-After": str(result.retry_after)})
    return wrong


def _audit_lockout(session: Session, result: LoginResult, username: str, source: str | None,
                   context: AppContext) -> None:
    if result.locked_now:
        record_audit(session, actor=None, action="auth.lockout", target_kind="user",
                     target_id=username, before=None, after=None, source=source,
                     instance=None, detail=f"locked after {THROTTLE.lock_after} failed logins",
                     at=context.clock.now())


@router.post("/token", response_model=LoginResponse, responses=_REFUSALS)
def issue_login_token(body: LoginRequest, request: Request, context: ContextDep
                      ) -> LoginResponse:
    """Trade a username and password for a bearer token. A user who must change the password
    gets a token that only `POST /auth/password` accepts."""
    now = context.clock.now()
    with session_scope(context.engine) as session:
        result = attempt_login(session, body.username, body.password, now=now,
                               throttle=THROTTLE)
        _audit_lockout(session, result, body.username, client_source(request), context)
        if result.user is not None:
            expires = now + timedelta(hours=context.settings.token_ttl_hours)
            _, token = issue_token(session, result.user, name="login", now=now,
                                   expires_at=expires)
            response = LoginResponse(access_token=token, expires_at=expires,
                                     must_change_password=result.user.must_change_password)
    if result.user is None:  # raised after the commit: the failure count sticks
        raise _refuse(result, AuthError("wrong username or password"))
    return response


@router.post("/password", status_code=204,
             responses={422: {"description": "weak password or wrong current password"},
                        **{k: v for k, v in _REFUSALS.items() if k != 401}})
def change_password(body: PasswordChange, request: Request, context: ContextDep,
                    login: LoginDep) -> Response:
    """Change your own password (the one route open while a change is required). Your other
    sessions and tokens end; the token of this request stays valid."""
    username = login.user.username
    check_password_strength(body.password, username)
    if body.password == body.current_password:
        raise InvalidInput("password", "must differ from the current password")
    now = context.clock.now()
    with session_scope(context.engine) as session:
        result = attempt_login(session, username, body.current_password, now=now,
                               throttle=THROTTLE)
        _audit_lockout(session, result, username, client_source(request), context)
    if result.user is None:
        raise _refuse(result, InvalidInput("current_password", "is wrong"))
    new_hash = hash_password(body.password)
    with session_scope(context.engine) as session:
        user = session.get(User, login.user.id)
        assert user is not None
        before = user_snapshot(user)
        user.password_hash, user.must_change_password = new_hash, False
        revoke_tokens(session, user.id or 0, now=now, keep=login.token_id)
        record_audit(session, actor=username, action="user.password_change",
                     target_kind="user", target_id=username, before=before,
                     after=user_snapshot(user), source=client_source(request), instance=None,
                     at=now)
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
