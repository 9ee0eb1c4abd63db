"""/health: no authentication; says who leads the scheduler and which database is used."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ContextDep
from app.services.health import server_health

router = APIRouter(tags=["health"])


@router.get("/health")
def health(context: ContextDep) -> JSONResponse:
    body = server_health(context)
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)
