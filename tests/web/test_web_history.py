"""The History tab: a save through the task form is a version made via the UI, its diff
is shown field by field, operators roll back from the page, the run page names the version
it used; viewers see the history but no button, and are refused if they post."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from web.web_helpers import Login


def _task(api: TestClient, **fields: object) -> int:
    body = {"name": "report", "command": "echo one", **fields}
    response = api.post("/api/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["tid"])


def test_a_form_save_is_a_ui_version_and_rollback_from_the_tab(
    web: TestClient, api: TestClient
) -> None:
    tid = _task(api)
    values = dict(web.get(f"/tasks/{tid}").context["values"])
    values["command"] = "echo two"
    saved = web.post(f"/tasks/{tid}", data=values, headers={"HX-Request": "true"})
    assert saved.status_code == 200, saved.text
    page = web.get(f"/tasks/{tid}/history")
    assert page.context["panel"] == "history/_history.html"
    newest, first = page.context["versions"]
    assert (newest["number"], newest["via"], newest["actor"]) == (2, "ui", "admin")
    assert (first["number"], first["via"]) == (1, "api")
    command = next(d for d in newest["diff"] if d["field"] == "command")
    assert (command["before"], command["after"]) == ("echo one", "echo two")
    assert 'data-action="rollback"' in page.text and "echo two" in page.text
    rolled = web.post(f"/tasks/{tid}/history/1/rollback", headers={"HX-Request": "true"})
    assert rolled.status_code == 200, rolled.text
    assert "Rolled back to version 1" in json.loads(rolled.headers["HX-Trigger"])["toast"]["text"]
    assert api.get(f"/api/v1/tasks/{tid}").json()["command"] == "echo one"
    run = api.post(f"/api/v1/tasks/{tid}/run").json()
    assert run["task_version"] == 3
    api.patch(f"/api/v1/tasks/{tid}", json={"command": "echo four"})
    shown = web.get(f"/task-runs/{run['id']}").text
    assert f'href="/tasks/{tid}/history#v3">version 3</a>' in shown
    assert f'the task is now at <a href="/tasks/{tid}/history#v4">version 4</a>' in shown


def test_viewers_see_history_but_no_rollback_and_are_refused(login: Login, api: TestClient) -> None:
    tid = _task(api)
    api.patch(f"/api/v1/tasks/{tid}", json={"command": "echo two"})
    gid = api.post("/api/v1/groups", json={"name": "etl"}).json()["gid"]
    api.patch(f"/api/v1/groups/{gid}", json={"description": "nightly"})
    viewer = login("viewer")
    for path in (f"/tasks/{tid}/history", f"/groups/{gid}/history"):
        page = viewer.get(path)
        assert page.status_code == 200
        assert [v["number"] for v in page.context["versions"]] == [2, 1]
        assert 'data-action="rollback"' not in page.text
        assert viewer.post(f"{path}/1/rollback").status_code == 403
    assert api.get(f"/api/v1/tasks/{tid}").json()["command"] == "echo two"
    assert api.get(f"/api/v1/groups/{gid}").json()["description"] == "nightly"
