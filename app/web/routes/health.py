"""Health (/health): who leads the scheduler, whether the database answers, the agents and the
dispatch queue, as this server sees them (read through the API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.web.api import ApiClient, ApiDep
from app.web.calls import ApiError
from app.web.templating import render

router = APIRouter(include_in_schema=False)


async def _context(api: ApiClient) -> dict[str, Any]:
    try:
        health = await api.get("/health")
    except ApiError as exc:  # 503: the database does not answer
        if exc.status_code == 401:
            raise
        health = {"status": "degraded", "scheduler": "unknown", "database": "unreachable"}
    agents = await api.get("/agents")
    queue = await api.get("/runs", status="ACTIVE", page_size=500)
    return {
        "active": "health",
        "health": health,
        "agents": agents,
        "online": [a for a in agents if a.get("connected")],
        "offline": [a for a in agents if not a.get("connected")],
        "queue": len(queue["items"]),
        "queue_more": queue["has_more"],
    }


@router.get("/health")
async def health_page(request: Request, api: ApiDep) -> Response:
    return render(request, "health/page.html", await _context(api), session=api.session)
