"""Dashboard: counts per status, runs per hour, recent failures, agents, next runs due."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from run_moves import move
from sqlalchemy import Engine
from sqlmodel import select
from support import wait_for
from web.web_helpers import Login

from app.db.engine import session_scope
from app.db.runs import get_run
from app.db.tables import User
from app.domain.states import RunStatus


def _runs(api: TestClient, count: int, **task: object) -> list[int]:
    tid = api.post("/api/v1/tasks", json={"name": "job", "command": "true", **task}).json()["tid"]
    return [int(api.post(f"/api/v1/tasks/{tid}/run").json()["id"]) for _ in range(count)]


def test_dashboard_counts_charts_and_lists(
    web: TestClient, api: TestClient, web_engine: Engine
) -> None:
    first, second, third = _runs(api, 3, schedule={"kind": "cron", "cron": "0 3 * * *"})
    now = datetime.now(UTC)
    with session_scope(web_engine) as session:
        move(session, get_run(session, first), RunStatus.FAILED, at=now, reason="boom")
        old = get_run(session, third)
        old.trigger_time = now - timedelta(days=3)  # outside the last 24 hours
    response = web.get("/")
    assert response.template.name == "dashboard/page.html"
    view = response.context["view"]
    assert view.counts["FAILED"] == 1 and view.counts["ACTIVE"] == 1
    assert view.counts["IDLE"] == 1  # the task's next planned occurrence
    assert list(view.counts) == [
        "IDLE",
        "ACTIVE",
        "TRIGGER",
        "STARTED",
        "RUNNING",
        "SUCCESS",
        "FAILED",
        "TERMINATED",
    ]
    assert [r.id for r in view.failures] == [first]
    assert len(view.hours) == 24 and sum(view.per_hour["FAILED"]) == 1
    assert sum(view.per_hour["ACTIVE"]) == 1 and second
    chart = view.chart()
    assert {d["label"] for d in chart["datasets"]} == {"ACTIVE", "FAILED"}
    assert [r.task_name for r in view.next_due] == ["job"]
    assert 'sse-connect="/dashboard/events?seq=' in response.text
    fragment = web.get("/", headers={"HX-Request": "true"})
    assert fragment.template.name == "dashboard/_body.html"


def test_dashboard_counts_only_visible_instances(
    login: Login, api: TestClient, web_engine: Engine
) -> None:
    _runs(api, 2)
    viewer = login("viewer")
    with session_scope(web_engine) as session:
        user = session.exec(select(User).where(User.username == "viewer")).one()
        user.instances = ["other"]
    assert viewer.get("/").context["view"].counts["ACTIVE"] == 0


def test_dashboard_stream_says_when_to_redraw(
    web: TestClient, api: TestClient, web_app: FastAPI
) -> None:
    web_app.state.sse_lifetime = 3.0  # room for a loaded machine to deliver the change
    body: list[str] = []
    seq = web.get("/").context["seq"]
    reader = threading.Thread(
        target=lambda: body.append(web.get(f"/dashboard/events?seq={seq}").text)
    )
    reader.start()
    wait_for(lambda: web_app.state.events.listening, timeout=5)
    _runs(api, 1)
    reader.join(timeout=10)
    assert "event: changed" in body[0]


def test_the_chart_hours_are_the_viewers_and_groups_are_due(
    login: Login, api: TestClient, web_engine: Engine
) -> None:
    api.post(
        "/api/v1/groups",
        json={"name": "nightly", "schedule": {"kind": "cron", "cron": "0 2 * * *"}},
    )
    viewer = login("viewer")
    with session_scope(web_engine) as session:
        user = session.exec(select(User).where(User.username == "viewer")).one()
        user.timezone = "Asia/Kolkata"  # UTC+05:30: each UTC hour starts at hh:30 there
    page = viewer.get("/")
    view = page.context["view"]
    assert view.zone == "IST"
    assert all(label.endswith(":30") for label in view.hours)
    utc_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    kolkata = utc_hour.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%H:%M")
    assert view.hours[-1] == kolkata
    assert "hours in IST" in page.text
    due = view.due()
    assert [d["name"] for d in due if d["group"]] == ["nightly"]
    assert 'href="/groups/' in page.text
