"""The tasks API: CRUD, bad input refused with the field named and nothing stored, auth."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import ADMIN_PASSWORD, wait_for


def test_create_read_update_delete(api: TestClient) -> None:
    created = api.post(
        "/api/v1/tasks",
        json={
            "name": "nightly",
            "command": "echo hi",
            "schedule": {"kind": "cron", "cron": "0 2 * * *", "timezone": "America/New_York"},
        },
    )
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["tid"] > 0 and task["next_fire_time"] is not None
    assert task["schedule"]["cron"] == "0 2 * * *"
    assert api.get(f"/api/v1/tasks/{task['tid']}").json()["name"] == "nightly"
    patched = api.patch(f"/api/v1/tasks/{task['tid']}", json={"active": False}).json()
    assert patched["active"] is False and patched["next_fire_time"] is None
    assert api.delete(f"/api/v1/tasks/{task['tid']}").status_code == 204
    assert api.get(f"/api/v1/tasks/{task['tid']}").status_code == 404


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "command": "true", "colour": "red"}, "colour"),
        ({"name": "x", "command": ""}, "command"),
        ({"name": "x", "command": "   "}, "command"),
        ({"name": "x", "command": 42}, "command"),
        ({"name": "", "command": "true"}, "name"),
        ({"name": "x", "command": "true", "retry_attempts": "many"}, "retry_attempts"),
        (
            {"name": "x", "command": "true", "schedule": {"kind": "cron", "cron": "61 * * * *"}},
            "cron",
        ),
        ({"name": "x", "command": "true", "schedule": {"kind": "cron", "cron": "* * *"}}, "cron"),
        ({"name": "x", "command": "true", "schedule": {"kind": "cron", "cron": "@reboot"}}, "cron"),
        (
            {"name": "x", "command": "true", "schedule": {"kind": "cron", "cron": "H * * * *"}},
            "cron",
        ),
        (
            {
                "name": "x",
                "command": "true",
                "schedule": {"kind": "cron", "cron": "0 1 * * *", "timezone": "Mars/Olympus"},
            },
            "timezone",
        ),
        ({"name": "x", "command": "true", "memory": "lots"}, "memory"),
        (
            {"name": "x", "command": "true", "schedule": {"kind": "times", "times": ["25:00"]}},
            "times",
        ),
        ({"name": "x", "command": "true", "schedule": {"kind": "times", "times": []}}, "times"),
        (
            {
                "name": "x",
                "command": "true",
                "schedule": {
                    "kind": "frequency",
                    "every_minutes": 15,
                    "window": {"start": "18:00", "end": "08:00"},
                },
            },
            "window",
        ),
        (
            {"name": "x", "command": "true", "schedule": {"kind": "frequency", "every_minutes": 0}},
            "every_minutes",
        ),
        (
            {
                "name": "x",
                "command": "true",
                "schedule": {"kind": "frequency", "every_minutes": 1441},
            },
            "every_minutes",
        ),
        (
            {
                "name": "x",
                "command": "true",
                "schedule": {"kind": "times", "times": ["09:00"], "days": "someday"},
            },
            "days",
        ),
        ({"name": "x", "command": "true", "schedule": {"kind": "weekly"}}, "kind"),
        ({"name": "x", "command": "true", "concurrency": "sometimes"}, "concurrency"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    api: TestClient, body: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/tasks", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and field in detail
    assert api.get("/api/v1/tasks").json() == []


def test_an_unknown_calendar_is_refused(api: TestClient) -> None:
    response = api.post(
        "/api/v1/tasks",
        json={
            "name": "x",
            "command": "true",
            "schedule": {"kind": "cron", "cron": "0 1 * * *", "calendar": "nope"},
        },
    )
    assert response.status_code == 422
    assert "schedule.calendar" in response.json()["detail"]
    assert api.get("/api/v1/tasks").json() == []


def test_a_duplicate_name_is_a_conflict(api: TestClient) -> None:
    assert api.post("/api/v1/tasks", json={"name": "dup", "command": "true"}).status_code == 201
    response = api.post("/api/v1/tasks", json={"name": "dup", "command": "true"})
    assert response.status_code == 409
    assert response.json()["detail"].startswith("name:")
    assert len(api.get("/api/v1/tasks").json()) == 1


def test_a_failed_patch_changes_nothing(api: TestClient) -> None:
    tid = api.post("/api/v1/tasks", json={"name": "keep", "command": "true"}).json()["tid"]
    response = api.patch(f"/api/v1/tasks/{tid}", json={"command": "echo new", "cpus": -1})
    assert response.status_code == 422 and "cpus" in response.json()["detail"]
    assert api.get(f"/api/v1/tasks/{tid}").json()["command"] == "true"


def test_every_route_but_health_and_login_needs_a_token(api: TestClient) -> None:
    anonymous = TestClient(api.app)
    assert anonymous.get("/api/v1/health").json()["status"] == "ok"
    for method, path in [
        ("GET", "/api/v1/tasks"),
        ("POST", "/api/v1/tasks"),
        ("GET", "/api/v1/runs"),
        ("GET", "/api/v1/runs/1"),
        ("GET", "/api/v1/runs/1/logs"),
        ("GET", "/api/v1/agents"),
        ("POST", "/api/v1/agents/tokens"),
        ("POST", "/api/v1/tasks/1/run"),
    ]:
        response = anonymous.request(method, path)
        assert response.status_code == 401, (method, path)
    bad = anonymous.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_login_issues_a_working_token_and_refuses_a_wrong_password(api: TestClient) -> None:
    anonymous = TestClient(api.app)
    wrong = anonymous.post("/api/v1/auth/token", json={"username": "admin", "password": "wrong"})
    assert wrong.status_code == 401
    good = anonymous.post(
        "/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert good.status_code == 200 and good.json()["token_type"] == "bearer"
    token = good.json()["access_token"]
    listed = anonymous.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200


def test_health_reports_the_database(api: TestClient, database_url: str) -> None:
    # On PostgreSQL the only server wins the leadership lock shortly after it starts.
    body = wait_for(
        lambda: (b := api.get("/api/v1/health").json())["scheduler"] == "leader" and b, timeout=10
    )
    assert body["database"] == ("postgresql" if database_url.startswith("postgresql") else "sqlite")


def test_agent_tokens_are_shown_once_and_stored_hashed(api: TestClient) -> None:
    created = api.post("/api/v1/agents/tokens", json={"name": "worker-1"}).json()
    assert created["token"].startswith("alm_agent_")
    listed = api.get("/api/v1/agents/tokens").json()
    assert listed[0]["name"] == "worker-1" and "token" not in listed[0]
    assert api.delete(f"/api/v1/agents/tokens/{created['id']}").status_code == 204
    assert api.get("/api/v1/agents/tokens").json()[0]["revoked_at"] is not None


def test_forecast_lists_fire_times_with_offsets(api: TestClient) -> None:
    tid = api.post(
        "/api/v1/tasks",
        json={
            "name": "f",
            "command": "true",
            "schedule": {"kind": "cron", "cron": "0 9 * * *", "timezone": "Europe/Berlin"},
        },
    ).json()["tid"]
    body = api.get(
        f"/api/v1/tasks/{tid}/forecast", params={"count": 3, "after": "2026-03-27T00:00:00+00:00"}
    ).json()
    assert [o["at"] for o in body["occurrences"]] == [
        "2026-03-27T08:00:00Z",
        "2026-03-28T08:00:00Z",
        "2026-03-29T07:00:00Z",
    ]
    naive = api.get(f"/api/v1/tasks/{tid}/forecast", params={"after": "2026-03-27T00:00:00"})
    assert naive.status_code == 422 and "after" in naive.json()["detail"]


def test_runs_filter_by_batch(api: TestClient) -> None:
    tid = api.post("/api/v1/tasks", json={"name": "b", "command": "true"}).json()["tid"]
    single = api.post(f"/api/v1/tasks/{tid}/run").json()
    assert single["batch_id"] is None
    assert api.get("/api/v1/runs", params={"batch": "nope"}).json()["items"] == []
    assert len(api.get("/api/v1/runs").json()["items"]) == 1


def test_a_quartz_expression_is_accepted_and_fires_on_seconds(api: TestClient) -> None:
    created = api.post(
        "/api/v1/tasks",
        json={
            "name": "quartz",
            "command": "true",
            "schedule": {"kind": "cron", "cron": "*/10 * * ? * MON-FRI 2026-2030"},
        },
    )
    assert created.status_code == 201, created.text
    tid = created.json()["tid"]
    body = api.get(
        f"/api/v1/tasks/{tid}/forecast", params={"count": 2, "after": "2026-03-27T00:00:00+00:00"}
    ).json()
    assert [o["at"] for o in body["occurrences"]] == [
        "2026-03-27T00:00:10Z",
        "2026-03-27T00:00:20Z",
    ]


def test_reboot_is_refused_with_the_reason(api: TestClient) -> None:
    response = api.post(
        "/api/v1/tasks",
        json={"name": "x", "command": "true", "schedule": {"kind": "cron", "cron": "@reboot"}},
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "cron" in detail and "a schedule needs fire times" in detail


def test_forecasts_name_their_owner_and_a_grouped_task_shows_its_groups_times(
    api: TestClient,
) -> None:
    tid = api.post(
        "/api/v1/tasks",
        json={
            "name": "inside",
            "command": "true",
            "schedule": {"kind": "cron", "cron": "0 9 * * *", "timezone": "UTC"},
        },
    ).json()["tid"]
    gid = api.post(
        "/api/v1/groups",
        json={
            "name": "nightly",
            "tasks": [tid],
            "schedule": {"kind": "cron", "cron": "0 2 * * *", "timezone": "UTC"},
        },
    ).json()["gid"]
    after = {"count": 2, "after": "2026-03-02T00:00:00+00:00"}
    group = api.get(f"/api/v1/groups/{gid}/forecast", params=after).json()
    assert (group["group"], group["task"]) == (gid, None)
    task = api.get(f"/api/v1/tasks/{tid}/forecast", params=after).json()
    assert (task["group"], task["task"]) == (gid, tid)
    # The task fires when its group does: 02:00, never its own 09:00.
    assert [o["at"] for o in task["occurrences"]] == [o["at"] for o in group["occurrences"]]
    assert task["occurrences"][0]["at"].startswith("2026-03-02T02:00")
