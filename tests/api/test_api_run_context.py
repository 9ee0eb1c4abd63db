"""Run context over the API: declared params, placeholders refused at save time, force runs
for a business date with params, group values reaching tasks, export/import of params."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import seed_user

from app.clock import FrozenClock
from app.db.engine import make_engine
from app.server import create_app
from app.settings import Settings

PARAMS: list[dict[str, Any]] = [
    {"name": "region", "type": "choice", "choices": ["EU", "US"], "default": "EU"},
    {"name": "n", "type": "integer", "default": 1},
]


def _task(api: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "load", "command": "echo ${param.region} ${business_date}", **fields}
    response = api.post("/api/v1/tasks", json={"params": PARAMS, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_an_unknown_placeholder_is_refused_on_create_and_patch_and_nothing_is_stored(
    api: TestClient,
) -> None:
    for fields, field in [
        ({"command": "echo ${nope}"}, "command"),
        ({"command": "echo ${param.missing}"}, "command"),
        ({"command": "true", "env": {"A": "${business_date:%H}"}}, "env.A"),
        ({"command": "true", "workdir": "/d/${business_date-x}"}, "workdir"),
        ({"command": "true", "mounts": ["/a/${bad}:/b"]}, "mounts[0]"),
    ]:
        response = api.post("/api/v1/tasks", json={"name": "bad", **fields})
        assert response.status_code == 422, response.text
        assert response.json()["detail"].startswith(f"{field}:"), response.text
    assert api.get("/api/v1/tasks").json() == []
    task = _task(api)
    response = api.patch(f"/api/v1/tasks/{task['tid']}", json={"command": "echo ${param.zone}"})
    assert response.status_code == 422 and "command" in response.json()["detail"]
    response = api.patch(f"/api/v1/tasks/{task['tid']}", json={"params": []})
    assert response.status_code == 422 and "param.region" in response.json()["detail"]
    assert api.get(f"/api/v1/tasks/{task['tid']}").json()["command"] == task["command"]
    assert api.get(f"/api/v1/tasks/{task['tid']}").json()["params"] == task["params"]


def test_bad_declarations_are_refused_naming_the_parameter(api: TestClient) -> None:
    bad = [{"name": "n", "type": "integer", "default": "ten"}]
    response = api.post("/api/v1/tasks", json={"name": "t", "command": "true", "params": bad})
    assert response.status_code == 422 and "params.n.default" in response.json()["detail"]
    assert api.get("/api/v1/tasks").json() == []


def test_a_force_run_for_a_date_with_params_stores_and_shows_them(api: TestClient) -> None:
    task = _task(api)
    assert task["params"][1] == {
        "name": "n",
        "type": "integer",
        "default": 1,
        "required": False,
        "choices": None,
        "description": "",
    }
    forced = api.post(
        f"/api/v1/tasks/{task['tid']}/run",
        json={"business_date": "2026-03-02", "params": {"region": "US", "n": "7"}},
    )
    assert forced.status_code == 201, forced.text
    run = api.get(f"/api/v1/runs/{forced.json()['id']}").json()
    assert run["business_date"] == "2026-03-02"
    assert run["params"] == {"region": "US", "n": 7}
    assert run["spec"]["params"] == {"region": "US", "n": 7}  # what an approval is of
    plain = api.post(f"/api/v1/tasks/{task['tid']}/run")
    assert plain.status_code == 201 and plain.json()["params"] == {"region": "EU", "n": 1}
    assert plain.json()["business_date"] is not None
    before = len(api.get("/api/v1/runs").json()["items"])
    for params, field in [({"region": "ASIA"}, "params.region"), ({"x": 1}, "params.x")]:
        response = api.post(f"/api/v1/tasks/{task['tid']}/run", json={"params": params})
        assert response.status_code == 422 and field in response.json()["detail"]
    response = api.post(f"/api/v1/tasks/{task['tid']}/run", json={"business_date": "2026-13-01"})
    assert response.status_code == 422 and "business_date" in response.json()["detail"]
    assert len(api.get("/api/v1/runs").json()["items"]) == before


def test_a_group_runs_params_reach_its_tasks(api: TestClient) -> None:
    load = _task(api)
    other = api.post(
        "/api/v1/tasks",
        json={"name": "report", "command": "echo ${param.since} ${param.region}"},
    )
    assert other.status_code == 422  # not declared by it nor (yet) by a group
    report = api.post("/api/v1/tasks", json={"name": "report", "command": "true"}).json()
    group = api.post(
        "/api/v1/groups",
        json={
            "name": "nightly",
            "tasks": [load["tid"], report["tid"]],
            "params": [
                {"name": "region", "type": "string", "default": "US"},
                {"name": "since", "type": "date", "required": True},
            ],
            "schedule": {"kind": "cron", "cron": "0 6 * * *", "timezone": "Asia/Tokyo"},
        },
    )
    assert group.status_code == 201, group.text
    gid = group.json()["gid"]
    patched = api.patch(
        f"/api/v1/tasks/{report['tid']}", json={"command": "echo ${param.since} ${param.region}"}
    )
    assert patched.status_code == 200, patched.text  # the group declares them now
    dropped = api.patch(f"/api/v1/groups/{gid}", json={"params": []})
    assert dropped.status_code == 422 and "report" in dropped.json()["detail"]
    missing = api.post(f"/api/v1/groups/{gid}/run", json={"params": {}})
    assert missing.status_code == 422 and "params.since" in missing.json()["detail"]
    started = api.post(
        f"/api/v1/groups/{gid}/run",
        json={"business_date": "2026-05-04", "params": {"since": "2026-05-01", "n": 5}},
    )
    assert started.status_code == 201, started.text
    assert started.json()["business_date"] == "2026-05-04"
    runs = api.get(f"/api/v1/group-runs/{started.json()['id']}").json()["runs"]
    by_task = {r["task"]: r for r in runs}
    # The group's default (US) wins over the task's (EU); a given value wins over both.
    assert by_task[load["tid"]]["params"] == {"region": "US", "since": "2026-05-01", "n": 5}
    assert by_task[report["tid"]]["params"] == {"region": "US", "since": "2026-05-01"}
    assert {r["business_date"] for r in runs} == {"2026-05-04"}


def test_export_import_round_trip_keeps_params(api: TestClient) -> None:
    task = _task(api)
    api.post(
        "/api/v1/groups",
        json={"name": "g", "params": [{"name": "d", "type": "date", "default": "2026-01-01"}]},
    )
    exported = api.get("/api/v1/export").json()
    [item] = [t for t in exported["tasks"] if t["name"] == "load"]
    assert item["params"] == task["params"]
    assert exported["groups"][0]["params"][0]["default"] == "2026-01-01"
    report = api.post("/api/v1/import", json=exported).json()
    assert report["changes"] == [], report
    assert api.get("/api/v1/export").json() == exported
    exported["tasks"][0]["command"] = "echo ${param.nothing}"
    refused = api.post("/api/v1/import", json=exported)
    assert refused.status_code == 422 and "param.nothing" in refused.text


def test_roles_and_instances_for_runs_for_a_date(api: TestClient, database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        viewer = seed_user(engine, "ctx-viewer", role="viewer")
        user = seed_user(engine, "ctx-user", role="user")
        outsider = seed_user(engine, "ctx-out", role="operator", instances=["other"])
    finally:
        engine.dispose()
    task = _task(api)
    body = {"business_date": "2026-03-02", "params": {"region": "US"}}
    url = f"/api/v1/tasks/{task['tid']}/run"

    def as_(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    assert api.post(url, json=body, headers=as_(viewer)).status_code == 403
    assert api.post(url, json=body, headers=as_(outsider)).status_code == 404
    submitted = api.post(url, json=body, headers=as_(user))
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["status"] == "PENDING_APPROVAL"
    detail = api.get(f"/api/v1/runs/{submitted.json()['id']}").json()
    # The approver reviews the date and the values: both are in the approved spec.
    assert detail["spec"]["params"] == {"region": "US", "n": 1}
    assert detail["spec"]["business_date"] == "2026-03-02"


@pytest.fixture
def clocked_api(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The API with its clock at 02:00 UTC on 3 March 2026: still 2 March in New York."""
    settings = Settings(data_dir=tmp_path, database_url=database_url, local_agent=False)
    engine = make_engine(database_url)
    token = seed_user(engine)
    clock = FrozenClock(datetime(2026, 3, 3, 2, 0, tzinfo=UTC))
    with TestClient(create_app(settings, engine=engine, clock=clock)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
    engine.dispose()


def test_a_force_run_without_a_date_is_today_where_its_task_or_group_lives(
    clocked_api: TestClient,
) -> None:
    api = clocked_api
    new_york = {"kind": "times", "times": ["09:00"], "timezone": "America/New_York"}
    own = api.post("/api/v1/tasks", json={"name": "ny", "command": "true", "schedule": new_york})
    bare = api.post("/api/v1/tasks", json={"name": "utc", "command": "true"}).json()
    member = api.post("/api/v1/tasks", json={"name": "member", "command": "true"}).json()
    group = api.post(
        "/api/v1/groups",
        json={
            "name": "ny-group",
            "tasks": [member["tid"]],
            "schedule": {"kind": "cron", "cron": "0 6 * * *", "timezone": "America/New_York"},
        },
    )
    assert own.status_code == 201 and group.status_code == 201, (own.text, group.text)
    for tid, day in [
        (own.json()["tid"], "2026-03-02"),  # its own schedule's zone
        (member["tid"], "2026-03-02"),  # no schedule: its group's zone
        (bare["tid"], "2026-03-03"),  # neither: UTC
    ]:
        forced = api.post(f"/api/v1/tasks/{tid}/run")
        assert forced.status_code == 201, forced.text
        assert forced.json()["business_date"] == day, tid
    started = api.post(f"/api/v1/groups/{group.json()['gid']}/run")
    assert started.status_code == 201, started.text
    assert started.json()["business_date"] == "2026-03-02"
    runs = api.get(f"/api/v1/group-runs/{started.json()['id']}").json()["runs"]
    assert [r["business_date"] for r in runs] == ["2026-03-02"]
