"""Tasks & Groups: the list, the task form (create, edit, refusals on their fields, delete,
force run) and the schedule builder's live preview."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from web.web_helpers import Login

FORM = {
    "name": "nightly-report",
    "command": "echo report",
    "active": "on",
    "instance": "default",
    "concurrency": "allow",
    "misfire": "run_once",
    "retry_attempts": "2",
    "sched_kind": "times",
    "sched_times": "09:00, 13:30",
    "sched_days": "mon-fri",
    "sched_timezone": "Europe/Berlin",
    "gpus": "",
    "env": "A=1",
}


def _task(api: TestClient, name: str, **fields: object) -> int:
    response = api.post("/api/v1/tasks", json={"name": name, "command": "true", **fields})
    assert response.status_code == 201, response.text
    return int(response.json()["tid"])


def test_page_lists_tasks_and_groups_with_filters(web: TestClient, api: TestClient) -> None:
    a = _task(api, "alpha")
    _task(api, "beta", active=False)
    api.post("/api/v1/groups", json={"name": "etl", "tasks": [a]})
    page = web.get("/tasks")
    assert page.template.name == "tasks/page.html"
    assert page.context["panel"] == "tasks/_panel_empty.html"
    assert [t["name"] for t in page.context["list"].rows] == ["alpha", "beta"]
    assert page.context["list"].group_names == {1: "etl"}
    fragment = web.get("/tasks?active=false", headers={"HX-Request": "true"})
    assert fragment.template.name == "tasks/_list.html"
    assert [t["name"] for t in fragment.context["list"].rows] == ["beta"]
    assert [t["name"] for t in web.get("/tasks?q=alp").context["list"].rows] == ["alpha"]
    groups = web.get("/tasks?tab=groups").context["list"]
    assert [g["name"] for g in groups.rows] == ["etl"] and 'href="/groups/1"' in web.get(
        "/tasks?tab=groups"
    ).text


def test_new_task_form_and_panel_fragment(web: TestClient) -> None:
    page = web.get("/tasks/new")
    assert page.template.name == "tasks/page.html"
    assert page.context["panel"] == "tasks/_task_form.html"
    assert page.context["values"]["sched_kind"] == ""  # no live schedule by default
    panel = web.get("/tasks/new", headers={"HX-Request": "true"})
    assert panel.template.name == "tasks/_task_form.html"
    assert 'name="sched_kind" value="frequency"' in panel.text
    assert "Europe/Berlin" in panel.text  # the timezone picker's choices


def test_a_blank_new_task_saves_no_schedule(web: TestClient, api: TestClient) -> None:
    blank = dict(web.get("/tasks/new").context["values"])
    blank.update(name="plain", command="true")
    response = web.post("/tasks", data=blank, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text
    tid = response.context["task"]["tid"]
    task = api.get(f"/api/v1/tasks/{tid}").json()
    assert task["schedule"] is None
    assert task["next_fire_time"] is None


def test_create_through_the_form(web: TestClient, api: TestClient) -> None:
    response = web.post("/tasks", data=FORM, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text
    assert response.template.name == "tasks/_task_form.html"
    tid = response.context["task"]["tid"]
    assert response.headers["HX-Push-Url"] == f"/tasks/{tid}"
    assert json.loads(response.headers["HX-Trigger"])["tasks-changed"] is True
    task = api.get(f"/api/v1/tasks/{tid}").json()
    assert task["schedule"] == {
        "kind": "times",
        "times": ["09:00", "13:30"],
        "days": "mon-fri",
        "timezone": "Europe/Berlin",
    }
    assert task["retry_attempts"] == 2 and task["env"] == {"A": "1"} and task["active"]


def test_refusals_land_on_their_fields(web: TestClient, api: TestClient) -> None:
    bad_cron = web.post("/tasks", data={**FORM, "sched_kind": "cron", "sched_cron": "61 * * * *"})
    assert bad_cron.status_code == 422
    assert "minute" in bad_cron.context["errors"]["sched_cron"]
    assert 'aria-invalid="true"' in bad_cron.text
    assert bad_cron.context["values"]["sched_cron"] == "61 * * * *"  # kept as typed
    not_number = web.post("/tasks", data={**FORM, "cpus": "lots", "gpus": "x"})
    assert not_number.status_code == 422
    assert set(not_number.context["errors"]) == {"cpus", "gpus"}
    _task(api, "nightly-report")
    clash = web.post("/tasks", data=FORM)
    assert clash.status_code == 409 and "already exists" in clash.context["errors"]["name"]


def test_edit_delete_and_force_run(login: Login, api: TestClient) -> None:
    tid = _task(api, "job", schedule={"kind": "cron", "cron": "0 8 * * *"})
    operator = login("operator")
    form = operator.get(f"/tasks/{tid}")
    assert form.context["values"]["sched_cron"] == "0 8 * * *"
    assert form.context["values"]["active"] == "on"
    changed = operator.post(
        f"/tasks/{tid}", data={**form.context["values"], "sched_cron": "30 9 * * 1-5"}
    )
    assert changed.status_code == 200, changed.text
    assert api.get(f"/api/v1/tasks/{tid}").json()["schedule"]["cron"] == "30 9 * * 1-5"
    run = operator.post(f"/tasks/{tid}/run")
    assert run.status_code == 204
    toast = json.loads(run.headers["HX-Trigger"])["toast"]
    assert toast["href"].startswith("/task-runs/") and toast["text"].startswith("Run #")
    gone = operator.post(f"/tasks/{tid}/delete")
    assert gone.template.name == "tasks/_panel_empty.html"
    assert api.get(f"/api/v1/tasks/{tid}").status_code == 404


def test_viewer_sees_a_read_only_form(login: Login, api: TestClient) -> None:
    tid = _task(api, "job")
    viewer = login("viewer")
    page = viewer.get(f"/tasks/{tid}")
    assert '<fieldset class="plain" disabled>' in page.text
    assert "Save changes" not in page.text and "Force run" not in page.text
    assert "New task" not in viewer.get("/tasks").text
    refused = viewer.post(f"/tasks/{tid}", data=FORM)
    assert refused.status_code == 403


def test_schedule_preview_shows_next_five_or_the_error(web: TestClient, api: TestClient) -> None:
    ok = web.get(
        "/tasks/schedule-preview",
        params={
            "sched_kind": "cron",
            "sched_cron": "30 8 * * 1-5",
            "sched_timezone": "Europe/Berlin",
        },
    )
    assert ok.template.name == "tasks/_preview.html"
    preview = ok.context["preview"]
    assert len(preview.occurrences) == 5 and not preview.errors
    assert all(
        o.local.weekday() < 5 and (o.local.hour, o.local.minute) == (8, 30)
        for o in preview.occurrences
    )
    assert preview.words == "At 08:30, Monday through Friday"
    bad = web.get(
        "/tasks/schedule-preview",
        params={
            "sched_kind": "frequency",
            "sched_every": "15",
            "sched_window_start": "18:00",
            "sched_window_end": "08:00",
        },
    )
    assert set(bad.context["preview"].errors) == {"sched_window_end"}
    assert 'id="err-sched_window_end" hx-swap-oob="true" class="field-error"' in bad.text
    tz = web.get(
        "/tasks/schedule-preview",
        params={
            "sched_kind": "once",
            "sched_at": "2030-01-01T10:00",
            "sched_timezone": "Mars/Base",
        },
    )
    assert "sched_timezone" in tz.context["preview"].errors
    cal = web.get(
        "/tasks/schedule-preview",
        params={"sched_kind": "times", "sched_times": "09:00", "sched_calendar": "nope"},
    )
    assert cal.context["preview"].errors == {"sched_calendar": "unknown calendar 'nope'"}
    none = web.get("/tasks/schedule-preview", params={"sched_kind": ""})
    assert none.context["preview"].empty


def test_tasks_of_a_frozen_group_look_frozen(web: TestClient, api: TestClient) -> None:
    tid = api.post("/api/v1/tasks", json={"name": "inside", "command": "true"}).json()["tid"]
    api.post("/api/v1/groups", json={"name": "paused-etl", "tasks": [tid], "active": False})
    page = web.get("/tasks", params={"tab": "tasks"})
    row = page.text.split(f'id="task-row-{tid}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-state="frozen"' in row
    assert 'title="frozen with its group"' in row
    assert page.context["list"].task_state({"group": None, "active": True}) == "active"


def test_schedule_preview_merges_extra_schedules_and_skips_blackouts(
    web: TestClient, api: TestClient
) -> None:
    params = {
        "sched_kind": "cron",
        "sched_cron": "0 8 * * *",
        "sched_timezone": "Europe/London",
        "extra_schedules": "0 18 * * *",
        "blackouts": '{"name": "evenings", "start": "17:00", "end": "19:00", "days": "sat,sun"}',
    }
    preview = web.get("/tasks/schedule-preview", params=params).context["preview"]
    assert not preview.errors and len(preview.occurrences) == 5
    hours = {o.local.hour for o in preview.occurrences}
    assert hours == {8, 18}
    assert all(o.local.weekday() < 5 for o in preview.occurrences if o.local.hour == 18)
    bad = web.get(
        "/tasks/schedule-preview",
        params={**params, "extra_schedules": "0 8 * *", "blackouts": '{"name": "x"}'},
    )
    assert set(bad.context["preview"].errors) == {"extra_schedules"}
    assert 'id="err-extra_schedules" hx-swap-oob="true" class="field-error"' in bad.text
    bad_cut = web.get("/tasks/schedule-preview", params={**params, "blackouts": '{"name": "x"}'})
    assert bad_cut.context["preview"].errors == {
        "blackouts": "line 1: start_date: give a date range (start_date, end_date) or a window"
    }
