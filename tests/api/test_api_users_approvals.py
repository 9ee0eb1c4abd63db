"""What a `user` submits waits for an operator; every change lands in the audit log."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import seed_user


def _engine(api: TestClient) -> Engine:
    engine: Engine = api.app.state.context.engine  # type: ignore[attr-defined]
    return engine


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _task(api: TestClient, headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    body = {"name": "report", "command": "echo report", **fields}
    response = api.post("/api/v1/tasks", json=body, headers=headers or {})
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def test_a_users_run_waits_for_an_operator(api: TestClient) -> None:
    engine = _engine(api)
    user = _as(seed_user(engine, "uma", role="user"))
    operator = _as(seed_user(engine, "otto", role="operator"))
    task = _task(api)
    submitted = api.post(f"/api/v1/tasks/{task['tid']}/run", headers=user)
    assert submitted.status_code == 201
    run = submitted.json()
    assert run["status"] == "PENDING_APPROVAL" and run["created_by"] == "uma"
    assert api.post(f"/api/v1/runs/{run['id']}/approve", headers=user).status_code == 403
    approved = api.post(
        f"/api/v1/runs/{run['id']}/approve", headers=operator, json={"comment": "looks fine"}
    )
    assert approved.status_code == 200 and approved.json()["status"] == "ACTIVE"
    events = api.get(f"/api/v1/runs/{run['id']}").json()["events"]
    assert [(e["status"], e["detail"]) for e in events] == [
        ("PENDING_APPROVAL", "submitted for approval by uma"),
        ("ACTIVE", "approved by otto: looks fine"),
    ]
    again = api.post(f"/api/v1/runs/{run['id']}/approve", headers=operator)
    assert again.status_code == 409

    second = api.post(f"/api/v1/tasks/{task['tid']}/run", headers=user).json()
    rejected = api.post(
        f"/api/v1/runs/{second['id']}/reject", headers=operator, json={"comment": "not on a Friday"}
    )
    assert rejected.json()["status"] == "REJECTED"
    assert rejected.json()["reason"] == "rejected by otto: not on a Friday"
    # an operator's own force run needs nobody
    assert (
        api.post(f"/api/v1/tasks/{task['tid']}/run", headers=operator).json()["status"] == "ACTIVE"
    )
    decisions = api.get("/api/v1/audit", params={"target_kind": "run", "action": "run.*"}).json()
    assert [(e["action"], e["actor"], e["detail"]) for e in decisions["items"]] == [
        ("run.reject", "otto", "not on a Friday"),
        ("run.approve", "otto", "looks fine"),
    ]


def test_what_a_user_writes_stays_inactive_until_an_operator_activates_it(api: TestClient) -> None:
    engine = _engine(api)
    user = _as(seed_user(engine, "uma", role="user"))
    operator = _as(seed_user(engine, "otto", role="operator"))
    schedule = {"kind": "cron", "cron": "* * * * *"}
    task = _task(api, user, schedule=schedule)
    assert task["active"] is False and task["next_fire_time"] is None
    tid = task["tid"]
    refused = api.patch(f"/api/v1/tasks/{tid}", headers=user, json={"active": True})
    assert refused.status_code == 403 and "operator" in refused.json()["detail"]
    activated = api.patch(f"/api/v1/tasks/{tid}", headers=operator, json={"active": True})
    assert activated.json()["active"] is True and activated.json()["next_fire_time"]
    renamed = api.patch(f"/api/v1/tasks/{tid}", headers=user, json={"description": "daily"})
    assert renamed.json()["active"] is True
    edited = api.patch(f"/api/v1/tasks/{tid}", headers=user, json={"command": "rm -rf ~"})
    assert edited.json()["active"] is False and edited.json()["next_fire_time"] is None


def test_definitions_and_controls_are_audited_with_who_where_before_after(api: TestClient) -> None:
    task = _task(api)
    api.patch(f"/api/v1/tasks/{task['tid']}", json={"command": "echo v2"})
    api.post(f"/api/v1/tasks/{task['tid']}/freezes", json={"date": "2026-12-24"})
    run = api.post(f"/api/v1/tasks/{task['tid']}/run").json()
    api.post(f"/api/v1/runs/{run['id']}/kill")
    api.post("/api/v1/calendars", json={"name": "fr", "country": "FR"})
    api.post("/api/v1/agents/tokens", json={"name": "worker-1"})
    api.delete(f"/api/v1/tasks/{task['tid']}")
    page = api.get("/api/v1/audit").json()
    actions = [e["action"] for e in page["items"]]
    assert actions == [
        "task.delete",
        "agent_token.create",
        "calendar.create",
        "run.kill",
        "task.run",
        "task.freeze",
        "task.update",
        "task.create",
    ]
    assert all(e["actor"] == "admin" and e["source"] == "testclient" for e in page["items"])
    update = page["items"][-2]
    assert update["before"]["command"] == "echo report"
    assert update["after"]["command"] == "echo v2"
    assert update["target_kind"] == "task" and update["target_id"] == str(task["tid"])
    assert update["instance"] == "default"
    kill = page["items"][3]
    assert kill["before"] == {"status": "ACTIVE"} and kill["after"] == {"status": "TERMINATED"}
    agent_token = page["items"][1]
    assert "token" not in agent_token["after"]


def test_the_audit_log_filters_pages_and_stays_in_the_admins_instances(api: TestClient) -> None:
    engine = _engine(api)
    for name in ("a", "b", "c"):
        _task(api, name=name)
    _task(api, name="hidden", instance="other")
    assert len(api.get("/api/v1/audit", params={"action": "task.create"}).json()["items"]) == 4
    first = api.get("/api/v1/audit", params={"page_size": 2}).json()
    second = api.get("/api/v1/audit", params={"page_size": 2, "page": 2}).json()
    assert first["has_more"] and not second["has_more"]
    assert [e["target_id"] for e in first["items"] + second["items"]] == ["4", "3", "2", "1"]
    assert api.get("/api/v1/audit", params={"actor": "nobody"}).json()["items"] == []
    when = first["items"][0]["at"]
    assert api.get("/api/v1/audit", params={"until": when}).json()["items"][0]["target_id"] == "3"
    assert api.get("/api/v1/audit", params={"since": "2026-01-01T00:00:00"}).status_code == 422
    admin = _as(seed_user(engine, "ada", role="admin", instances=["default"]))
    seen = api.get("/api/v1/audit", headers=admin).json()["items"]
    assert "other" not in {e["instance"] for e in seen} and len(seen) == 3
    operator = _as(seed_user(engine, "otto", role="operator"))
    assert api.get("/api/v1/audit", headers=operator).status_code == 403


def test_killing_a_run_that_waits_for_approval_rejects_it(api: TestClient) -> None:
    """As a batch kill always did: a run never started ends REJECTED, with who killed it."""
    engine = _engine(api)
    user = _as(seed_user(engine, "ula", role="user"))
    operator = _as(seed_user(engine, "oleg", role="operator"))
    task = _task(api, name="waits")
    run = api.post(f"/api/v1/tasks/{task['tid']}/run", headers=user).json()
    killed = api.post(f"/api/v1/runs/{run['id']}/kill", headers=operator)
    assert killed.status_code == 200, killed.text
    assert (killed.json()["status"], killed.json()["reason"]) == ("REJECTED", "killed by oleg")
    assert api.post(f"/api/v1/runs/{run['id']}/kill", headers=operator).status_code == 409
