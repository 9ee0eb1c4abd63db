"""/health: no authentication; says who leads the scheduler and which database is used."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api.deps import ContextDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(context: ContextDep) -> JSONResponse:
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database_ok = True
    except Exception:
        database_ok = False
    body = {
        "status": "ok" if database_ok else "degraded",
        "scheduler": context.scheduler.role,
        "database": context.settings.dialect,
        "agents_connected": len(context.hub.connections),
    }
    return JSONResponse(body, status_code=200 if database_ok else 503)
