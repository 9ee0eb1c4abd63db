"""Admin (/admin): users, agent tokens, API tokens and the audit log, all through the
services (which decide who may manage whom); a new token is shown once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Header, Path, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from app.models.security_schemas import (
    AgentTokenCreateBody,
    AgentTokenScopeBody,
    PasswordReset,
    UserCreate,
    UserUpdate,
)
from app.services import agent_tokens, audit_log, tokens, users
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump, parse
from app.web.deps import PageError
from app.web.htmx import HtmxDep
from app.web.tasks_view import timezones
from app.web.templating import render

router = APIRouter(include_in_schema=False)
Tab = Literal["users", "agent-tokens", "tokens", "audit"]
Username = Annotated[str, Path(min_length=1, max_length=100)]
ROLES = ("viewer", "user", "operator", "admin", "superadmin")
AUDIT_PAGE = 50


async def _tab_context(api: Calls, tab: Tab, audit: dict[str, Any]) -> dict[str, Any]:
    if tab == "users":
        listed = dump(await api.read(users.list_users))
        return {"users": listed, "roles": ROLES, "timezones": timezones()}
    if tab == "agent-tokens":
        now = api.context.clock.now()
        return {"agent_tokens": dump(await api.read(agent_tokens.list_agent_tokens, now=now))}
    if tab == "tokens":
        return {"tokens": dump(await api.read(tokens.list_tokens, all_users=True))}
    page = await api.read(
        audit_log.list_audit,
        who=audit.get("actor") or None,
        action=audit.get("action") or None,
        page=audit.get("page", 1),
        page_size=AUDIT_PAGE,
    )
    return {"audit": dump(page), "filters": audit}


async def _render(
    request: Request,
    api: Calls,
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
    api: CallsDep,
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


async def _act(request: Request, api: Calls, tab: Tab, work: Awaitable[Any], done: str) -> Response:
    """Run the service call; redraw the tab with the outcome as a toast."""
    try:
        answer = await work
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        # The refusal stays on the tab (every problem, in plain words) until the next answer.
        refusal = {"refusal": exc.field_errors()}
        return await _render(
            request, api, tab, True, extra=refusal, headers=_toast(exc.detail, "error")
        )
    created = dump(answer) if isinstance(answer, BaseModel) else None
    extra = {"created": created} if created and "token" in created else None
    return await _render(request, api, tab, True, extra=extra, headers=_toast(done))


async def _with_body(
    api: Calls, command: Callable[..., Any], model: type[BaseModel], body: Any, **arguments: Any
) -> Any:
    """The command with its body read as the API would: a refusal of the body is a toast."""
    return await api.command(command, body=parse(model, body), **arguments)


@router.post("/admin/users")
async def create_user(
    request: Request,
    api: CallsDep,
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
    work = _with_body(api, users.create, UserCreate, body)
    return await _act(request, api, "users", work, f"User {username} created")


@router.post("/admin/users/{username}")
async def update_user(
    request: Request,
    username: Username,
    api: CallsDep,
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
    work = _with_body(api, users.update, UserUpdate, body, username=username)
    return await _act(request, api, "users", work, f"User {username} updated")


@router.post("/admin/users/{username}/password")
async def reset_password(
    request: Request,
    username: Username,
    api: CallsDep,
    session: WriteSessionDep,
    password: Annotated[str, Form()] = "",
    prompt: Annotated[str, Header(alias="HX-Prompt")] = "",
) -> Response:
    """The new password from the form, or from htmx's prompt (the HX-Prompt header)."""
    password = password or prompt
    reset = {"password": password, "must_change_password": True}
    work = _with_body(api, users.reset_password, PasswordReset, reset, username=username)
    return await _act(
        request, api, "users", work, f"Password of {username} reset (to be changed at next sign-in)"
    )


@router.post("/admin/users/{username}/delete")
async def delete_user(
    request: Request, username: Username, api: CallsDep, session: WriteSessionDep
) -> Response:
    work = api.command(users.remove, username=username)
    return await _act(request, api, "users", work, f"User {username} deleted")


@router.post("/admin/agent-tokens")
async def create_agent_token(
    request: Request,
    api: CallsDep,
    session: WriteSessionDep,
    name: Annotated[str, Form(max_length=200)],
    agent: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """`agent`: the one agent name the token may connect as (the token's name when empty)."""
    body = {"name": name.strip(), **({"agent": agent.strip()} if agent.strip() else {})}
    work = _with_body(api, agent_tokens.create_agent_token, AgentTokenCreateBody, body)
    done = f"Agent token {name} created for agent {body.get('agent', body['name'])}"
    return await _act(request, api, "agent-tokens", work, done)


@router.post("/admin/agent-tokens/{token_id:int}/revoke")
async def revoke_agent_token(
    request: Request, token_id: int, api: CallsDep, session: WriteSessionDep
) -> Response:
    work = api.awaiting(agent_tokens.revoke_agent_token, token_id=token_id, hub=api.context.hub)
    return await _act(request, api, "agent-tokens", work, "Agent token revoked")


@router.post("/admin/agent-tokens/{token_id:int}/scope")
async def set_agent_token_scope(
    request: Request,
    token_id: int,
    api: CallsDep,
    session: WriteSessionDep,
    agent: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """`agent`: the one agent name the token may connect as from now on."""

    async def work() -> Any:
        body = parse(AgentTokenScopeBody, {"agent": agent.strip()})
        return await api.awaiting(
            agent_tokens.set_agent_token_scope, token_id=token_id, body=body, hub=api.context.hub
        )

    done = f"Agent token now bound to agent {agent.strip()}"
    return await _act(request, api, "agent-tokens", work(), done)


@router.post("/admin/tokens/{token_id:int}/revoke")
async def revoke_token(
    request: Request, token_id: int, api: CallsDep, session: WriteSessionDep
) -> Response:
    work = api.command(tokens.revoke_token, token_id=token_id)
    return await _act(request, api, "tokens", work, "Token revoked")
