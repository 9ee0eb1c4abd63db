"""Variable sets over REST: secrets never come back (API, audit, export), roles and
instances decide who reads and writes, tasks and groups name only sets of their instance."""

from __future__ import annotations

import json

from security.sec_support import Api
from sqlmodel import select

from app.db.engine import session_scope
from app.db.tables import AuditEvent
from app.db.variable_set_tables import VariableSet

SECRET = "s3cr3t-Value-9f1c"
SETS = "/api/v1/variable-sets"


def _create(api: Api, name: str = "prod", instance: str = "default", **extra: object) -> dict:
    body = {
        "name": name,
        "instance": instance,
        "description": "production",
        "variables": {"REGION": "eu-west"},
        "secrets": {"DB_PASSWORD": SECRET},
        **extra,
    }
    response = api.client.post(SETS, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_secret_values_never_leave_the_server(var_api: Api) -> None:
    created = _create(var_api)
    assert created["secrets"] == {"DB_PASSWORD": "set"}
    assert created["variables"] == {"REGION": "eu-west"}
    changed = var_api.client.patch(
        f"{SETS}/prod", json={"secrets": {"DB_PASSWORD": None, "TOKEN": "tok-" + SECRET}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["secrets"] == {"DB_PASSWORD": "set", "TOKEN": "set"}
    task = var_api.client.post(
        "/api/v1/tasks",
        json={"name": "t", "command": "true", "variable_sets": ["prod"]},
    )
    assert task.status_code == 201, task.text
    texts = [
        var_api.client.get(SETS).text,
        var_api.client.get(f"{SETS}/prod").text,
        var_api.client.get("/api/v1/export").text,
        var_api.client.get("/api/v1/tasks").text,
    ]
    with session_scope(var_api.engine) as session:
        audit = [
            json.dumps([a.before, a.after, a.detail])
            for a in session.exec(select(AuditEvent)).all()
        ]
        stored = session.exec(select(VariableSet)).one()
        assert stored.secrets_sealed and SECRET not in stored.secrets_sealed  # encrypted at rest
        assert SECRET not in json.dumps(stored.variables)
    assert any("variable_set.update" in a or "DB_PASSWORD" in a for a in audit)
    for text in texts + audit:
        assert SECRET not in text
    assert "prod" in texts[2]  # the export names the set its task uses


def test_keep_a_secret_that_was_never_stored_is_refused(var_api: Api) -> None:
    response = var_api.client.post(SETS, json={"name": "x", "secrets": {"A": None}})
    assert response.status_code == 422
    assert "secrets.A" in response.text
    both = var_api.client.post(
        SETS, json={"name": "y", "variables": {"A": "1"}, "secrets": {"A": "2"}}
    )
    assert both.status_code == 422 and "secrets.A" in both.text
    bad_name = var_api.client.post(SETS, json={"name": "z", "variables": {"1A; rm": "1"}})
    assert bad_name.status_code == 422
    with session_scope(var_api.engine) as session:
        assert session.exec(select(VariableSet)).all() == []


def test_roles_and_instances(var_api: Api) -> None:
    _create(var_api, "eu", instance="eu")
    _create(var_api, "us", instance="us")
    admin_eu = var_api.token("admin-eu", "admin", ["eu"])
    viewer_eu = var_api.token("viewer-eu", "viewer", ["eu"])
    operator_eu = var_api.token("op-eu", "operator", ["eu"])
    client = var_api.client
    # Readers of the instance see names; plain values are masked below admin.
    seen = client.get(SETS, headers=viewer_eu).json()
    assert [s["name"] for s in seen] == ["eu"]
    assert seen[0]["variables"] == {"REGION": "********"}
    assert seen[0]["secrets"] == {"DB_PASSWORD": "set"}
    assert client.get(f"{SETS}/us", headers=viewer_eu).status_code == 404
    assert client.get(f"{SETS}/eu", headers=admin_eu).json()["variables"] == {"REGION": "eu-west"}
    # Writers: admins of the instance only.
    for headers in (viewer_eu, operator_eu):
        assert (
            client.patch(f"{SETS}/eu", json={"description": "x"}, headers=headers).status_code
            == 403
        )
        assert (
            client.post(SETS, json={"name": "n", "instance": "eu"}, headers=headers).status_code
            == 403
        )
    assert (
        client.patch(f"{SETS}/us", json={"description": "x"}, headers=admin_eu).status_code == 404
    )
    refused = client.post(SETS, json={"name": "n", "instance": "us"}, headers=admin_eu)
    assert refused.status_code == 422 and "instance" in refused.text
    assert (
        client.patch(f"{SETS}/eu", json={"description": "ok"}, headers=admin_eu).status_code == 200
    )
    assert client.delete(f"{SETS}/us", headers=admin_eu).status_code == 404
    assert client.delete(f"{SETS}/eu", headers=admin_eu).status_code == 204


def test_tasks_and_groups_name_only_sets_of_their_instance(var_api: Api) -> None:
    _create(var_api, "eu", instance="eu")
    client = var_api.client
    unknown = client.post(
        "/api/v1/tasks", json={"name": "a", "command": "true", "variable_sets": ["nope"]}
    )
    assert unknown.status_code == 422 and "variable_sets" in unknown.text
    other = client.post(
        "/api/v1/tasks",
        json={"name": "b", "command": "true", "instance": "us", "variable_sets": ["eu"]},
    )
    assert other.status_code == 422 and "variable_sets" in other.text
    group = client.post("/api/v1/groups", json={"name": "g", "variable_sets": ["eu"]})
    assert group.status_code == 422 and "variable_sets" in group.text
    group = client.post(
        "/api/v1/groups", json={"name": "g", "instance": "eu", "variable_sets": ["eu"]}
    )
    assert group.status_code == 201, group.text
    assert group.json()["variable_sets"] == ["eu"]
    task = client.post(
        "/api/v1/tasks",
        json={"name": "c", "command": "true", "instance": "eu", "variable_sets": ["eu"]},
    )
    assert task.status_code == 201 and task.json()["variable_sets"] == ["eu"]
    moved = client.patch(f"/api/v1/tasks/{task.json()['tid']}", json={"instance": "us"})
    assert moved.status_code == 422 and "variable_sets" in moved.text
    in_use = client.delete(f"{SETS}/eu")
    assert in_use.status_code == 409 and "task c" in in_use.text
