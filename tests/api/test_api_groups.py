"""The groups API: membership, edges, cycles refused with their path, nothing changed."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _tasks(api: TestClient, *names: str) -> list[int]:
    return [
        api.post("/api/v1/tasks", json={"name": n, "command": "true"}).json()["tid"] for n in names
    ]


def test_create_with_members_and_read_back(api: TestClient) -> None:
    a, b = _tasks(api, "a", "b")
    created = api.post(
        "/api/v1/groups",
        json={
            "name": "etl",
            "tasks": [a, b],
            "schedule": {"kind": "cron", "cron": "0 6 * * *", "timezone": "Asia/Tokyo"},
        },
    )
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["tasks"] == [a, b] and group["next_fire_time"] is not None
    assert api.get(f"/api/v1/tasks/{a}").json()["group"] == group["gid"]
    assert api.get(f"/api/v1/tasks/{a}").json()["next_fire_time"] is None  # the group's rules
    frozen = api.patch(f"/api/v1/groups/{group['gid']}", json={"active": False}).json()
    assert frozen["next_fire_time"] is None


def test_a_task_belongs_to_at_most_one_group(api: TestClient) -> None:
    [a] = _tasks(api, "a")
    assert api.post("/api/v1/groups", json={"name": "one", "tasks": [a]}).status_code == 201
    response = api.post("/api/v1/groups", json={"name": "two", "tasks": [a]})
    assert response.status_code == 409 and "already belongs" in response.json()["detail"]
    assert [g["name"] for g in api.get("/api/v1/groups").json()] == ["one"]


def test_a_cycle_is_refused_with_its_path_and_nothing_changes(api: TestClient) -> None:
    a, b, c = _tasks(api, "extract", "transform", "load")
    gid = api.post("/api/v1/groups", json={"name": "etl", "tasks": [a, b, c]}).json()["gid"]
    for up, down in ((a, b), (b, c)):
        assert (
            api.post(
                f"/api/v1/groups/{gid}/edges", json={"upstream": up, "downstream": down}
            ).status_code
            == 201
        )
    response = api.post(f"/api/v1/groups/{gid}/edges", json={"upstream": c, "downstream": a})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "dependency cycle: extract -> transform -> load -> extract"
    )
    assert len(api.get(f"/api/v1/groups/{gid}/edges").json()) == 2


def test_edges_only_join_tasks_of_the_group(api: TestClient) -> None:
    a, outsider = _tasks(api, "a", "outsider")
    gid = api.post("/api/v1/groups", json={"name": "g", "tasks": [a]}).json()["gid"]
    response = api.post(f"/api/v1/groups/{gid}/edges", json={"upstream": a, "downstream": outsider})
    assert response.status_code == 422 and response.json()["detail"].startswith("downstream")
    bad_condition = api.post(
        f"/api/v1/groups/{gid}/edges", json={"upstream": a, "downstream": a, "condition": "maybe"}
    )
    assert bad_condition.status_code == 422 and "condition" in bad_condition.json()["detail"]


def test_group_dependencies_refuse_cycles(api: TestClient) -> None:
    first = api.post("/api/v1/groups", json={"name": "first"}).json()["gid"]
    second = api.post("/api/v1/groups", json={"name": "second"}).json()["gid"]
    assert (
        api.post(
            f"/api/v1/groups/{second}/dependencies", json={"upstream_group": first}
        ).status_code
        == 201
    )
    response = api.post(f"/api/v1/groups/{first}/dependencies", json={"upstream_group": second})
    assert response.status_code == 409 and "first -> second -> first" in response.json()["detail"]


def test_removing_a_member_drops_its_edges(api: TestClient) -> None:
    a, b = _tasks(api, "a", "b")
    gid = api.post("/api/v1/groups", json={"name": "g", "tasks": [a, b]}).json()["gid"]
    api.post(f"/api/v1/groups/{gid}/edges", json={"upstream": a, "downstream": b})
    assert api.patch(f"/api/v1/groups/{gid}", json={"tasks": [a]}).json()["tasks"] == [a]
    assert api.get(f"/api/v1/groups/{gid}/edges").json() == []
    assert api.get(f"/api/v1/tasks/{b}").json()["group"] is None


def test_a_duplicate_edge_is_refused_by_task_names(api: TestClient) -> None:
    a, b = _tasks(api, "extract", "load")
    gid = api.post("/api/v1/groups", json={"name": "g", "tasks": [a, b]}).json()["gid"]
    edge = {"upstream": a, "downstream": b}
    assert api.post(f"/api/v1/groups/{gid}/edges", json=edge).status_code == 201
    again = api.post(f"/api/v1/groups/{gid}/edges", json=edge)
    assert again.status_code == 409
    assert again.json()["detail"] == "edge 'extract' -> 'load' already exists"
