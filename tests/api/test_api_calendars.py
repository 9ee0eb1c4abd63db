"""Calendars through the API: validation, closed days, re-planning on edit; task freezes."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _task_on(api: TestClient, calendar: str) -> dict[str, object]:
    response = api.post(
        "/api/v1/tasks",
        json={
            "name": "payroll",
            "command": "true",
            "schedule": {
                "kind": "times",
                "times": ["09:00"],
                "timezone": "Europe/Berlin",
                "calendar": calendar,
            },
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_with_holidays_and_list_closed_days(api: TestClient) -> None:
    created = api.post(
        "/api/v1/calendars",
        json={
            "name": "bavaria",
            "country": "DE",
            "subdivision": "BY",
            "skip_weekends": True,
            "extra_dates": ["2026-12-31"],
            "working_dates": ["2026-01-06"],
        },
    )
    assert created.status_code == 201, created.text
    days = {
        d["date"]: d["reason"]
        for d in api.get("/api/v1/calendars/bavaria/closed", params={"year": 2026}).json()
    }
    assert days["2026-12-25"].startswith("holiday")
    assert days["2026-12-31"] == "closed: extra date"
    assert days["2026-01-03"] == "weekend"
    assert "2026-01-06" not in days  # Epiphany, declared a working day


def test_unknown_country_or_subdivision_is_refused(api: TestClient) -> None:
    bad_country = api.post("/api/v1/calendars", json={"name": "x", "country": "XX"})
    assert bad_country.status_code == 422 and bad_country.json()["detail"].startswith("country")
    bad_sub = api.post(
        "/api/v1/calendars", json={"name": "x", "country": "DE", "subdivision": "ZZ"}
    )
    assert bad_sub.status_code == 422 and bad_sub.json()["detail"].startswith("subdivision")
    bad_date = api.post("/api/v1/calendars", json={"name": "x", "extra_dates": ["2026-02-30"]})
    assert bad_date.status_code == 422 and "extra_dates" in bad_date.json()["detail"]
    assert api.get("/api/v1/calendars").json() == []


def test_editing_a_calendar_replans_the_tasks_that_use_it(api: TestClient) -> None:
    api.post("/api/v1/calendars", json={"name": "ops"})
    task = _task_on(api, "ops")
    first = task["next_fire_time"]
    assert isinstance(first, str)
    closed_day = first[:10]
    response = api.patch("/api/v1/calendars/ops", json={"extra_dates": [closed_day]})
    assert response.status_code == 200 and response.json()["used_by"] == ["payroll"]
    replanned = api.get(f"/api/v1/tasks/{task['tid']}").json()["next_fire_time"]
    assert replanned > first and not replanned.startswith(closed_day)
    skipped = api.get("/api/v1/runs", params={"task": task["tid"], "status": "SKIPPED"}).json()
    assert [r["reason"] for r in skipped["items"]] == ["skipped: calendar (closed: extra date)"]


def test_a_calendar_in_use_cannot_be_deleted(api: TestClient) -> None:
    api.post("/api/v1/calendars", json={"name": "ops"})
    _task_on(api, "ops")
    response = api.delete("/api/v1/calendars/ops")
    assert response.status_code == 409 and "payroll" in response.json()["detail"]


def test_freeze_and_unfreeze_a_date(api: TestClient) -> None:
    tid = api.post("/api/v1/tasks", json={"name": "f", "command": "true"}).json()["tid"]
    created = api.post(
        f"/api/v1/tasks/{tid}/freezes", json={"date": "2026-12-24", "reason": "holiday freeze"}
    )
    assert created.status_code == 201
    again = api.post(f"/api/v1/tasks/{tid}/freezes", json={"date": "2026-12-24"})
    assert again.status_code == 409
    listed = api.get(f"/api/v1/tasks/{tid}/freezes").json()
    assert listed == [{"date": "2026-12-24", "reason": "holiday freeze", "created_by": "admin"}]
    assert api.delete(f"/api/v1/tasks/{tid}/freezes/2026-12-24").status_code == 204
    assert api.get(f"/api/v1/tasks/{tid}/freezes").json() == []
