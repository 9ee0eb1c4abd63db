"""The web UI's routers, one per screen."""

from fastapi import APIRouter

from app.web.routes import (
    adhoc,
    admin,
    agents,
    calendars,
    dashboard,
    groups,
    health,
    login,
    pools,
    run_detail,
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
    transfer.router,
    groups.router,
    agents.router,
    calendars.router,
    pools.router,
    adhoc.router,
    admin.router,
    health.router,
)
