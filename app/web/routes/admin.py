"""Admin (/admin): users, agent tokens, API tokens and the audit log, all through the API
(which decides who may manage whom); a new token is shown once."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Header, Path, Query, Request
from starlette.responses import Response

from app.web.api import ApiClient, ApiDep
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError
from app.web.deps import PageError
from app.web.htmx import HtmxDep
from app.web.tasks_view import timezones
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Tab = Literal["users", "agent-tokens", "tokens", "audit"]
Username = Annotated[str, Path(min_length=1, max_length=100)]
ROLES = ("viewer", "user", "operator", "admin", "superadmin")
AUDIT_PAGE = 50


async def _tab_context(api: ApiClient, tab: Tab, audit: dict[str, Any]) -> dict[str, Any]:
    if tab == "users":
        return {"users": await api.get("/users"), "roles": ROLES, "timezones": timezones()}
    if tab == "agent-tokens":
        return {"agent_tokens": await api.get("/agents/tokens")}
    if tab == "tokens":
        return {"tokens": await api.get("/tokens", all="true")}
    page = await api.get(
        "/audit",
        actor=audit.get("actor") or None,
        action=audit.get("action") or None,
        page=audit.get("page", 1),
        page_size=AUDIT_PAGE,
    )
    return {"audit": page, "filters": audit}


async def _render(
    request: Request,
    api: ApiClient,
    tab: Tab,
    fragment: bool,
    audit: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if not api.session.can_admin:
        raise PageError(403, "The admin pages need the admin role.")
    context = {"tab": tab, **await _tab_context(api, tab, audit or {}), **(extra or {})}
    name = "admin/_tab.html" if fragment else "admin/page.html"
    return render(
        request,
        name,
        {"active": "admin", **context},
        session=api.session,
        headers=headers,
        status_code=status_code,
    )


@router.get("/admin")
async def admin_page(
    request: Request,
    api: ApiDep,
    htmx: HtmxDep,
    tab: Tab = "users",
    actor: Annotated[str, Query(max_length=100)] = "",
    action: Annotated[str, Query(max_length=50)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    audit = {"actor": actor, "action": action, "page": page}
    return await _render(request, api, tab, htmx.wants_fragment, audit)


def _toast(text: str, kind: str = "") -> dict[str, str]:
    return {"HX-Trigger": json.dumps({"toast": {"text": text, "kind": kind}})}


async def _act(
    request: Request, api: ApiClient, tab: Tab, method: str, path: str, body: Any, done: str
) -> Response:
    """Call the API; redraw the tab with the outcome as a toast."""
    try:
        answer = await api.call(method, path, json=body)
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        return await _render(request, api, tab, True, headers=_toast(exc.detail, "error"))
    extra = {"created": answer} if isinstance(answer, dict) and "token" in answer else None
    return await _render(request, api, tab, True, extra=extra, headers=_toast(done))


@router.post("/admin/users")
async def create_user(
    request: Request,
    api: ApiDep,
    session: WriteSessionDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()] = "viewer",
    instances: Annotated[str, Form()] = "default",
    timezone: Annotated[str, Form()] = "UTC",
) -> Response:
    body = {
        "username": username.strip(),
        "password": password,
        "role": role,
        "instances": [i.strip() for i in instances.split(",") if i.strip()],
        "timezone": timezone.strip() or "UTC",
        "must_change_password": True,
    }
    return await _act(request, api, "users", "POST", "/users", body, f"User {username} created")


@router.post("/admin/users/{username}")
async def update_user(
    request: Request,
    username: Username,
    api: ApiDep,
    session: WriteSessionDep,
    role: Annotated[str | None, Form()] = None,
    instances: Annotated[str | None, Form()] = None,
    timezone: Annotated[str | None, Form()] = None,
    disabled: Annotated[str | None, Form()] = None,
    unlock: Annotated[str | None, Form()] = None,
) -> Response:
    body: dict[str, Any] = {}
    if role:
        body["role"] = role
    if instances is not None:
        body["instances"] = [i.strip() for i in instances.split(",") if i.strip()]
    if timezone:
        body["timezone"] = timezone.strip()
    if disabled in ("true", "false"):
        body["disabled"] = disabled == "true"
    if unlock == "true":
        body["unlock"] = True
    return await _act(
        request, api, "users", "PATCH", f"/users/{username}", body, f"User {username} updated"
    )


@router.post("/admin/users/{username}/password")
async def reset_password(
    request: Request,
    username: Username,
    api: ApiDep,
    session: WriteSessionDep,
    password: Annotated[str, Form()] = "",
    prompt: Annotated[str, Header(alias="HX-Prompt")] = "",
) -> Response:
    """The new password from the form, or from htmx's prompt (the HX-Prompt header)."""
    password = password or prompt
    return await _act(
        request,
        api,
        "users",
        "POST",
        f"/users/{username}/password",
        {"password": password, "must_change_password": True},
        f"Password of {username} reset (to be changed at next sign-in)",
    )


@router.post("/admin/users/{username}/delete")
async def delete_user(
    request: Request, username: Username, api: ApiDep, session: WriteSessionDep
) -> Response:
    return await _act(
        request, api, "users", "DELETE", f"/users/{username}", None, f"User {username} deleted"
    )


@router.post("/admin/agent-tokens")
async def create_agent_token(
    request: Request,
    api: ApiDep,
    session: WriteSessionDep,
    name: Annotated[str, Form(max_length=200)],
    agent: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """`agent`: the one agent name the token may connect as (the token's name when empty)."""
    body = {"name": name.strip(), **({"agent": agent.strip()} if agent.strip() else {})}
    return await _act(
        request,
        api,
        "agent-tokens",
        "POST",
        "/agents/tokens",
        body,
        f"Agent token {name} created for agent {body.get('agent', body['name'])}",
    )


@router.post("/admin/agent-tokens/{token_id:int}/revoke")
async def revoke_agent_token(
    request: Request, token_id: int, api: ApiDep, session: WriteSessionDep
) -> Response:
    return await _act(
        request,
        api,
        "agent-tokens",
        "DELETE",
        f"/agents/tokens/{token_id}",
        None,
        "Agent token revoked",
    )


@router.post("/admin/tokens/{token_id:int}/revoke")
async def revoke_token(
    request: Request, token_id: int, api: ApiDep, session: WriteSessionDep
) -> Response:
    return await _act(
        request, api, "tokens", "DELETE", f"/tokens/{token_id}", None, "Token revoked"
    )
