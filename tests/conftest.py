"""Shared fixtures: real databases (SQLite and PostgreSQL), a frozen clock, a live server.

A test that needs a service calls `support.require(...)`: it skips when the service is
absent, unless ALMANAC_REQUIRE_SERVICES names it (CI), where the absence is a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from support import (
    LiveServer,
    empty_postgres_database,
    migrated_sqlite,
    pg_admin_url,
    postgres_error,
    require,
    reused_postgres_database,
    start_live_server,
    wait_for,
)

from app.clock import FrozenClock
from app.db.engine import make_engine
from app.wiring import wire_subscribers


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked `sqlite_only` keeps its SQLite half: a table of bad inputs refused before
    any query gains nothing from PostgreSQL but its time (the suite runs on two cores)."""
    dropped = [
        item
        for item in items
        if item.get_closest_marker("sqlite_only")
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("database_url") == "postgres"  # type: ignore[attr-defined]
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in set(dropped)]


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    error = postgres_error()
    require("postgres", error is None, error or "")
    return pg_admin_url()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "almanac.db")
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    url = reused_postgres_database(admin_url)
    yield url
    empty_postgres_database(admin_url, url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    wire_subscribers(built)  # as the composition root does: group runs settle before commit
    yield built
    built.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    built = make_engine(migrated_sqlite(tmp_path / "almanac.db"))
    wire_subscribers(built)
    yield built
    built.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path / "data")
    try:
        yield live
    finally:
        live.stop()
        live.engine.dispose()


@pytest.fixture
def agent_ready(live_server: LiveServer) -> LiveServer:
    """The live server once its built-in agent is connected."""
    return _agent_connected(live_server)


@pytest.fixture(scope="session")
def shared_agent_ready(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server with its built-in agent for every module that overrides `agent_ready`
    with it, started once per test process (a second or more to start and to stop, each).
    Those modules keep to their own data: task, group and user names no other one uses, and
    no assertion about everything listed."""
    live = start_live_server(tmp_path_factory.mktemp("shared") / "data")
    try:
        yield _agent_connected(live)
    finally:
        live.stop()
        live.engine.dispose()


def _agent_connected(live: LiveServer) -> LiveServer:
    with live.client() as http:
        wait_for(lambda: any(a["connected"] for a in http.get("/agents").json()))
    return live
