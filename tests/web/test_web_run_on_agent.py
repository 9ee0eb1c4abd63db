"""Adhoc on a task: `POST /tasks/{tid}/run` with `agent` sends this one run to the chosen
(known) agent instead of the task's target, with its parameters; a bad value is a 422 naming
the field and nothing is made; a group run takes no agent. The web form does the same."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.db.engine import session_scope
from app.db.tables import Agent


def _agent(engine: Engine, name: str) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.add(
            Agent(name=name, status="online", labels={}, last_heartbeat=now, created_at=now)
        )


def test_a_task_runs_on_the_chosen_agent_with_its_params(
    api: TestClient, web_engine: Engine
) -> None:
    _agent(web_engine, "gpu-2")
    params = [{"name": "n", "type": "integer", "default": 1}]
    task = {"name": "load", "command": "echo ${param.n}", "target": "gpu-1", "params": params}
    tid = api.post("/api/v1/tasks", json=task).json()["tid"]
    run = api.post(f"/api/v1/tasks/{tid}/run", json={"agent": "gpu-2", "params": {"n": "3"}})
    assert run.status_code == 201, run.text
    shown = api.get(f"/api/v1/runs/{run.json()['id']}").json()
    assert shown["params"] == {"n": 3}
    assert api.get(f"/api/v1/tasks/{tid}").json()["target"] == "gpu-1"  # the task unchanged

    for body, field in [
        ({"agent": "nope"}, "agent"),
        ({"agent": ""}, "agent"),
        ({"agent": "gpu-2", "params": {"n": "many"}}, "params.n"),
    ]:
        refused = api.post(f"/api/v1/tasks/{tid}/run", json=body)
        assert refused.status_code == 422 and refused.json()["detail"].startswith(field), body
    assert len(api.get("/api/v1/runs", params={"task": tid}).json()["items"]) == 1

    gid = api.post("/api/v1/groups", json={"name": "g"}).json()["gid"]
    grouped = api.post(f"/api/v1/groups/{gid}/run", json={"agent": "gpu-2"})
    assert grouped.status_code == 422 and "agent" in grouped.json()["detail"]


def test_the_run_form_runs_on_an_agent_and_says_each_problem_beside_its_field(
    web: TestClient, api: TestClient, web_engine: Engine
) -> None:
    _agent(web_engine, "gpu-2")
    params = [{"name": "n", "type": "integer", "required": True}]
    tid = api.post("/api/v1/tasks", json={"name": "w", "command": "true", "params": params}).json()[
        "tid"
    ]
    form = web.get(f"/tasks/{tid}").text
    assert 'name="agent"' in form and 'name="param.n"' in form
    refused = web.post(
        f"/tasks/{tid}/run", data={"business_date": "", "param.n": "x", "agent": "nope"}
    )
    assert refused.status_code == 422 and refused.headers["HX-Retarget"] == "#run-form-status"
    assert re.search(r'id="runerr-param-n"[^>]*>[^<]+<', refused.text)
    assert re.search(r'id="runerr-agent"[^>]*>unknown agent', refused.text)
    assert api.get("/api/v1/runs", params={"task": tid}).json()["items"] == []
    unknown = web.post(f"/tasks/{tid}/run", data={"param.n": "2", "agent": "nope"})
    assert re.search(r'id="runerr-agent"[^>]*>unknown agent &#39;nope&#39;<', unknown.text)
    started = web.post(
        f"/tasks/{tid}/run", data={"business_date": "2026-05-04", "param.n": "2", "agent": "gpu-2"}
    )
    assert started.status_code == 200 and "started" in started.text
    assert 'id="runerr-agent" hx-swap-oob="true"></small>' in started.text  # refusals cleared
    (run,) = api.get("/api/v1/runs", params={"task": tid}).json()["items"]
    assert run["params"] == {"n": 2} and run["business_date"] == "2026-05-04"
