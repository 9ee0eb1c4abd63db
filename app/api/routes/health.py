"""/health: no authentication; says who leads the scheduler and which database is used."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api.deps import ContextDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(context: ContextDep) -> JSONResponse:
    leadership = context.scheduler.leadership
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            role = leadership.confirmed_role(connection)  # the lock as the database sees it
        database_ok = True
    except Exception:
        database_ok = False
        role = leadership.role
    body = {
        "status": "ok" if database_ok else "degraded",
        "scheduler": role,
        "database": context.settings.dialect,
        "agents_connected": len(context.hub.connections),
    }
    return JSONResponse(body, status_code=200 if database_ok else 503)
