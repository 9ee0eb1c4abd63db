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


def test_the_run_form_checks_the_agent_as_it_is_typed(
    web: TestClient, api: TestClient, web_engine: Engine
) -> None:
    _agent(web_engine, "gpu-2")
    tid = api.post("/api/v1/tasks", json={"name": "w", "command": "true"}).json()["tid"]
    unknown = web.post(f"/tasks/{tid}/run-check", data={"agent": "gpu-9"})
    assert re.search(r'id="runerr-agent"[^>]*>unknown agent &#39;gpu-9&#39;<', unknown.text)
    known = web.post(f"/tasks/{tid}/run-check", data={"agent": "gpu-2"})
    assert 'id="runerr-agent" hx-swap-oob="true"></small>' in known.text and "ready" in known.text


def test_a_group_run_for_a_date_takes_the_parameters_its_tasks_declare(
    web: TestClient, api: TestClient
) -> None:
    gid = api.post("/api/v1/groups", json={"name": "etl"}).json()["gid"]
    params = [{"name": "limit", "type": "integer", "default": 10}]
    task = {"name": "load", "command": "true", "group": gid, "params": params}
    assert api.post("/api/v1/tasks", json=task).status_code == 201
    assert 'name="param.limit"' in web.get(f"/groups/{gid}").text
    refused = web.post(f"/groups/{gid}/run", data={"business_date": "", "param.limit": "ten"})
    assert refused.status_code == 422 and re.search(
        r'id="runerr-param-limit"[^>]*>[^<]+<', refused.text
    )
    started = web.post(
        f"/groups/{gid}/run", data={"business_date": "2026-05-04", "param.limit": "5"}
    )
    assert started.status_code == 200, started.text
    (group_run,) = api.get("/api/v1/group-runs", params={"group": gid}).json()
    # The group run keeps the values given; each task types its own when its run is made.
    assert group_run["params"] == {"limit": "5"} and group_run["business_date"] == "2026-05-04"
