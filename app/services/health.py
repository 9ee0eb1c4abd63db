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


def server_details(context: AppContext) -> dict[str, Any]:
    """What the health page adds for signed-in users: uptime, how the scheduler keeps up, the
    timers it holds, the database's size and the retention in force."""
    now = context.clock.now()
    pulse = context.scheduler.pulse
    wake_ups = context.scheduler.wake_ups()
    return {
        "uptime_seconds": (now - context.started_at).total_seconds()
        if context.started_at
        else None,
        "last_fire_at": pulse.last_fire_at,
        "last_lag_seconds": pulse.last_lag_seconds,
        "last_maintenance_at": pulse.last_maintenance_at,
        "timers": len(wake_ups),
        "next_wake_up": wake_ups[0] if wake_ups else None,
        "database_bytes": _database_bytes(context),
        "retention_days": context.settings.retention_days,
    }


def _database_bytes(context: AppContext) -> int | None:
    query = (
        "SELECT pg_database_size(current_database())"
        if context.settings.dialect == "postgresql"
        else "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
    )
    try:
        with context.engine.connect() as connection:
            value = connection.execute(text(query)).scalar()
    except Exception:  # the size is a nicety: a database that cannot say it shows "unknown"
        return None
    return int(value) if value is not None else None
