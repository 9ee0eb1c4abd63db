"""Log in (username and password → session cookie) and log out."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.api.deps import ContextDep
from app.api.routes.auth import throttled_login
from app.db.engine import session_scope
from app.errors import AlmanacError, Conflict, InvalidInput
from app.models.security_schemas import PasswordChange
from app.security import SESSION_COOKIE
from app.services import users
from app.services.web_sessions import session_token_id
from app.web.auth import (
    LOGIN_COOKIE,
    AnySessionDep,
    AnyWriteSessionDep,
    LoginRequired,
    SignInRefused,
    any_session,
    check_password,
    end_session,
    login_token,
    safe_next,
    set_login_token,
    start_session,
)
from app.web.calls import ApiError, Calls, parse
from app.web.templating import render

router = APIRouter(include_in_schema=False)


def _login_page(
    request: Request,
    *,
    next_url: str,
    error: str | None = None,
    username: str = "",
    status_code: int = 200,
) -> Response:
    token = login_token(request)
    response = render(
        request,
        "login.html",
        {"next": next_url, "error": error, "username": username, "login_token": token},
        session=None,
        status_code=status_code,
    )
    set_login_token(response, token)
    return response


@router.get("/login")
def login_form(request: Request, context: ContextDep, next: str = "/") -> Response:
    try:
        any_session(request, context)
    except LoginRequired:
        return _login_page(request, next_url=safe_next(next))
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/login")
def login(
    request: Request,
    context: ContextDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    login_token_field: Annotated[str, Form(alias="login_token")] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, login_token_field):
        return _login_page(
            request,
            next_url=safe_next(next),
            username=username,
            error="The form expired; please sign in again.",
            status_code=403,
        )
    user = check_password(context, request, username.strip(), password)
    if isinstance(user, SignInRefused):
        page = _login_page(
            request,
            next_url=safe_next(next),
            username=username,
            error=user.message,
            status_code=user.status_code,
        )
        if user.retry_after is not None:
            page.headers["Retry-After"] = str(user.retry_after)
        return page
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session(context, user, request, response)
    return response


@router.post("/logout")
def logout(request: Request, context: ContextDep, session: AnyWriteSessionDep) -> Response:
    response = RedirectResponse("/login", status_code=303)
    end_session(context, request, response)
    return response


@router.get("/password")
def password_form(request: Request, session: AnySessionDep) -> Response:
    return render(request, "password.html", {"error": None}, session=session)


@router.post("/password")
async def change_password(
    request: Request,
    session: AnyWriteSessionDep,
    current_password: Annotated[str, Form(max_length=1000)],
    password: Annotated[str, Form(max_length=1000)],
    confirm: Annotated[str, Form(max_length=1000)],
) -> Response:
    """As `POST /api/v1/auth/password`: its strength rules and throttle; other sessions end."""
    error = "The two new passwords differ." if password != confirm else None
    if error is None:
        calls = Calls(request, session)
        try:
            body = parse(
                PasswordChange, {"current_password": current_password, "password": password}
            )
            users.check_new_password(session.user.username, body.current_password, body.password)
            await calls.run(lambda: _change(calls, body))
        except ApiError as exc:
            error = exc.detail
        except AlmanacError as exc:
            error = str(exc)
    if error is not None:
        return render(request, "password.html", {"error": error}, session=session, status_code=422)
    return RedirectResponse("/", status_code=303)


def _change(calls: Calls, body: PasswordChange) -> None:
    """The current password checked under the login throttle, then the new one stored (this
    session stays, the others end)."""
    context, request = calls.context, calls.request
    username = calls.actor.username
    result = throttled_login(request, context, username, body.current_password, "password change")
    if result.refusal in ("source_locked", "slowed"):
        who = "this address" if result.refusal == "source_locked" else "this account"
        raise Conflict(f"too many failed logins for {who}: try again in {result.retry_after} s")
    if result.user is None:
        raise InvalidInput("current_password", "is wrong")
    token = request.cookies.get(SESSION_COOKIE, "")
    with session_scope(context.engine) as db:
        keep = session_token_id(db, token=token)
    users.change_own_password(
        context.engine,
        actor=calls.actor,
        now=context.clock.now(),
        password=body.password,
        keep_token=keep,
    )
