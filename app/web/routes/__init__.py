"""The web UI's routers, one per screen."""

from fastapi import APIRouter

from app.web.routes import login, task_runs

ROUTERS: tuple[APIRouter, ...] = (login.router, task_runs.router)
