"""A real app on a real database (both backends) with argon2 at its cheapest: what these
tests check does not depend on its cost. Shared by the security and variable-set tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient
from security.sec_support import Api
from support import seed_user

import app.security
from app.db.engine import make_engine
from app.server import create_app
from app.settings import Settings


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(app.security, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    yield


@pytest.fixture
def secure_api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, local_agent=False)
    engine = make_engine(database_url)
    token = seed_user(engine)
    with TestClient(create_app(settings, engine=engine, start_scheduler=False)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield Api(client, engine, tmp_path)
    engine.dispose()
