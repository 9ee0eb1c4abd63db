"""Definitions as code under test: a real app on a real SQLite database, no agent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import seed_user

from app.server import create_app
from app.settings import Settings

API = "/api/v1"
Files = dict[str, str]


@pytest.fixture
def settings(tmp_path: Path, sqlite_engine: Engine) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=str(sqlite_engine.url), local_agent=False
    )


@pytest.fixture
def api(sqlite_engine: Engine, settings: Settings) -> Iterator[TestClient]:
    token = seed_user(sqlite_engine)
    with TestClient(create_app(settings, engine=sqlite_engine)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def body(files: Files, **extra: Any) -> dict[str, Any]:
    return {"files": [{"path": p, "content": c} for p, c in files.items()], **extra}


@pytest.fixture
def plan(api: TestClient) -> Callable[..., Any]:
    def call(files: Files, **extra: Any) -> Any:
        return api.post(f"{API}/definitions/plan", json=body(files, **extra))

    return call


@pytest.fixture
def apply(api: TestClient) -> Callable[..., Any]:
    def call(files: Files, **extra: Any) -> Any:
        return api.post(f"{API}/definitions/apply", json=body(files, **extra))

    return call
