"""Web sessions: a cookie holding a random token stored hashed (ApiToken kind="session"),
and a CSRF token derived from it that every state-changing request must carry.

The CSRF token is an HMAC of the session token: a page can show it, a cross-site attacker
cannot compute it (the cookie is HttpOnly), and nothing more needs storing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Response

from app.api.deps import ContextDep
from app.api.routes.auth import throttled_login
from app.context import AppContext
from app.db.engine import session_scope
from app.db.users import issue_token
from app.domain.roles import Role, role_at_least
from app.security import SESSION_COOKIE
from app.services.web_sessions import revoke_session, session_user
from app.web.viewer_zone import BROWSER_ZONE_COOKIE, browser_zone, viewer_zone

if TYPE_CHECKING:  # the user row's type only: the services read it
    from app.db.tables import User

LOGIN_COOKIE = "almanac_login"  # double-submit CSRF token of the login form
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_HOURS = 12
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequired(Exception):
    """No valid session: pages redirect to /login, fragments tell htmx to go there."""


class PasswordChangeRequired(Exception):
    """The account must change its password before anything else (pages go to /password)."""


class CsrfRejected(Exception):
    """A state-changing request without the session's CSRF token."""


@dataclass(frozen=True, kw_only=True)
class WebSession:
    user: User
    csrf: str
    browser_zone: str | None = None  # from the almanac_tz cookie, checked

    @property
    def zone(self) -> str:
        """The zone this viewer's pages show times in (app/web/viewer_zone.py)."""
        return viewer_zone(
            chosen=self.user.timezone_chosen, own=self.user.timezone, browser=self.browser_zone
        )

    @property
    def can_write(self) -> bool:  # create and edit tasks
        return role_at_least(self.user.role, Role.USER)

    @property
    def can_operate(self) -> bool:  # force run, kill, pause, resume, adhoc
        return role_at_least(self.user.role, Role.OPERATOR)

    @property
    def can_admin(self) -> bool:  # calendars, agent tokens, users
        return role_at_least(self.user.role, Role.ADMIN)


def csrf_for(session_token: str, key: bytes) -> str:
    """The session's CSRF token: keyed with the server's secret, so knowing how it is made
    is not enough to make one."""
    return hmac.new(key, session_token.encode(), hashlib.sha256).hexdigest()


def any_session(request: Request, context: ContextDep) -> WebSession:
    """The session, even of an account that must change its password first."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired()
    user = _session_user(context, token)
    if user is None:
        raise LoginRequired()
    return WebSession(
        user=user,
        csrf=csrf_for(token, context.csrf_key),
        browser_zone=browser_zone(request.cookies.get(BROWSER_ZONE_COOKIE)),
    )


def web_session(session: Annotated[WebSession, Depends(any_session)]) -> WebSession:
    if session.user.must_change_password:
        raise PasswordChangeRequired()
    return session


def _session_user(context: AppContext, token: str) -> User | None:
    with session_scope(context.engine) as session:
        return session_user(session, token=token, now=context.clock.now())


SessionDep = Annotated[WebSession, Depends(web_session)]
AnySessionDep = Annotated[WebSession, Depends(any_session)]


async def _check_csrf(request: Request, session: WebSession) -> WebSession:
    if request.method in _UNSAFE:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if sent is None or not hmac.compare_digest(sent, session.csrf):
            raise CsrfRejected()
    return session


async def checked_session(request: Request, session: SessionDep) -> WebSession:
    """The session, after checking the CSRF token of a state-changing request."""
    return await _check_csrf(request, session)


async def checked_any_session(
    request: Request, session: Annotated[WebSession, Depends(any_session)]
) -> WebSession:
    """As `checked_session`, for the few routes open while a password change is due."""
    return await _check_csrf(request, session)


AnyWriteSessionDep = Annotated[WebSession, Depends(checked_any_session)]
WriteSessionDep = Annotated[WebSession, Depends(checked_session)]


@dataclass(frozen=True)
class SignInRefused:
    """Why the sign-in form refuses, with the status and Retry-After the page answers."""

    message: str
    status_code: int = 401
    retry_after: int | None = None


def check_password(
    context: AppContext, request: Request, username: str, password: str
) -> User | SignInRefused:
    """The user, or why the sign-in is refused: the same throttle as
    `POST /api/v1/auth/token` (the account slowed, the source address locked)."""
    result = throttled_login(request, context, username, password, "web")
    if result.user is not None:
        return result.user
    if result.refusal == "source_locked":
        return SignInRefused(
            f"Too many failed sign-ins from your address: try again in {result.retry_after} s.",
            429,
            result.retry_after,
        )
    if result.refusal == "slowed":
        return SignInRefused(
            f"Too many failed sign-ins for this account: try again in {result.retry_after} s.",
            429,
            result.retry_after,
        )
    return SignInRefused("Wrong username or password.")


def start_session(context: AppContext, user: User, request: Request, response: Response) -> None:
    now = context.clock.now()
    with session_scope(context.engine) as session:
        _, token = issue_token(
            session,
            user,
            name="web session",
            kind="session",
            now=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request, context),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")


def end_session(context: AppContext, request: Request, response: Response) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with session_scope(context.engine) as session:
            revoke_session(session, token=token, now=context.clock.now())
    response.delete_cookie(SESSION_COOKIE, path="/")


def login_token(request: Request) -> str:
    """The login form's double-submit token: the cookie's value, or a fresh one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def set_login_token(response: Response, value: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE, value, max_age=3600, path="/login", httponly=True, samesite="lax"
    )


def is_https(request: Request, context: AppContext) -> bool:
    public = context.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//host` or a full URL (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
