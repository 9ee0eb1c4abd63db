"""/pools, /quotas and the admission fields of tasks, groups, adhoc and force runs: shapes,
422s that name the field (nothing stored), roles and instances."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from support import seed_user

DB = {"name": "db-main", "mode": "exclusive"}


def _as(api: TestClient, username: str, role: str, instances: list[str]) -> dict[str, str]:
    engine = api.app.state.context.engine  # type: ignore[attr-defined]
    return {
        "Authorization": f"Bearer {seed_user(engine, username, role=role, instances=instances)}"
    }


def _task(api: TestClient, **fields: Any) -> Any:
    return api.post("/api/v1/tasks", json={"name": "t", "command": "true", **fields})


def test_pool_crud_with_occupancy_and_queue(api: TestClient) -> None:
    made = api.post("/api/v1/pools", json={"name": "etl", "slots": 3, "description": "loads"})
    assert made.status_code == 201, made.text
    assert made.json() | {"created_at": None, "updated_at": None} == {
        "name": "etl",
        "instance": "default",
        "slots": 3,
        "description": "loads",
        "placement": None,
        "used": 0,
        "holders": [],
        "waiting": 0,
        "queued": [],
        "created_at": None,
        "updated_at": None,
    }
    assert api.post("/api/v1/pools", json={"name": "etl", "slots": 1}).status_code == 409
    tid = _task(api, pool="etl", pool_slots=2, priority=5).json()["tid"]
    runs = [api.post(f"/api/v1/tasks/{tid}/run").json() for _ in range(2)]
    bumped = api.post(f"/api/v1/tasks/{tid}/run", json={"priority": 50}).json()
    assert [r["priority"] for r in [*runs, bumped]] == [5, 5, 50]

    shown = api.get("/api/v1/pools/etl").json()
    assert (shown["used"], shown["waiting"]) == (0, 3)
    assert [(q["position"], q["run"], q["slots"]) for q in shown["queued"]] == [
        (1, bumped["id"], 2),
        (2, runs[0]["id"], 2),
        (3, runs[1]["id"], 2),
    ]
    assert [p["name"] for p in api.get("/api/v1/pools").json()] == ["etl"]

    changed = api.patch("/api/v1/pools/etl", json={"slots": 4, "placement": "pack"})
    assert (changed.json()["slots"], changed.json()["placement"]) == (4, "pack")
    shrink = api.patch("/api/v1/pools/etl", json={"slots": 1})
    assert shrink.status_code == 422 and "slots" in shrink.json()["detail"]

    refused = api.delete("/api/v1/pools/etl")
    assert refused.status_code == 409 and "task t" in refused.json()["detail"]
    api.post("/api/v1/pools", json={"name": "spare", "slots": 1})
    assert api.delete("/api/v1/pools/spare").status_code == 204
    assert api.get("/api/v1/pools/spare").status_code == 404


def test_bad_admission_input_is_422_naming_the_field_and_stores_nothing(
    api: TestClient,
) -> None:
    api.post("/api/v1/pools", json={"name": "etl", "slots": 2})
    api.post("/api/v1/pools", json={"name": "other", "slots": 2, "instance": "team-b"})
    cases = [
        ({"pool": "nope"}, "pool"),
        ({"pool": "other"}, "pool"),  # a pool of another instance
        ({"pool": "etl", "pool_slots": 3}, "pool_slots"),
        ({"pool": "etl", "pool_slots": 0}, "pool_slots"),
        ({"priority": 101}, "priority"),
        ({"priority": -101}, "priority"),
        ({"locks": [{"name": "db", "mode": "sometimes"}]}, "mode"),
        ({"locks": [DB, DB]}, "locks"),
        ({"locks": [{"name": "", "mode": "shared"}]}, "name"),
    ]
    for fields, field in cases:
        answer = _task(api, **fields)
        assert answer.status_code == 422, (fields, answer.text)
        assert field in str(answer.json()["detail"]), (fields, answer.text)
    assert api.get("/api/v1/tasks").json() == []
    group = api.post("/api/v1/groups", json={"name": "g", "pool": "nope"})
    assert group.status_code == 422 and "pool" in group.json()["detail"]
    assert api.post("/api/v1/groups", json={"name": "g", "priority": 500}).status_code == 422
    assert api.get("/api/v1/groups").json() == []
    bad_pool = api.post("/api/v1/pools", json={"name": "x", "slots": 0})
    assert bad_pool.status_code == 422 and "slots" in str(bad_pool.json()["detail"])
    adhoc = api.post("/api/v1/adhoc", json={"command": "true", "all": True, "pool": "nope"})
    assert adhoc.status_code == 422 and "pool" in adhoc.json()["detail"]


def test_group_defaults_reach_its_tasks_runs(api: TestClient) -> None:
    api.post("/api/v1/pools", json={"name": "etl", "slots": 3})
    group = api.post(
        "/api/v1/groups",
        json={"name": "g", "pool": "etl", "pool_slots": 2, "priority": 7, "locks": [DB]},
    ).json()
    assert (group["pool"], group["pool_slots"], group["priority"], group["locks"]) == (
        "etl",
        2,
        7,
        [DB],
    )
    own = _task(api, group=group["gid"], locks=[{"name": "s3", "mode": "shared"}]).json()
    run = api.post(f"/api/v1/tasks/{own['tid']}/run").json()
    detail = api.get(f"/api/v1/runs/{run['id']}").json()
    assert detail["priority"] == 7
    spec = detail["spec"]
    assert (spec["pool"], spec["pool_slots"]) == ("etl", 2)
    assert spec["locks"] == [DB, {"name": "s3", "mode": "shared"}]
    changed = api.patch(f"/api/v1/tasks/{own['tid']}", json={"priority": -3, "pool_slots": 1})
    assert (changed.json()["priority"], changed.json()["pool_slots"]) == (-3, 1)


def test_roles_and_instances_on_pools_and_quotas(api: TestClient) -> None:
    team_admin = _as(api, "ta", "admin", ["team-a"])
    operator = _as(api, "op", "operator", ["team-a"])
    user = _as(api, "us", "user", ["team-a"])
    made = api.post(
        "/api/v1/pools", json={"name": "p", "slots": 1, "instance": "team-a"}, headers=team_admin
    )
    assert made.status_code == 201
    elsewhere = api.post(
        "/api/v1/pools", json={"name": "p", "slots": 1, "instance": "team-b"}, headers=team_admin
    )
    assert elsewhere.status_code == 422 and "instance" in elsewhere.json()["detail"]
    api.post("/api/v1/pools", json={"name": "hidden", "slots": 1, "instance": "team-b"})
    assert api.get("/api/v1/pools/hidden", headers=team_admin).status_code == 404
    assert [p["name"] for p in api.get("/api/v1/pools", headers=operator).json()] == ["p"]
    assert api.patch("/api/v1/pools/p", json={"slots": 2}, headers=operator).status_code == 403

    # quotas: only an admin of every instance (or a superadmin) sets one
    assert (
        api.put("/api/v1/quotas/team-a", json={"max_runs": 9}, headers=team_admin).status_code
        == 403
    )
    quota = api.put("/api/v1/quotas/team-a", json={"max_runs": 4, "max_gpus": 2})
    assert quota.status_code == 200, quota.text
    assert quota.json()["max_runs"] == 4 and quota.json()["runs"] == 0
    assert api.put("/api/v1/quotas/team-a", json={"max_runs": -1}).status_code == 422
    assert [q["instance"] for q in api.get("/api/v1/quotas", headers=user).json()] == ["team-a"]
    api.put("/api/v1/quotas/team-b", json={"max_runs": 1})
    assert api.get("/api/v1/quotas/team-b", headers=user).status_code == 404

    # a force run's priority: operators only
    tid = _task(api, instance="team-a").json()["tid"]
    bump = api.post(f"/api/v1/tasks/{tid}/run", json={"priority": 9}, headers=user)
    assert bump.status_code == 403 and "priority" in bump.json()["detail"]
    ok = api.post(f"/api/v1/tasks/{tid}/run", json={"priority": 9}, headers=operator)
    assert ok.status_code == 201 and ok.json()["priority"] == 9
    assert api.delete("/api/v1/quotas/team-a").status_code == 204


def test_metrics_show_pool_use_and_queue_depth_by_reason(api: TestClient) -> None:
    api.post("/api/v1/pools", json={"name": "etl", "slots": 3})
    tid = _task(api, pool="etl").json()["tid"]
    api.post(f"/api/v1/tasks/{tid}/run")  # no agent here: it waits ACTIVE, no reason yet
    body = api.get("/metrics").text
    assert 'almanac_pool_slots{instance="default",pool="etl"} 3.0' in body
    assert 'almanac_pool_used_slots{instance="default",pool="etl"} 0.0' in body
    assert 'almanac_queue_depth{reason="none"} 1.0' in body
    assert 'almanac_queue_depth{reason="pool"} 0.0' in body


def test_export_carries_admission_fields_and_import_checks_the_pool(api: TestClient) -> None:
    api.post("/api/v1/pools", json={"name": "etl", "slots": 2})
    gid = api.post(
        "/api/v1/groups", json={"name": "g", "pool": "etl", "priority": 3, "locks": [DB]}
    ).json()["gid"]
    _task(api, group=gid, pool_slots=2, priority=-1)
    document = api.get("/api/v1/export").json()
    (task,) = document["tasks"]
    assert (task["pool"], task["pool_slots"], task["priority"]) == (None, 2, -1)
    (group,) = document["groups"]
    assert (group["pool"], group["priority"], group["locks"]) == ("etl", 3, [DB])
    again = api.post("/api/v1/import", json=document)
    assert again.status_code == 200, again.text
    assert api.get("/api/v1/export").json() == document

    task["pool"] = "nope"
    refused = api.post("/api/v1/import", json=document)
    assert refused.status_code == 422 and "no pool 'nope'" in refused.text
    assert api.get("/api/v1/export").json()["tasks"][0]["pool"] is None
