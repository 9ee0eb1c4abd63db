"""The API under test: a real app on a real database (both backends), no agent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support import seed_user

from app.db.engine import make_engine
from app.server import create_app
from app.settings import Settings


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, local_agent=False)
    engine = make_engine(database_url)
    token = seed_user(engine)
    with TestClient(create_app(settings, engine=engine)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
    engine.dispose()
