"""The web UI under test: a real app on a real SQLite database, signed in through the form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
from sqlalchemy import Engine
from support import migrated_sqlite, seed_user
from web.browsing import launched_browser
from web.web_helpers import Login, sign_in

from app.db.engine import make_engine
from app.server import create_app
from app.settings import Settings


@pytest.fixture
def web_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(migrated_sqlite(tmp_path / "almanac.db"))
    yield engine
    engine.dispose()


@pytest.fixture
def web_app(web_engine: Engine, tmp_path: Path) -> FastAPI:
    settings = Settings(data_dir=tmp_path, database_url=str(web_engine.url), local_agent=False)
    return create_app(settings, engine=web_engine, start_scheduler=False)


@pytest.fixture
def api_token(web_engine: Engine) -> str:
    return seed_user(web_engine, "admin", role="superadmin")


@pytest.fixture
def anonymous(web_app: FastAPI, api_token: str) -> TestClient:
    """Browser-like clients are not entered: the app's lifespan runs once, under `api`."""
    return TestClient(web_app, follow_redirects=False)


@pytest.fixture
def api(web_app: FastAPI, api_token: str) -> Iterator[TestClient]:
    """The REST API with the admin's bearer token, to arrange data."""
    with TestClient(web_app) as client:
        client.headers["Authorization"] = f"Bearer {api_token}"
        yield client


@pytest.fixture
def login(web_app: FastAPI, web_engine: Engine, api: TestClient) -> Login:
    """login(role) → a client signed in as a user of that role (admin is the superadmin)."""

    def make(role: str) -> TestClient:
        if role != "superadmin":
            seed_user(web_engine, role, role=role)
        client = TestClient(web_app, follow_redirects=False)
        sign_in(client, "admin" if role == "superadmin" else role)
        return client

    return make


@pytest.fixture
def web(login: Login) -> TestClient:
    """Signed in as the superadmin."""
    return login("superadmin")


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (the test needs the `browser` mark)."""
    yield from launched_browser()
