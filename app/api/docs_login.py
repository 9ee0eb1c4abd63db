"""The API's description (`/api/v1/openapi.json`) and its Swagger page (`/api/v1/docs`)
need a login like every other route: a bearer token, or the web UI's session cookie (so a
signed-in browser can open the docs page and its fetch of the document carries the cookie).
The description lists every route and field, which helps whoever probes the server; those
who use the API hold a token anyway."""

from __future__ import annotations

from collections.abc import Collection

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.deps import authenticate_login, bearer_token
from app.asgi_refusal import send_unauthorized
from app.errors import AuthError
from app.security import SESSION_COOKIE


class DocsNeedLogin:
    def __init__(self, app: ASGIApp, *, paths: Collection[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in self.paths:
            request = Request(scope)
            token = bearer_token(request) or request.cookies.get(SESSION_COOKIE)
            try:
                await anyio.to_thread.run_sync(authenticate_login, request.app.state.context, token)
            except AuthError as exc:
                await _refuse(send, str(exc))
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, detail: str) -> None:
    await send_unauthorized(send, detail)
