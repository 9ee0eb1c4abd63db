"""Agents (/agents): the fleet with usage, labels and running runs; drain, undrain and
remove through the agents service; redrawn as heartbeats and runs come in."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.api.deps import ContextDep
from app.services import agents
from app.web.auth import WriteSessionDep
from app.web.calls import ApiError, Calls, CallsDep, dump
from app.web.deps import BusDep, LifetimeDep
from app.web.features import api_has
from app.web.htmx import HtmxDep
from app.web.scoped_changes import for_viewer
from app.web.sse import EventStream, redraw_stream
from app.web.templating import render

router = APIRouter(include_in_schema=False)
AgentName = Annotated[str, Path(min_length=1, max_length=200)]
REDRAW_EVERY = 1.0


async def _context(api: Calls) -> dict[str, Any]:
    fleet = dump(await api.read(agents.list_agents, hub=api.context.hub))
    request = api.request
    return {
        "active": "agents",
        "agents": fleet,
        "can_drain": api.session.can_operate and api_has(request, "POST", "/agents/{name}/drain"),
        "can_remove": api.session.can_admin and api_has(request, "DELETE", "/agents/{name}"),
        "online": sum(1 for a in fleet if a.get("connected")),
        "draining": sum(1 for a in fleet if a.get("draining")),
    }


@router.get("/agents")
async def agents_page(request: Request, api: CallsDep, htmx: HtmxDep, bus: BusDep) -> Response:
    seq = bus.seq
    name = "agents/_grid.html" if htmx.wants_fragment else "agents/page.html"
    return render(request, name, {**await _context(api), "seq": seq}, session=api.session)


@router.post("/agents/{name}/{action}")
async def agent_action(
    request: Request,
    name: AgentName,
    action: Literal["drain", "undrain", "remove"],
    api: CallsDep,
    session: WriteSessionDep,
) -> Response:
    message = {
        "drain": f"{name} is draining",
        "undrain": f"{name} takes work again",
        "remove": f"{name} removed",
    }[action]
    kind = ""
    try:
        context = api.context
        if action == "remove":
            await api.awaiting(agents.remove_agent, name=name, hub=context.hub)
        else:
            await api.command(
                agents.set_draining,
                name=name,
                draining=action == "drain",
                hub=context.hub,
            )
    except ApiError as exc:
        if exc.status_code == 401:
            raise
        message, kind = exc.detail, "error"
    headers = {"HX-Trigger": json.dumps({"toast": {"text": message, "kind": kind}})}
    return render(
        request, "agents/_grid.html", await _context(api), session=api.session, headers=headers
    )


@router.get("/agents/events")
async def agents_events(
    context: ContextDep, bus: BusDep, lifetime: LifetimeDep, api: CallsDep, seq: int = 0
) -> EventStream:
    relevant = for_viewer(context.engine, api.session.user.instances)
    return redraw_stream(bus, seq, lifetime, REDRAW_EVERY, relevant)
