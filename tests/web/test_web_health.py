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
