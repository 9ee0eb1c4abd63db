"""Per-date freezes on their own screen: operators freeze and unfreeze a group's or task's
business dates; viewers read; instance scopes as on the API."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import seed_user
from web.web_helpers import Login, sign_in


def test_freeze_and_unfreeze_a_group_date(web: TestClient, api: TestClient) -> None:
    gid = api.post("/api/v1/groups", json={"name": "nightly"}).json()["gid"]
    assert f'href="/groups/{gid}/freezes"' in web.get(f"/groups/{gid}").text
    made = web.post(f"/groups/{gid}/freezes", data={"date": "2026-12-24", "reason": "eve"})
    assert made.status_code == 303
    (frozen,) = api.get(f"/api/v1/groups/{gid}/freezes").json()
    assert frozen["date"] == "2026-12-24" and frozen["reason"] == "eve"
    assert 'id="freeze-2026-12-24"' in web.get(f"/groups/{gid}/freezes").text
    bad = web.post(f"/groups/{gid}/freezes", data={"date": "24.12.2026", "reason": "x" * 600})
    assert bad.status_code == 422
    assert re.search(r'id="err-date">must be a date like 2026-12-31<', bad.text)
    assert re.search(r'id="err-reason">must be at most 500 characters<', bad.text)
    gone = web.post(f"/groups/{gid}/freezes/2026-12-24/delete")
    assert gone.status_code == 303 and api.get(f"/api/v1/groups/{gid}/freezes").json() == []


def test_task_freezes_respect_roles_and_scopes(
    api: TestClient, login: Login, web_app: FastAPI, web_engine: Engine
) -> None:
    task = {"name": "ops-job", "command": "true", "instance": "ops"}
    tid = api.post("/api/v1/tasks", json=task).json()["tid"]
    viewer = login("viewer")
    page = viewer.get(f"/tasks/{tid}/freezes")
    assert page.status_code == 200 and "Freeze a date" not in page.text
    assert viewer.post(f"/tasks/{tid}/freezes", data={"date": "2026-12-24"}).status_code == 403
    seed_user(web_engine, "scoped", role="operator", instances=["default"])
    scoped = TestClient(web_app, follow_redirects=False)
    sign_in(scoped, "scoped")
    assert scoped.get(f"/tasks/{tid}/freezes").status_code == 404
    assert scoped.post(f"/tasks/{tid}/freezes", data={"date": "2026-12-24"}).status_code == 404
    assert api.get(f"/api/v1/tasks/{tid}/freezes").json() == []
