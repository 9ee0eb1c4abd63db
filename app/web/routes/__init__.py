"""The web UI's routers, one per screen."""

from fastapi import APIRouter

from app.web.routes import (
    adhoc,
    admin,
    agents,
    backfills,
    calendars,
    dashboard,
    groups,
    health,
    login,
    run_detail,
    run_for_date,
    run_logs,
    task_runs,
    tasks,
    transfer,
)

ROUTERS: tuple[APIRouter, ...] = (
    login.router,
    dashboard.router,
    task_runs.router,
    run_detail.router,
    run_logs.router,
    tasks.router,
    run_for_date.router,
    transfer.router,
    groups.router,
    backfills.router,
    agents.router,
    calendars.router,
    adhoc.router,
    admin.router,
    health.router,
)
