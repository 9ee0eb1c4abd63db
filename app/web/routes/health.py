"""Health (/health): who leads the scheduler, whether the database answers, the agents and the
dispatch queue, as this server sees them (read through the services)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.domain.states import RunStatus
from app.services import agents, runs
from app.services.health import server_details, server_health
from app.web.calls import Calls, CallsDep, dump
from app.web.htmx import HtmxDep
from app.web.templating import render

router = APIRouter(include_in_schema=False)


async def _context(calls: Calls) -> dict[str, Any]:
    context = calls.context
    health = await calls.run(lambda: server_health(context))
    details = await calls.run(lambda: server_details(context))
    fleet = dump(await calls.read(agents.list_agents, hub=context.hub))
    queue = await calls.read(runs.list_runs, status=[RunStatus.ACTIVE], page_size=500)
    return {
        "active": "health",
        "health": health,
        "details": details,
        "agents": fleet,
        "online": [a for a in fleet if a.get("connected")],
        "offline": [a for a in fleet if not a.get("connected")],
        "queue": len(queue.items),
        "queue_more": queue.has_more,
    }


@router.get("/health")
async def health_page(request: Request, api: CallsDep, htmx: HtmxDep) -> Response:
    """The page; to htmx's poll (every 5 s), only its cards."""
    name = "health/_body.html" if htmx.wants_fragment else "health/page.html"
    return render(request, name, await _context(api), session=api.session)
