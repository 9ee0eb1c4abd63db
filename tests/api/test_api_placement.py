"""Placement through the API: agents show capacity and what their runs hold; a request no
known agent could ever hold, or a malformed one, is refused with its field and nothing
stored; a run shows what it holds and what it waits for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from run_moves import create_run_in
from sqlalchemy import Engine
from sqlmodel import select

from app.db.engine import session_scope
from app.db.runs import create_run
from app.db.tables import Agent, Task
from app.domain.states import RunStatus, TriggerKind

GIB = 1024**3
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _engine(api: TestClient) -> Engine:
    engine: Engine = api.app.state.context.engine  # type: ignore[attr-defined]
    return engine


def _agent(api: TestClient, name: str = "gpu-a", gpus: int = 2, **extra: Any) -> None:
    resources = {
        "cpus": 16,
        "memory_total": 64 * GIB,
        "docker": False,
        "reserved": {"cores": 2, "memory": 4 * GIB},
        "gpus": [
            {"index": i, "name": "NVIDIA A100", "memory_total": 80 * GIB, "numa_node": i % 2}
            for i in range(gpus)
        ],
        "numa": [
            {"node": 0, "cores": list(range(8)), "memory": 32 * GIB},
            {"node": 1, "cores": list(range(8, 16)), "memory": 32 * GIB},
        ],
        **extra,
    }
    with session_scope(_engine(api)) as session:
        session.add(Agent(name=name, status="offline", resources=resources, created_at=NOW))


def _holding(api: TestClient, agent: str, allocation: dict[str, Any]) -> int:
    with session_scope(_engine(api)) as session:
        run = create_run_in(
            session,
            RunStatus.RUNNING,
            at=NOW,
            agent=agent,
            trigger_kind=TriggerKind.ADHOC,
            spec={"command": "true"},
        )
        run.allocation = allocation
        session.flush()
        return run.id or 0


def test_agents_carry_capacity_less_reserve_and_what_runs_hold(api: TestClient) -> None:
    _agent(api)
    _holding(api, "gpu-a", {"cores": 4, "memory": 8 * GIB, "gpus": [1], "numa_node": 1})
    _holding(api, "gpu-a", {"cores": 1.5, "memory": GIB, "gpus": []})
    [row] = api.get("/api/v1/agents").json()
    capacity = row["capacity"]
    assert (capacity["cores"], capacity["memory"]) == (14, 60 * GIB)
    assert [(g["index"], g["name"], g["memory"]) for g in capacity["gpus"]] == [
        (0, "NVIDIA A100", 80 * GIB),
        (1, "NVIDIA A100", 80 * GIB),
    ]
    assert [(n["node"], len(n["cores"])) for n in capacity["numa"]] == [(0, 8), (1, 8)]
    allocated = row["allocated"]
    assert (allocated["cores"], allocated["memory"], allocated["gpus"]) == (5.5, 9 * GIB, [1])
    assert allocated["numa"] == {"1": {"cores": 4, "memory": 8 * GIB}}
    one = api.get("/api/v1/agents/gpu-a").json()
    assert one["allocated"] == allocated and len(one["running_runs"]) == 2
    assert api.get("/api/v1/agents/nobody").status_code == 404
    assert api.get("/api/v1/agents/tokens").status_code == 200  # not an agent named "tokens"


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"gpu_count": -1}, "gpu_count"),
        ({"gpu_count": 1.5}, "gpu_count"),
        ({"gpu_count": "2"}, "gpu_count"),
        ({"gpus": [0], "gpu_count": 1}, "gpu_count"),
        ({"memory": "2 gigs"}, "memory"),
        ({"cpus": 0}, "cpus"),
        ({"cpus": -2}, "cpus"),
        ({"numa_node": -1}, "numa_node"),
        # Larger than any agent: gpu-a offers 14 cores, 60G, GPUs 0 and 1, NUMA nodes 0 and 1.
        ({"cpus": 15}, "cpus"),
        ({"memory": "61G"}, "memory"),
        ({"gpus": [2]}, "gpus"),
        ({"gpu_count": 3}, "gpu_count"),
        ({"numa_node": 2}, "numa_node"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(
    api: TestClient, fields: dict[str, Any], field: str
) -> None:
    _agent(api)
    body = {"name": "train", "command": "true", **fields}
    created = api.post("/api/v1/tasks", json=body)
    assert created.status_code == 422, created.text
    assert field in created.json()["detail"]
    adhoc = api.post("/api/v1/adhoc", json={"command": "true", "agents": ["gpu-a"], **fields})
    assert adhoc.status_code == 422 and field in adhoc.json()["detail"]
    with session_scope(_engine(api)) as session:
        assert session.exec(select(Task)).all() == []


def test_save_time_check_names_what_agents_have(api: TestClient) -> None:
    _agent(api)
    _agent(api, "small", gpus=0, labels={"pool": "cpu"})
    refused = api.post("/api/v1/tasks", json={"name": "t", "command": "true", "gpu_count": 4})
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "gpu_count: asks 4 GPUs: no agent could ever hold it (gpu-a has 2 GPUs, small has 0 GPUs)"
    )
    fits = api.post("/api/v1/tasks", json={"name": "t", "command": "true", "gpu_count": 2})
    assert fits.status_code == 201, fits.text
    tid = fits.json()["tid"]
    assert fits.json()["gpu_count"] == 2
    moved = api.patch(f"/api/v1/tasks/{tid}", json={"target": "small"})
    assert moved.status_code == 422 and moved.json()["detail"].startswith("gpu_count:")
    assert api.get(f"/api/v1/tasks/{tid}").json()["target"] is None  # nothing stored
    both = api.patch(f"/api/v1/tasks/{tid}", json={"gpus": [0]})
    assert both.status_code == 422 and both.json()["detail"].startswith("gpu_count:")
    # An agent that reports no capacity (an older one) may hold anything.
    with session_scope(_engine(api)) as session:
        session.add(Agent(name="old", status="offline", resources={}, created_at=NOW))
    later = api.post("/api/v1/tasks", json={"name": "u", "command": "true", "gpu_count": 4})
    assert later.status_code == 201


def test_a_run_shows_what_it_holds(api: TestClient) -> None:
    _agent(api)
    run_id = _holding(api, "gpu-a", {"cores": 2, "memory": GIB, "gpus": [0], "numa_node": 0})
    detail = api.get(f"/api/v1/runs/{run_id}").json()
    assert detail["allocation"] == {"cores": 2, "memory": GIB, "gpus": [0], "numa_node": 0}


def test_a_waiting_run_says_what_is_short(api: TestClient) -> None:
    _agent(api)
    with session_scope(_engine(api)) as session:
        run = create_run(
            session,
            at=NOW,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.ADHOC,
            spec={"command": "true", "gpu_count": 2},
        )
        session.flush()
        run_id = run.id
    waits = api.get(f"/api/v1/runs/{run_id}").json()["waiting_for"]
    detail = "waiting for an online agent (gpu-a is offline)"
    assert {"kind": "agent", "detail": detail, "request": "2 GPUs"} in waits


def test_metrics_carry_capacity_and_allocation_per_agent_and_gpu(api: TestClient) -> None:
    _agent(api)
    _holding(api, "gpu-a", {"cores": 4, "memory": GIB, "gpus": [1]})
    body = api.get("/metrics").text
    assert 'almanac_agent_capacity_cores{agent="gpu-a"} 14.0' in body
    assert 'almanac_agent_allocated_cores{agent="gpu-a"} 4.0' in body
    assert 'almanac_agent_allocated_memory_bytes{agent="gpu-a"} 1.073741824e+09' in body
    assert 'almanac_agent_capacity_gpus{agent="gpu-a"} 2.0' in body
    assert 'almanac_agent_allocated_gpus{agent="gpu-a"} 1.0' in body
    assert 'almanac_agent_gpu_allocated{agent="gpu-a",gpu="1"} 1.0' in body
    assert 'almanac_agent_gpu_allocated{agent="gpu-a",gpu="0"} 0.0' in body
