"""Agents: the fleet with its usage and running runs; drain and undrain through the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from web.web_helpers import Login

from app.db.engine import session_scope
from app.db.tables import Agent

RESOURCES: dict[str, Any] = {
    "cpus": 8,
    "load_1m": 6.5,
    "memory_total": 16 * 2**30,
    "memory_used": 4 * 2**30,
    "disk_total": 100 * 2**30,
    "disk_used": 95 * 2**30,
    "docker": True,
    "gpus": [
        {
            "index": 0,
            "name": "NVIDIA H100",
            "uuid": "GPU-1",
            "memory_total": 80 * 2**30,
            "memory_used": 20 * 2**30,
            "utilization_percent": 55,
        }
    ],
}


def _agent(engine: Engine, name: str = "gpu-1") -> None:
    with session_scope(engine) as session:
        session.add(
            Agent(
                name=name,
                status="online",
                labels={"zone": "eu"},
                cpus=8,
                memory=16 * 2**30,
                docker=True,
                resources=RESOURCES,
                gpus=RESOURCES["gpus"],
                version="0.1.0",
                last_heartbeat=datetime.now(UTC),
                created_at=datetime.now(UTC),
            )
        )


def test_agents_page_shows_usage_labels_and_gpus(web: TestClient, web_engine: Engine) -> None:
    _agent(web_engine)
    page = web.get("/agents")
    assert page.template.name == "agents/page.html"
    [agent] = page.context["agents"]
    assert agent["name"] == "gpu-1" and agent["labels"] == {"zone": "eu"}
    text = page.text
    assert "zone=eu" in text and "NVIDIA H100" in text and "55% · 20.0 GiB / 80.0 GiB" in text
    assert "load 6.50 / 8 cpus" in text and "4.0 GiB / 16.0 GiB" in text
    assert '<div class="meter hot">' in text  # the disk at 95 %
    assert 'data-action="drain"' in text
    assert web.get("/agents", headers={"HX-Request": "true"}).template.name == "agents/_grid.html"


def test_drain_and_undrain_go_through_the_api(
    login: Login, api: TestClient, web_engine: Engine
) -> None:
    _agent(web_engine)
    operator = login("operator")
    drained = operator.post("/agents/gpu-1/drain")
    assert drained.template.name == "agents/_grid.html"
    assert drained.context["agents"][0]["draining"]
    assert json.loads(drained.headers["HX-Trigger"])["toast"]["text"] == "gpu-1 is draining"
    assert 'data-action="undrain"' in drained.text
    back = operator.post("/agents/gpu-1/undrain")
    assert not back.context["agents"][0]["draining"]


def test_viewer_sees_no_fleet_controls(login: Login, web_engine: Engine) -> None:
    _agent(web_engine)
    viewer = login("viewer")
    page = viewer.get("/agents")
    assert not page.context["can_drain"] and 'data-action="drain"' not in page.text
    refused = viewer.post("/agents/gpu-1/drain")
    assert json.loads(refused.headers["HX-Trigger"])["toast"]["kind"] == "error"
    assert not refused.context["agents"][0]["draining"]


def test_agents_page_shows_what_runs_hold_per_gpu(web: TestClient, web_engine: Engine) -> None:
    from run_moves import create_run_in

    from app.domain.states import RunStatus, TriggerKind

    _agent(web_engine)
    with session_scope(web_engine) as session:
        run = create_run_in(
            session,
            RunStatus.RUNNING,
            at=datetime.now(UTC),
            agent="gpu-1",
            trigger_kind=TriggerKind.ADHOC,
            spec={"command": "train"},
        )
        run.allocation = {"cores": 2, "memory": 2**30, "gpus": [0]}
        session.flush()
        run_id = run.id
    text = web.get("/agents").text
    assert 'data-gpu="0" data-held="yes"' in text and "GPU 0 held" in text
    assert "2 / 8 cores" in text
    detail = web.get(f"/task-runs/{run_id}").text
    assert "data-allocation" in detail and "GPUs 0" in detail and "2 cores" in detail
