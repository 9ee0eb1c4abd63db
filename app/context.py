"""What the running server is made of, built once at the composition root (app/server.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from app.clock import Clock
from app.control_relay import ControlRelay
from app.hub.hub import AgentHub
from app.scheduler.service import SchedulerService
from app.settings import Settings


@dataclass(frozen=True, kw_only=True)
class AppContext:
    settings: Settings
    engine: Engine
    clock: Clock
    hub: AgentHub
    scheduler: SchedulerService
    controls: ControlRelay  # kill / pause / resume, relayed to the replica holding the agent
    csrf_key: bytes  # keys the web forms' CSRF tokens (derived from the server's secret key)
    started_at: datetime | None = None  # when this server process started (uptime)
