"""The web UI's routers, one per screen."""

from fastapi import APIRouter

from app.web.routes import login, run_detail, run_logs, task_runs

ROUTERS: tuple[APIRouter, ...] = (login.router, task_runs.router, run_detail.router,
                                  run_logs.router)
