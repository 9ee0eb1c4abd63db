"""The Pools page: occupancy, quotas, one pool's queue; the run detail page names what a
run asks of the gates."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_pools_page_lists_occupancy_and_a_pools_queue(web: TestClient, api: TestClient) -> None:
    api.post("/api/v1/pools", json={"name": "etl", "slots": 3, "description": "loads"})
    api.put("/api/v1/quotas/default", json={"max_runs": 4})
    lock = {"name": "db-main", "mode": "shared"}
    tid = api.post(
        "/api/v1/tasks",
        json={"name": "load", "command": "true", "pool": "etl", "priority": 5, "locks": [lock]},
    ).json()["tid"]
    run = api.post(f"/api/v1/tasks/{tid}/run").json()

    page = web.get("/pools")
    assert page.template.name == "pools/page.html"
    assert [(p["name"], p["used"], p["waiting"]) for p in page.context["pools"]] == [("etl", 0, 1)]
    assert "0 / 3" in page.text and 'href="/pools/default/etl"' in page.text
    assert [q["max_runs"] for q in page.context["quotas"]] == [4]

    one = web.get("/pools/default/etl")
    assert [q["run"] for q in one.context["pool"]["queued"]] == [run["id"]]
    assert f'<a href="/task-runs/{run["id"]}">{run["id"]}</a>' in one.text
    assert web.get("/pools/default/nope").status_code == 404

    detail = web.get(f"/task-runs/{run['id']}")
    assert "priority 5" in detail.text and "lock db-main (shared)" in detail.text
    assert 'href="/pools/default/etl"' in detail.text
