"""`almanac mcp --http`: the MCP tools over streamable HTTP, each request acting with the
bearer token it carries.

Nothing here decides what a token may do: every tool calls the REST API with the caller's own
token (app/mcp_server.py), so roles, scopes, approvals and the audit log apply as on stdio. Two
guards sit in front: a request without `Authorization: Bearer` is answered 401 before the MCP
layer sees it, and so is a token the Almanac server refuses (checked with `GET /auth/me`), so
a client learns at once that its token is wrong. The transport is stateless (no session ties
one token's messages to another's) and answers in JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import httpx
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from starlette.types import ASGIApp, Receive, Scope, Send

from app.asgi_refusal import send_unauthorized
from app.client.http import Almanac

PATH = "/mcp"
_caller: ContextVar[Almanac | None] = ContextVar("almanac_mcp_caller", default=None)


def bearer(headers: Any) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    value = str((headers or {}).get("authorization") or "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def current_caller() -> Almanac:
    caller = _caller.get()
    if caller is None:  # only reachable if a request slipped past the guard
        raise PermissionError("no caller token on this request")
    return caller


class CallerToken:
    """MCP middleware: for each message, a client of the Almanac server with the token of the
    HTTP request that carried it, for the tools to call through."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        token = bearer(getattr(ctx.request, "headers", None))
        if token is None:
            return await call_next(ctx)  # tools then refuse (current_caller)
        with Almanac(self.server_url, token) as api:
            reset = _caller.set(api)
            try:
                return await call_next(ctx)
            finally:
                _caller.reset(reset)


class RequireToken:
    """ASGI guard: 401 unless the request's bearer token is one the Almanac server accepts."""

    def __init__(
        self, app: ASGIApp, server_url: str, check: Callable[[str], Awaitable[bool]] | None = None
    ) -> None:
        self.app = app
        self.server_url = server_url.rstrip("/")
        self.check = check or self._accepted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        token = bearer(headers)
        if token is None or not await self.check(token):
            await _unauthorized(send, "a valid Almanac API token is needed: Authorization: Bearer")
            return
        await self.app(scope, receive, send)

    async def _accepted(self, token: str) -> bool:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(
                f"{self.server_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
            )
        return answer.status_code == 200


async def _unauthorized(send: Send, detail: str) -> None:
    await send_unauthorized(send, detail, b'Bearer realm="almanac"')


def http_app(server_url: str, host: str) -> ASGIApp:
    """The ASGI app `almanac mcp --http` serves: the guard, then the SDK's streamable HTTP."""
    from app.mcp_server import build_server

    mcp = build_server(current_caller, middleware=[CallerToken(server_url)])
    inner = mcp.streamable_http_app(
        streamable_http_path=PATH, stateless_http=True, json_response=True, host=host
    )
    return RequireToken(inner, server_url)
