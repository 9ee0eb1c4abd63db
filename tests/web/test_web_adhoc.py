"""Adhoc: a one-off command on chosen agents, by labels or on all, followed and killed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from web.web_helpers import Login

from app.db.engine import session_scope
from app.db.tables import Agent


def _agents(engine: Engine) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        for name, zone in (("a1", "eu"), ("a2", "us")):
            session.add(
                Agent(
                    name=name,
                    status="online",
                    labels={"zone": zone},
                    last_heartbeat=now,
                    created_at=now,
                )
            )


def test_submit_on_chosen_agents_then_kill(
    web: TestClient, api: TestClient, web_engine: Engine
) -> None:
    _agents(web_engine)
    page = web.get("/adhoc")
    assert page.template.name == "adhoc/page.html" and page.context["panel"] == "adhoc/_none.html"
    assert [a["name"] for a in page.context["agents"]] == ["a1", "a2"]
    response = web.post(
        "/adhoc",
        data={
            "command": "uptime",
            "target": "agents",
            "agents": ["a1", "a2"],
            "instance": "default",
        },
    )
    assert response.status_code == 200, response.text
    assert response.template.name == "adhoc/_batch.html"
    batch = response.context["batch"]
    assert [r["target"] for r in batch["runs"]] == ["a1", "a2"]
    assert response.headers["HX-Push-Url"] == f"/adhoc/{batch['batch_id']}"
    shown = web.get(f"/adhoc/{batch['batch_id']}")
    assert shown.context["panel"] == "adhoc/_batch.html"
    assert [b["batch_id"] for b in shown.context["batches"]] == [batch["batch_id"]]
    killed = web.post(f"/adhoc/{batch['batch_id']}/kill")
    assert killed.context["batch"]["done"]
    assert set(killed.context["batch"]["summary"]) == {"TERMINATED"}
    runs = api.get("/api/v1/runs").json()["items"]
    assert {r["trigger_kind"] for r in runs} == {"adhoc"}


def test_by_labels_and_refusals(web: TestClient, web_engine: Engine) -> None:
    _agents(web_engine)
    by_label = web.post("/adhoc", data={"command": "true", "target": "labels", "labels": "zone=us"})
    assert [r["target"] for r in by_label.context["batch"]["runs"]] == ["a2"]
    # A success clears whatever refusal the form showed before.
    assert '<div id="adhoc-errors" hx-swap-oob="innerHTML"></div>' in by_label.text
    none = web.post("/adhoc", data={"command": "true", "target": "agents"})
    assert none.status_code == 422 and none.context["errors"] == {
        "agents": "choose at least one agent"
    }
    assert none.headers["HX-Retarget"] == "#adhoc-errors"
    nobody = web.post("/adhoc", data={"command": "true", "target": "labels", "labels": "zone=mars"})
    assert nobody.status_code == 422 and "labels" in nobody.context["errors"]


def test_a_user_submits_for_approval(login: Login, web_engine: Engine) -> None:
    _agents(web_engine)
    user = login("user")
    assert "/adhoc" in user.get("/task-runs").text
    response = user.post("/adhoc", data={"command": "true", "target": "all"})
    assert set(response.context["batch"]["summary"]) == {"PENDING_APPROVAL"}
    assert "Kill all" not in response.text  # an operator's control
    assert json.loads(response.headers["HX-Trigger"])["toast"]["text"].startswith("Submitted")


def test_a_viewer_cannot_submit(login: Login, web_engine: Engine) -> None:
    _agents(web_engine)
    viewer = login("viewer")
    refused = viewer.post("/adhoc", data={"command": "true", "target": "all"})
    assert refused.status_code == 422 and "user" in str(refused.context["errors"])
