"""The stepped backfill world, on each database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from backfill.backfill_world import World
from sqlalchemy import Engine

from app.clock import FrozenClock
from app.scheduler.service import SchedulerService
from app.server import create_app
from app.settings import Settings


@pytest.fixture
async def world(engine: Engine, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path / "data", local_agent=False)
    app = create_app(settings, clock=clock, engine=engine, start_scheduler=False)
    scheduler: SchedulerService = app.state.context.scheduler
    scheduler.leadership.is_leader = True  # what winning the election does
    scheduler.leadership.postgres = False  # no lock session here: fencing is not tested
    scheduler.started_at = clock.now() - timedelta(hours=1)
    world = World(app, engine, clock, scheduler)
    yield world
    for agent in world.agents:
        await agent.close()
