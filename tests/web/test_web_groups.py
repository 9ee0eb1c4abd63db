"""Groups on the Tasks & Groups page: the group form, its panel (flow graph data,
dependencies, members), edges added and refused, import and export."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from app.web.groups_view import elements


def _tasks(api: TestClient, *names: str) -> list[int]:
    return [
        int(api.post("/api/v1/tasks", json={"name": n, "command": "true"}).json()["tid"])
        for n in names
    ]


def _group(web: TestClient, tids: list[int]) -> int:
    form = {
        "name": "etl",
        "description": "nightly",
        "active": "on",
        "instance": "default",
        "sched_kind": "times",
        "sched_times": "02:00",
        "sched_days": "mon-fri",
        "sched_timezone": "UTC",
    }
    response = web.post("/groups", data={**form, "tasks": [str(t) for t in tids]})
    assert response.status_code == 200, response.text
    assert response.template.name == "groups/_group.html"
    return int(response.context["view"].group["gid"])


def test_group_form_creates_a_group_with_members(web: TestClient, api: TestClient) -> None:
    tids = _tasks(api, "extract", "transform", "load")
    assert web.get("/groups/new").context["panel"] == "groups/_group_form.html"
    gid = _group(web, tids)
    group = api.get(f"/api/v1/groups/{gid}").json()
    assert group["tasks"] == tids and group["schedule"]["times"] == ["02:00"]
    page = web.get(f"/groups/{gid}")
    assert page.template.name == "tasks/page.html"
    assert page.context["list"].filters.tab == "groups"
    assert [m["name"] for m in page.context["view"].members] == ["extract", "transform", "load"]
    assert f'sse-connect="/groups/{gid}/events"' in page.text


def test_edges_are_added_listed_refused_and_removed(web: TestClient, api: TestClient) -> None:
    a, b, c = _tasks(api, "a", "b", "c")
    gid = _group(web, [a, b, c])
    added = web.post(f"/groups/{gid}/edges", data={"upstream": a, "downstream": b})
    assert [
        (e["upstream"], e["downstream"], e["condition"]) for e in added.context["view"].edges
    ] == [(a, b, "success")]
    web.post(f"/groups/{gid}/edges", data={"upstream": b, "downstream": c, "condition": "failure"})
    cycle = web.post(f"/groups/{gid}/edges", data={"upstream": c, "downstream": a})
    toast = json.loads(cycle.headers["HX-Trigger"])["toast"]
    assert toast["kind"] == "error" and "cycle" in toast["text"]
    assert len(cycle.context["view"].edges) == 2
    graph = web.get(f"/groups/{gid}/graph.json").json()
    assert {n["data"]["label"] for n in graph["nodes"]} == {"a", "b", "c"}
    assert {(e["data"]["source"], e["data"]["condition"]) for e in graph["edges"]} == {
        (f"t{a}", "success"),
        (f"t{b}", "failure"),
    }
    removed = web.post(f"/groups/{gid}/edges/delete", data={"upstream": a, "downstream": b})
    assert len(removed.context["view"].edges) == 1


def test_graph_nodes_carry_their_run_status() -> None:
    graph = {
        "group_run": 7,
        "group_run_status": "RUNNING",
        "edges": [],
        "nodes": [
            {"tid": 1, "name": "a", "status": "RUNNING", "run": 3, "reason": None},
            {"tid": 2, "name": "b", "status": None, "run": None, "reason": None},
        ],
    }
    nodes = {n["data"]["tid"]: n["data"] for n in elements(graph)["nodes"]}
    assert nodes[1]["css"] == "s-running" and nodes[1]["run"] == 3
    assert nodes[2]["css"] == "s-none" and nodes[2]["caption"] == "b\nno run yet"


def test_force_running_a_group_redraws_its_panel(web: TestClient, api: TestClient) -> None:
    gid = _group(web, _tasks(api, "x"))
    response = web.post(f"/groups/{gid}/run")
    assert response.template.name == "groups/_group.html"
    assert "started" in json.loads(response.headers["HX-Trigger"])["toast"]["text"]
    assert web.get(f"/groups/{gid}/graph.json").json()["group_run"] is not None


def test_export_then_import_dry_run_and_apply(web: TestClient, api: TestClient) -> None:
    _tasks(api, "keep")
    exported = web.get("/tasks/export")
    assert "attachment" in exported.headers["content-disposition"]
    document = exported.json()
    document["tasks"].append({"name": "imported", "command": "echo hi"})
    raw = json.dumps(document).encode()
    check = web.post(
        "/tasks/import",
        data={"step": "check", "mode": "merge"},
        files={"file": ("defs.json", raw, "application/json")},
    )
    report = check.context["report"]
    assert report["dry_run"] and [c["name"] for c in report["changes"]] == ["imported"]
    assert api.get("/api/v1/tasks?q=imported").json() == []
    applied = web.post(
        "/tasks/import", data={"step": "apply", "mode": "merge", "document": raw.decode()}
    )
    assert applied.context["report"]["applied"]
    assert [t["name"] for t in api.get("/api/v1/tasks?q=imported").json()] == ["imported"]
    refused = web.post("/tasks/import", data={"step": "check", "document": '{"format": 1}'})
    assert refused.context["errors"] and refused.context["report"] is None
