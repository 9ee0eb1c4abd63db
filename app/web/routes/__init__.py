"""The web UI's routers, one per screen."""

from fastapi import APIRouter

from app.web.routes import (
    adhoc,
    admin,
    agents,
    approvals,
    backfills,
    calendars,
    crontab_import,
    dashboard,
    groups,
    health,
    login,
    pools,
    profile,
    run_detail,
    run_for_date,
    run_logs,
    task_runs,
    tasks,
    transfer,
    variable_sets,
)

ROUTERS: tuple[APIRouter, ...] = (
    login.router,
    dashboard.router,
    task_runs.router,
    run_detail.router,
    run_logs.router,
    crontab_import.router,
    tasks.router,
    run_for_date.router,
    transfer.router,
    groups.router,
    backfills.router,
    agents.router,
    calendars.router,
    variable_sets.router,
    pools.router,
    adhoc.router,
    admin.router,
    health.router,
    profile.router,
    approvals.router,
)
