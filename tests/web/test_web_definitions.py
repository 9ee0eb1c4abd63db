"""Objects from definition files show who manages them, their edit forms warn that the next
apply overwrites an edit; the git sync page shows each source's status (admins only)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from web.web_helpers import Login

FILES = {
    "files": [
        {
            "path": "etl.yaml",
            "content": "format: almanac/v1\ngroups: [{name: etl}]\n"
            "tasks: [{name: load, command: 'true', group: etl}]\n",
        }
    ],
    "source": "file:defs",
    "commit": "0123456789abcdef",
}


def test_managed_objects_carry_a_badge_and_a_warning(web: TestClient, api: TestClient) -> None:
    assert api.post("/api/v1/definitions/apply", json=FILES).status_code == 200
    by_hand = api.post("/api/v1/tasks", json={"name": "manual", "command": "true"}).json()
    tasks = {t["name"]: t["tid"] for t in api.get("/api/v1/tasks").json()}
    gid = api.get("/api/v1/groups").json()[0]["gid"]

    task_page = web.get(f"/tasks/{tasks['load']}")
    assert 'data-managed-by="file:defs"' in task_page.text
    assert "managed by file:defs" in task_page.text
    assert "the next apply will overwrite an edit made here" in task_page.text
    assert "etl.yaml at 0123456789ab" in task_page.text

    plain = web.get(f"/tasks/{by_hand['tid']}")
    assert "managed by" not in plain.text

    group_page = web.get(f"/groups/{gid}")
    assert 'data-managed-by="file:defs"' in group_page.text
    group_form = web.get(f"/groups/{gid}/edit")
    assert "This group is managed by <strong>file:defs</strong>" in group_form.text


def test_the_sync_page_shows_status_to_admins_only(
    web: TestClient, api: TestClient, login: Login
) -> None:
    made = api.post(
        "/api/v1/sync",
        json={"name": "prod", "url": "https://git.invalid/r.git", "credentials": "u:hidden-tok"},
    )
    assert made.status_code == 201
    page = web.get("/sync")
    assert page.template.name == "sync/page.html"
    assert [s["name"] for s in page.context["sources"]] == ["prod"]
    assert "nothing yet" in page.text and "hidden-tok" not in page.text
    assert login("operator").get("/sync").status_code == 403


def test_the_import_panel_downloads_yaml(web: TestClient, api: TestClient) -> None:
    assert api.post("/api/v1/definitions/apply", json=FILES).status_code == 200
    panel = web.get("/tasks/import-export")
    assert 'href="/tasks/export?format=yaml"' in panel.text
    download = web.get("/tasks/export", params={"format": "yaml"})
    assert download.headers["content-disposition"].endswith('almanac-definitions.yaml"')
    assert download.text == api.get("/api/v1/export", params={"format": "yaml"}).text
    assert "- name: load\n" in download.text


def test_pull_now_from_the_sync_page(web: TestClient, api: TestClient, tmp_path: Path) -> None:
    made = api.post("/api/v1/sync", json={"name": "gone", "url": str(tmp_path / "none.git")})
    assert made.status_code == 201
    page = web.get("/sync")
    assert 'action="/sync/gone/pull"' in page.text
    csrf = page.context["session"].csrf
    pulled = web.post("/sync/gone/pull", data={"csrf_token": csrf})
    assert pulled.status_code == 200, pulled.text
    assert "gone: unreadable" in pulled.text
    assert "cannot read repository" in pulled.text
    audit = api.get("/api/v1/audit", params={"action": "sync.pull"}).json()
    assert [e["target_id"] for e in audit["items"]] == ["gone"]


def test_a_managed_calendar_carries_the_badge_and_its_form_the_warning(
    web: TestClient, api: TestClient
) -> None:
    files = {
        "files": [
            {"path": "cal/ops.yaml", "content": "format: almanac/v1\ncalendars: [{name: ops}]\n"}
        ],
        "source": "file:defs",
        "commit": "fedcba9876543210",
    }
    assert api.post("/api/v1/definitions/apply", json=files).status_code == 200
    assert api.post("/api/v1/calendars", json={"name": "manual"}).status_code == 201

    page = web.get("/calendars/ops")
    assert 'data-managed-by="file:defs"' in page.text
    assert "managed by file:defs" in page.text
    form = web.get("/calendars/ops/edit")
    assert 'data-managed-by="file:defs"' in form.text
    assert "This calendar is managed by <strong>file:defs</strong>" in form.text
    assert "cal/ops.yaml at fedcba987654" in form.text
    assert "the next apply will overwrite an edit made here" in form.text

    for plain in (web.get("/calendars/manual"), web.get("/calendars/manual/edit")):
        assert plain.status_code == 200
        assert "managed by" not in plain.text and "managed-warning" not in plain.text
