"""Params in the web forms: declared in the group and task forms, a group run for a date with
values from the Run for date form, refusals named on the field."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

SINCE = [{"name": "since", "type": "date", "required": True}]


def test_a_group_declares_params_and_runs_for_a_date_with_them(
    web: TestClient, api: TestClient
) -> None:
    tid = api.post("/api/v1/tasks", json={"name": "w-load", "command": "true"}).json()["tid"]
    form = {
        "name": "w-etl",
        "active": "on",
        "instance": "default",
        "sched_kind": "",
        "params": json.dumps(SINCE),
        "tasks": [str(tid)],
    }
    created = web.post("/groups", data=form)
    assert created.status_code == 200, created.text
    gid = int(created.context["view"].group["gid"])
    assert api.get(f"/api/v1/groups/{gid}").json()["params"][0]["required"] is True
    assert 'name="param.since"' in web.get(f"/groups/{gid}").text

    refused = web.post(f"/groups/{gid}/run", data={"business_date": "", "param.since": "soon"})
    # Refused beside the field, not in a toast.
    assert refused.status_code == 422 and "HX-Trigger" not in refused.headers
    assert refused.headers["HX-Retarget"] == "#run-form-status"
    assert re.search(r'id="runerr-param-since"[^>]*>[^<]*date', refused.text), refused.text
    assert api.get("/api/v1/group-runs", params={"group": gid}).json() == []

    started = web.post(
        f"/groups/{gid}/run", data={"business_date": "2026-02-02", "param.since": "2026-01-01"}
    )
    assert "started" in json.loads(started.headers["HX-Trigger"])["toast"]["text"]
    [group_run] = api.get("/api/v1/group-runs", params={"group": gid}).json()
    assert group_run["business_date"] == "2026-02-02"
    assert group_run["params"] == {"since": "2026-01-01"}


def test_bad_declarations_and_values_are_named_on_their_fields(
    web: TestClient, api: TestClient
) -> None:
    task = api.post(
        "/api/v1/tasks", json={"name": "w-t", "command": "true", "params": SINCE}
    ).json()
    page = web.get(f"/tasks/{task['tid']}")
    assert page.context["values"]["params"].startswith("[")
    edited = {**page.context["values"], "params": "[{oops"}
    response = web.post(f"/tasks/{task['tid']}", data=edited)
    assert "not JSON" in response.text
    assert api.get(f"/api/v1/tasks/{task['tid']}").json()["params"][0]["name"] == "since"
    check = web.post(f"/tasks/{task['tid']}/run-check", data={"business_date": "x"})
    assert 'id="runerr-business_date" hx-swap-oob="true">not a date' in check.text
    assert 'id="runerr-param-since" hx-swap-oob="true">a value is required' in check.text
