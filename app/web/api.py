"""The REST API, called in-process with the viewer's session: pages show and change exactly
what the API shows and allows (its role checks, instance scopes, validation and audit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from app.security import SESSION_COOKIE
from app.web.auth import SessionDep
from app.web.calls import ApiError, Calls

API = "/api/v1"


@dataclass(frozen=True)
class ApiClient(Calls):
    """The services (Calls), and the REST API over in-process HTTP for the pages that do
    not call services yet."""

    async def raw(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """The API's answer as it is (the whole body: for JSON and modest files)."""
        client_host = self.request.client.host if self.request.client else "127.0.0.1"
        transport = httpx.ASGITransport(app=self.request.app, client=(client_host, 0))
        token = self.request.cookies.get(SESSION_COOKIE, "")
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://almanac.internal",
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            headers = {"Content-Type": "application/json"} if content is not None else None
            return await http.request(
                method,
                API + path,
                params=_clean(params),
                json=json,
                content=content,
                headers=headers,
            )

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> Any:
        response = await self.raw(method, path, params=params, json=json, content=content)
        if response.status_code >= 400:
            body = _json(response)
            raise ApiError(
                response.status_code,
                str(body.get("detail", response.text)),
                list(body.get("errors") or []),
            )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, json: Any = None) -> Any:
        return await self.call("POST", path, json=json)

    async def patch(self, path: str, json: Any) -> Any:
        return await self.call("PATCH", path, json=json)

    async def delete(self, path: str, json: Any = None) -> Any:
        return await self.call("DELETE", path, json=json)


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None and v != ""}


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def api_client(request: Request, session: SessionDep) -> ApiClient:
    return ApiClient(request, session)


ApiDep = Annotated[ApiClient, Depends(api_client)]


def api_has(request: Request, method: str, path: str) -> bool:
    """Whether the API offers `method path` (e.g. "POST", "/runs/{run_id}/approve"): pages
    show a feature's controls only once its endpoint exists (read from the OpenAPI schema)."""
    return method.upper() in _api_paths(request.app).get(API + path, set())


def _api_paths(app: Any) -> dict[str, set[str]]:
    paths: dict[str, set[str]] | None = getattr(app.state, "web_api_paths", None)
    if paths is None:
        try:
            schema = app.openapi()
        except Exception:  # a broken schema must not take the pages down
            schema = {}
        paths = {
            path: {verb.upper() for verb in ops} for path, ops in schema.get("paths", {}).items()
        }
        app.state.web_api_paths = paths
    return paths
