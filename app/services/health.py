"""This server's health: whether the database answers, who leads the scheduler (the lock as
the database sees it), and how many agents are connected here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app import __version__
from app.context import AppContext


def server_health(context: AppContext) -> dict[str, Any]:
    """`status` is "ok", or "degraded" when the database does not answer."""
    leadership = context.scheduler.leadership
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            role = leadership.confirmed_role(connection)  # the lock as the database sees it
        database_ok = True
    except Exception:
        database_ok = False
        role = leadership.role
    return {
        "status": "ok" if database_ok else "degraded",
        "scheduler": role,
        "database": context.settings.dialect,
        "agents_connected": len(context.hub.connections),
        "version": __version__,
    }
