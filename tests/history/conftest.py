"""History under test: the real app on a real SQLite database, through its REST API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import migrated_sqlite, seed_user

from app.db.engine import make_engine
from app.server import create_app
from app.settings import Settings

Client = Callable[..., TestClient]


@pytest.fixture
def history_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(migrated_sqlite(tmp_path / "almanac.db"))
    yield engine
    engine.dispose()


@pytest.fixture
def history_app(history_engine: Engine, tmp_path: Path) -> FastAPI:
    settings = Settings(data_dir=tmp_path, database_url=str(history_engine.url), local_agent=False)
    return create_app(settings, engine=history_engine, start_scheduler=False)


@pytest.fixture
def api(history_app: FastAPI, history_engine: Engine) -> Iterator[TestClient]:
    """The superadmin's API client."""
    token = seed_user(history_engine, "admin")
    with TestClient(history_app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture
def client_as(history_app: FastAPI, history_engine: Engine, api: TestClient) -> Client:
    """client_as(username, role, instances) → an API client signed in as a new user."""

    def make(username: str, role: str, instances: list[str] | None = None) -> TestClient:
        token = seed_user(history_engine, username, role=role, instances=instances)
        client = TestClient(history_app)
        client.headers["Authorization"] = f"Bearer {token}"
        return client

    return make
