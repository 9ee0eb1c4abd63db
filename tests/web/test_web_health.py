"""Health: the scheduler's role, the database, the agents and the dispatch queue."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.db.engine import session_scope
from app.db.tables import Agent


def test_health_page_shows_scheduler_database_agents_and_queue(
    web: TestClient,
    api: TestClient,
    web_engine: Engine,
) -> None:
    with session_scope(web_engine) as session:
        session.add(Agent(name="far-away", status="offline", created_at=datetime.now(UTC)))
    tid = api.post("/api/v1/tasks", json={"name": "waits", "command": "true"}).json()["tid"]
    api.post(f"/api/v1/tasks/{tid}/run")  # no agent connected: it waits ACTIVE
    page = web.get("/health")
    assert page.template.name == "health/page.html"
    context = page.context
    # These view tests run the app without its scheduler: this server does not lead.
    assert context["health"]["scheduler"] == "standby"
    assert "another server leads" in page.text
    assert context["health"]["database"] == "sqlite"
    assert context["queue"] == 1 and context["queue_more"] is False
    assert [a["name"] for a in context["offline"]] == ["far-away"] and context["online"] == []
    assert "far-away" in page.text and "runs ACTIVE, waiting to start" in page.text


def test_health_page_shows_version_uptime_database_size_and_retention(
    web: TestClient, web_engine: Engine
) -> None:
    page = web.get("/health")
    details = page.context["details"]
    assert details["uptime_seconds"] is not None and details["uptime_seconds"] >= 0
    with web_engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
        page_size = connection.exec_driver_sql("PRAGMA page_size").scalar()
    assert details["database_bytes"] == pages * page_size
    assert details["retention_days"] is None and "runs kept forever" in page.text
    # Without a leading scheduler nothing has fired yet, and the page says so.
    assert details["last_fire_at"] is None and "none yet" in page.text
    assert details["timers"] == 0
    assert page.context["health"]["version"] in page.text


def test_the_health_page_refreshes_itself(web: TestClient) -> None:
    page = web.get("/health")
    assert 'id="health-body" hx-get="/health" hx-trigger="every 5s"' in page.text
    poll = web.get("/health", headers={"HX-Request": "true"})
    assert poll.template.name == "health/_body.html"
    assert poll.text.lstrip().startswith('<div class="dash-grid" id="health-body"')
    assert "<html" not in poll.text
    for part in ("health-uptime", "health-last-fire", "health-timers", "health-db-size"):
        assert f'id="{part}"' in poll.text
    assert "retention" in poll.text and poll.context["health"]["version"] in poll.text
