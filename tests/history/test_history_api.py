"""Definition versions through the REST API: recorded on each change (and only then), with
who, when and from where; diffs field by field; rollback as a new, audited version that
the next run records; the viewer and instance-scope refusals."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from history.conftest import Client
from sqlalchemy import Engine, text


def _task(api: TestClient, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/v1/tasks", json={"name": "load", "command": "echo one", **fields})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _versions(api: TestClient, tid: int) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/tasks/{tid}/versions")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def test_each_change_is_a_version_and_a_save_without_change_is_none(api: TestClient) -> None:
    tid = _task(api)["tid"]
    api.patch(f"/api/v1/tasks/{tid}", json={"command": "echo two", "retry_attempts": 2})
    api.patch(f"/api/v1/tasks/{tid}", json={"command": "echo two"})  # nothing changes
    listed = _versions(api, tid)
    assert [(v["number"], v["action"]) for v in listed] == [(2, "updated"), (1, "created")]
    assert {v["actor"] for v in listed} == {"admin"}
    assert {v["via"] for v in listed} == {"api"}
    assert listed[0]["source"] == "testclient"
    assert listed[0]["changed"] == ["command", "retry_attempts"]
    second = api.get(f"/api/v1/tasks/{tid}/versions/2").json()
    assert second["definition"]["command"] == "echo two"
    assert second["current"] == 2
    assert {(d["field"], d["before"], d["after"]) for d in second["diff"]} == {
        ("command", "echo one", "echo two"),
        ("retry_attempts", 0, 2),
    }
    assert api.get(f"/api/v1/tasks/{tid}/versions/3").status_code == 404


def test_the_command_line_client_is_recorded_as_cli(api: TestClient) -> None:
    tid = _task(api)["tid"]
    api.patch(
        f"/api/v1/tasks/{tid}", json={"command": "echo cli"}, headers={"X-Almanac-Client": "cli"}
    )
    assert [v["via"] for v in _versions(api, tid)] == ["cli", "api"]


def test_an_import_records_versions_made_via_import(api: TestClient) -> None:
    tid = _task(api)["tid"]
    document = {
        "format": "almanac/v1",
        "tasks": [
            {"name": "load", "command": "echo imported"},
            {"name": "fresh", "command": "true"},
        ],
    }
    response = api.post("/api/v1/import", json=document)
    assert response.status_code == 200, response.text
    latest = _versions(api, tid)[0]
    assert (latest["number"], latest["via"], latest["changed"]) == (2, "import", ["command"])
    fresh = next(t for t in api.get("/api/v1/tasks").json() if t["name"] == "fresh")
    assert [(v["action"], v["via"]) for v in _versions(api, fresh["tid"])] == [
        ("created", "import")
    ]


def test_rollback_restores_the_definition_and_the_next_run_records_it(
    api: TestClient, history_engine: Engine
) -> None:
    tid = _task(api, retry_attempts=1)["tid"]
    api.patch(f"/api/v1/tasks/{tid}", json={"command": "echo two", "retry_attempts": 3})
    response = api.post(f"/api/v1/tasks/{tid}/versions/1/rollback")
    assert response.status_code == 200, response.text
    restored = response.json()
    assert (restored["number"], restored["action"], restored["rollback_of"]) == (
        3,
        "rolled_back",
        1,
    )
    assert {d["field"] for d in restored["diff"]} == {"command", "retry_attempts"}
    task = api.get(f"/api/v1/tasks/{tid}").json()
    assert (task["command"], task["retry_attempts"]) == ("echo one", 1)
    run = api.post(f"/api/v1/tasks/{tid}/run").json()
    assert run["task_version"] == 3
    assert api.get(f"/api/v1/runs/{run['id']}").json()["command"] == "echo one"
    with history_engine.connect() as connection:
        actions = connection.execute(
            text("SELECT action FROM audit_event WHERE target_kind = 'task' ORDER BY id")
        ).scalars()
        assert list(actions) == ["task.create", "task.update", "task.rollback"]
    again = api.post(f"/api/v1/tasks/{tid}/versions/3/rollback")
    assert again.status_code == 409  # it has that definition already: nothing to record


def test_viewers_read_history_but_cannot_roll_back(api: TestClient, client_as: Client) -> None:
    tid = _task(api)["tid"]
    api.patch(f"/api/v1/tasks/{tid}", json={"command": "echo two"})
    viewer = client_as("vera", "viewer")
    assert [v["number"] for v in viewer.get(f"/api/v1/tasks/{tid}/versions").json()] == [2, 1]
    assert viewer.post(f"/api/v1/tasks/{tid}/versions/1/rollback").status_code == 403
    assert api.get(f"/api/v1/tasks/{tid}").json()["command"] == "echo two"


def test_other_instances_do_not_exist_for_history(api: TestClient, client_as: Client) -> None:
    tid = _task(api, instance="blue")["tid"]
    api.patch(f"/api/v1/tasks/{tid}", json={"command": "echo two"})
    red = client_as("rita", "admin", ["red"])
    assert red.get(f"/api/v1/tasks/{tid}/versions").status_code == 404
    assert red.get(f"/api/v1/tasks/{tid}/versions/1").status_code == 404
    assert red.post(f"/api/v1/tasks/{tid}/versions/1/rollback").status_code == 404
    assert api.get(f"/api/v1/tasks/{tid}").json()["command"] == "echo two"


def test_dependencies_version_the_task_and_the_group(api: TestClient) -> None:
    gid = api.post("/api/v1/groups", json={"name": "etl"}).json()["gid"]
    up = _task(api, name="extract", group=gid)["tid"]
    down = _task(api, name="load", group=gid)["tid"]
    edge = {"upstream": up, "downstream": down, "condition": "success"}
    assert api.post(f"/api/v1/groups/{gid}/edges", json=edge).status_code in (200, 201)
    task_head = api.get(f"/api/v1/tasks/{down}/versions/2").json()
    assert task_head["definition"]["upstreams"] == [{"upstream": "extract", "condition": "success"}]
    assert [d["field"] for d in task_head["diff"]] == ["upstreams"]
    group_head = api.get(f"/api/v1/groups/{gid}/versions/2").json()
    assert group_head["definition"]["edges"] == [
        {"upstream": "extract", "downstream": "load", "condition": "success"}
    ]
    assert _versions(api, up)[0]["number"] == 1  # the upstream's own definition is unchanged
    # Rolling the downstream task back removes the edge it did not have then.
    assert api.post(f"/api/v1/tasks/{down}/versions/1/rollback").status_code == 200
    assert api.get(f"/api/v1/groups/{gid}/edges").json() == []
    assert api.get(f"/api/v1/groups/{gid}/versions").json()[0]["number"] == 3
    # ... and the group's rollback brings it back.
    assert api.post(f"/api/v1/groups/{gid}/versions/2/rollback").status_code == 200
    assert len(api.get(f"/api/v1/groups/{gid}/edges").json()) == 1


def test_env_values_change_a_version_without_being_stored_in_the_open(
    api: TestClient, history_engine: Engine
) -> None:
    tid = _task(api, env={"REGION": "eu-west-secret-value"})["tid"]
    api.patch(f"/api/v1/tasks/{tid}", json={"env": {"REGION": "us-east-other-value"}})
    head = api.get(f"/api/v1/tasks/{tid}/versions/2").json()
    assert head["diff"] == [
        {"field": "env.REGION", "change": "changed", "before": "(hidden)", "after": "(hidden)"}
    ]
    with history_engine.connect() as connection:
        stored = " ".join(
            str(row) for row in connection.execute(text("SELECT * FROM definition_version"))
        )
    assert "eu-west-secret-value" not in stored and "us-east-other-value" not in stored
    api.post(f"/api/v1/tasks/{tid}/versions/1/rollback")
    task = api.get(f"/api/v1/tasks/{tid}").json()
    assert task["env"] == {"REGION": "eu-west-secret-value"}


def test_group_edits_and_deletion_are_versions(api: TestClient) -> None:
    gid = api.post("/api/v1/groups", json={"name": "etl"}).json()["gid"]
    api.patch(f"/api/v1/groups/{gid}", json={"description": "nightly"})
    listed = api.get(f"/api/v1/groups/{gid}/versions").json()
    assert [(v["number"], v["changed"]) for v in listed][0] == (2, ["description"])
    tid = _task(api)["tid"]
    api.delete(f"/api/v1/tasks/{tid}")
    assert api.get(f"/api/v1/tasks/{tid}/versions").status_code == 404


def test_calendar_changes_are_versions_readable_by_every_role(
    api: TestClient, client_as: Client
) -> None:
    created = api.post("/api/v1/calendars", json={"name": "ops", "skip_weekends": False})
    assert created.status_code == 201, created.text
    api.patch("/api/v1/calendars/ops", json={"extra_dates": ["2030-12-24"]})
    viewer = client_as("vic", "viewer", ["red"])
    listed = viewer.get("/api/v1/calendars/ops/versions").json()
    assert [(v["number"], v["changed"]) for v in listed] == [
        (2, ["extra_dates"]),
        (1, listed[1]["changed"]),
    ]
    second = viewer.get("/api/v1/calendars/ops/versions/2").json()
    assert second["diff"] == [
        {"field": "extra_dates", "change": "changed", "before": [], "after": ["2030-12-24"]}
    ]
    assert viewer.get("/api/v1/calendars/nope/versions").status_code == 404


def _group_versions(api: TestClient, gid: int) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/groups/{gid}/versions")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def test_waits_for_changes_are_versions_of_the_waiting_group(api: TestClient) -> None:
    etl = api.post("/api/v1/groups", json={"name": "etl"}).json()["gid"]
    reports = api.post("/api/v1/groups", json={"name": "reports"}).json()["gid"]
    added = api.post(f"/api/v1/groups/{reports}/dependencies", json={"upstream_group": etl})
    assert added.status_code == 201, added.text
    head = api.get(f"/api/v1/groups/{reports}/versions/2").json()
    assert head["definition"]["waits_for"] == [{"group": "etl", "instance": None}]
    assert head["diff"] == [
        {
            "field": "waits_for",
            "change": "changed",
            "before": [],
            "after": [{"group": "etl", "instance": None}],
        }
    ]
    assert [v["number"] for v in _group_versions(api, etl)] == [1]  # the upstream is unchanged
    assert api.delete(f"/api/v1/groups/{reports}/dependencies/{etl}").status_code == 204
    listed = _group_versions(api, reports)
    assert [(v["number"], v["changed"]) for v in listed][:2] == [
        (3, ["waits_for"]),
        (2, ["waits_for"]),
    ]
    # Rolling back to version 2 brings the wait back, as a version of its own.
    assert api.post(f"/api/v1/groups/{reports}/versions/2/rollback").status_code == 200
    assert api.get(f"/api/v1/groups/{reports}").json()["upstream_groups"] == [etl]
    assert _group_versions(api, reports)[0]["number"] == 4


def test_waits_for_set_by_definition_files_is_a_version_made_via_apply(api: TestClient) -> None:
    files = {
        "format": "almanac/v1",
        "groups": [{"name": "etl"}, {"name": "reports"}],
        "group_dependencies": [{"group": "reports", "upstream_group": "etl"}],
    }
    body = {"files": [{"path": "groups.json", "content": json.dumps(files)}], "source": "file:d"}
    assert api.post("/api/v1/definitions/apply", json=body).status_code == 200
    gid = {g["name"]: g["gid"] for g in api.get("/api/v1/groups").json()}["reports"]
    [created] = _group_versions(api, gid)
    assert (created["via"], created["action"]) == ("apply", "created")
    files["group_dependencies"] = []
    body["files"] = [{"path": "groups.json", "content": json.dumps(files)}]
    assert api.post("/api/v1/definitions/apply", json=body).status_code == 200
    latest = _group_versions(api, gid)[0]
    assert (latest["number"], latest["via"], latest["changed"]) == (2, "apply", ["waits_for"])
    assert api.get(f"/api/v1/groups/{gid}/versions/1").json()["definition"]["waits_for"] == [
        {"group": "etl", "instance": None}
    ]


def test_each_group_run_records_the_version_of_its_group(api: TestClient) -> None:
    gid = api.post("/api/v1/groups", json={"name": "etl"}).json()["gid"]
    _task(api, name="extract", group=gid)
    first = api.post(f"/api/v1/groups/{gid}/run")
    assert first.status_code == 201, first.text
    assert first.json()["group_version"] == 1
    api.patch(f"/api/v1/groups/{gid}", json={"description": "nightly"})
    second = api.post(f"/api/v1/groups/{gid}/run").json()
    assert second["group_version"] == 2
    # The record stays what the run used, whatever the group becomes.
    assert api.get(f"/api/v1/group-runs/{first.json()['id']}").json()["group_version"] == 1
    listed = {r["id"]: r["group_version"] for r in api.get("/api/v1/group-runs").json()}
    assert listed == {first.json()["id"]: 1, second["id"]: 2}
