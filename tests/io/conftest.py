"""Import / export under test: a real app on a real database (both backends), no agent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import seed_user

from app.db.engine import make_engine
from app.server import create_app
from app.settings import Settings


@pytest.fixture
def io_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def api(io_engine: Engine, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, local_agent=False)
    token = seed_user(io_engine)
    with TestClient(create_app(settings, engine=io_engine)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
