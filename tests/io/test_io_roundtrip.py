"""Export -> import -> export is byte-identical, imports are idempotent, mirror deletes."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete

from app.db.engine import session_scope
from app.db.tables import Agent

API = "/api/v1"


def _register_agent(engine: Engine, name: str) -> None:
    with session_scope(engine) as session:
        session.add(Agent(name=name, status="offline"))


def _build_definitions(api: TestClient, engine: Engine) -> None:
    _register_agent(engine, "worker-1")
    assert (
        api.post(
            f"{API}/calendars",
            json={
                "name": "berlin",
                "country": "DE",
                "subdivision": "BE",
                "skip_weekends": True,
                "extra_dates": ["2026-12-31", "2026-12-24"],
            },
        ).status_code
        == 201
    )
    tids = []
    for name in ("extract", "transform", "load"):
        response = api.post(
            f"{API}/tasks",
            json={
                "name": name,
                "command": f"echo {name}",
                "env": {"B": "2", "A": "1"},
                "retry_attempts": 2,
                "target": "worker-1",
            },
        )
        assert response.status_code == 201, response.text
        tids.append(response.json()["tid"])
    etl = api.post(
        f"{API}/groups",
        json={
            "name": "etl",
            "tasks": tids,
            "schedule": {
                "kind": "times",
                "times": ["06:00"],
                "days": "mon-fri",
                "timezone": "Europe/Berlin",
                "calendar": "berlin",
            },
            "schedules": [{"kind": "cron", "cron": "0 20 * * 5", "timezone": "Europe/Berlin"}],
            "blackouts": [{"name": "maintenance", "start": "05:00", "end": "07:00", "days": "sun"}],
        },
    ).json()["gid"]
    for up, down, condition in ((0, 1, "success"), (1, 2, "done")):
        assert (
            api.post(
                f"{API}/groups/{etl}/edges",
                json={"upstream": tids[up], "downstream": tids[down], "condition": condition},
            ).status_code
            == 201
        )
    report = api.post(f"{API}/groups", json={"name": "report"}).json()["gid"]
    assert (
        api.post(f"{API}/groups/{report}/dependencies", json={"upstream_group": etl}).status_code
        == 201
    )
    assert (
        api.post(
            f"{API}/tasks",
            json={
                "name": "cleanup",
                "command": "rm -rf /tmp/x",
                "labels": {"zone": "a"},
                "schedule": {"kind": "cron", "cron": "*/15  * * * *", "calendar": "berlin"},
                "schedules": [
                    {"kind": "times", "times": ["12:00:30"], "dst_fold": "both"},
                    {"kind": "once", "at": "2030-01-01T00:00:00", "timezone": "Asia/Tokyo"},
                ],
                "blackouts": [
                    {"name": "year end", "start_date": "2026-12-24", "end_date": "2027-01-02"},
                    {"name": "nights", "start": "22:00", "end": "06:00", "timezone": "UTC"},
                ],
                "memory": "512M",
                "cpus": 1.5,
                "gpus": [1, 0],
                "mounts": ["/data:/data:ro"],
            },
        ).status_code
        == 201
    )


def _export(api: TestClient) -> str:
    response = api.get(f"{API}/export")
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "application/json"
    )
    return response.text


def _import(api: TestClient, body: str | bytes | dict[str, Any], **params: Any) -> Any:
    content = json.dumps(body) if isinstance(body, dict) else body
    return api.post(
        f"{API}/import",
        content=content,
        params=params,
        headers={"content-type": "application/json"},
    )


def test_export_names_everything_by_name(api: TestClient, io_engine: Engine) -> None:
    _build_definitions(api, io_engine)
    doc = json.loads(_export(api))
    assert doc["format"] == "almanac/v1"
    assert [c["name"] for c in doc["calendars"]] == ["berlin"]
    assert doc["calendars"][0]["extra_dates"] == ["2026-12-24", "2026-12-31"]
    assert [g["name"] for g in doc["groups"]] == ["etl", "report"]
    tasks = {t["name"]: t for t in doc["tasks"]}
    assert list(tasks) == ["cleanup", "extract", "load", "transform"]
    assert tasks["load"]["group"] == "etl" and tasks["cleanup"]["group"] is None
    assert tasks["extract"]["env"] == {"A": "1", "B": "2"}
    assert tasks["cleanup"]["schedule"] == {
        "kind": "cron",
        "cron": "*/15 * * * *",
        "calendar": "berlin",
    }
    assert doc["dependencies"] == [
        {
            "group": "etl",
            "upstream": "extract",
            "downstream": "transform",
            "condition": "success",
            "instance": "default",
        },
        {
            "group": "etl",
            "upstream": "transform",
            "downstream": "load",
            "condition": "done",
            "instance": "default",
        },
    ]
    assert doc["group_dependencies"] == [
        {
            "group": "report",
            "upstream_group": "etl",
            "instance": "default",
            "upstream_instance": None,
        }
    ]


def test_round_trip_is_byte_identical_and_idempotent(api: TestClient, io_engine: Engine) -> None:
    _build_definitions(api, io_engine)
    first = _export(api)
    cleanup_item = next(t for t in json.loads(first)["tasks"] if t["name"] == "cleanup")
    assert [s["kind"] for s in cleanup_item["schedules"]] == ["times", "once"]
    assert [b["name"] for b in cleanup_item["blackouts"]] == ["year end", "nights"]
    again = _import(api, first)
    assert again.status_code == 200, again.text
    assert again.json()["summary"] == {"create": 0, "update": 0, "delete": 0, "unchanged": 10}
    assert again.json()["changes"] == []
    assert _export(api) == first

    # Wipe everything with a mirror of an empty file, then rebuild from the export.
    wiped = _import(api, {"format": "almanac/v1"}, mode="mirror")
    assert wiped.status_code == 200, wiped.text
    assert wiped.json()["summary"]["delete"] == 10
    assert api.get(f"{API}/tasks").json() == [] and api.get(f"{API}/calendars").json() == []
    rebuilt = _import(api, first)
    assert rebuilt.status_code == 200, rebuilt.text
    assert rebuilt.json()["summary"] == {"create": 10, "update": 0, "delete": 0, "unchanged": 0}
    assert _export(api) == first
    etl = next(g for g in api.get(f"{API}/groups").json() if g["name"] == "etl")
    assert etl["next_fire_time"] is not None  # re-planned
    cleanup = next(t for t in api.get(f"{API}/tasks").json() if t["name"] == "cleanup")
    assert cleanup["next_fire_time"] is not None


def test_a_short_file_takes_the_defaults_and_is_planned(api: TestClient) -> None:
    response = _import(
        api,
        {
            "format": "almanac/v1",
            "tasks": [
                {
                    "name": "hourly",
                    "command": "date",
                    "schedule": {"kind": "cron", "cron": "0 * * * *"},
                },
            ],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["changes"] == [
        {"action": "create", "kind": "task", "name": "hourly", "fields": []}
    ]
    [task] = api.get(f"{API}/tasks").json()
    assert task["active"] is True and task["retry_attempts"] == 0
    assert task["concurrency"] == "allow" and task["next_fire_time"] is not None


def test_dry_run_reports_and_changes_nothing(api: TestClient, io_engine: Engine) -> None:
    _build_definitions(api, io_engine)
    before = _export(api)
    doc = json.loads(before)
    doc["tasks"][0]["command"] = "echo changed"
    doc["tasks"].append({"name": "new-one", "command": "true"})
    del doc["tasks"][1]  # extract: kept by merge, deleted by mirror
    doc["dependencies"] = doc["dependencies"][1:]
    merge = _import(api, doc, dry_run="true").json()
    assert merge["dry_run"] is True and merge["applied"] is False
    assert {(c["action"], c["kind"], c["name"]) for c in merge["changes"]} == {
        ("update", "task", "cleanup"),
        ("create", "task", "new-one"),
    }
    update = next(c for c in merge["changes"] if c["action"] == "update")
    assert update["fields"] == ["command"]
    mirror = _import(api, doc, dry_run="true", mode="mirror").json()
    assert {(c["action"], c["kind"], c["name"]) for c in mirror["changes"]} == {
        ("update", "task", "cleanup"),
        ("create", "task", "new-one"),
        ("delete", "task", "extract"),
        ("delete", "dependency", "etl: extract -> transform"),
    }
    assert _export(api) == before


def test_merge_keeps_and_mirror_deletes(api: TestClient, io_engine: Engine) -> None:
    _build_definitions(api, io_engine)
    doc = json.loads(_export(api))
    doc["tasks"] = [t for t in doc["tasks"] if t["name"] != "cleanup"]
    doc["tasks"][0]["group"] = None  # extract leaves etl
    refused = _import(api, doc)  # while the file still has its edge
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "item": "dependencies[0] (etl: extract -> transform)",
            "field": "upstream",
            "problem": "task 'extract' is not in group 'etl'",
        }
    ]
    doc["dependencies"] = doc["dependencies"][1:]
    merged = _import(api, doc).json()  # the edge in the database goes with the task
    assert merged["summary"]["delete"] == 1  # the edge, not the task
    names = {t["name"] for t in api.get(f"{API}/tasks").json()}
    assert "cleanup" in names
    mirrored = _import(api, doc, mode="mirror")
    assert mirrored.status_code == 200, mirrored.text
    assert {t["name"] for t in api.get(f"{API}/tasks").json()} == names - {"cleanup"}
    assert [e["upstream"] for e in json.loads(_export(api))["dependencies"]] == ["transform"]


def test_an_update_re_plans_the_schedule(api: TestClient) -> None:
    doc: dict[str, Any] = {
        "format": "almanac/v1",
        "tasks": [
            {"name": "t", "command": "true", "schedule": {"kind": "cron", "cron": "0 5 1 1 *"}}
        ],
    }
    assert _import(api, doc).status_code == 200
    first = api.get(f"{API}/tasks").json()[0]["next_fire_time"]
    doc["tasks"][0]["schedule"]["cron"] = "0 6 1 1 *"
    changed = _import(api, doc).json()
    assert changed["changes"][0]["fields"] == ["schedule"]
    second = api.get(f"{API}/tasks").json()[0]["next_fire_time"]
    assert first.replace("05:00", "06:00") == second


def test_an_unchanged_reference_to_a_removed_agent_still_imports(
    api: TestClient, io_engine: Engine
) -> None:
    _build_definitions(api, io_engine)
    text = _export(api)
    with session_scope(io_engine) as session:
        session.exec(delete(Agent))  # type: ignore[call-overload]
    assert _import(api, text).status_code == 200
    doc = json.loads(text)
    doc["tasks"].append({"name": "new", "command": "true", "target": "worker-1"})
    refused = _import(api, doc)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["problem"] == "unknown agent 'worker-1'"
