"""Edits reach the scheduler's timer as committed events: a task created or edited, a
calendar changed, gets its wake-up at its next occurrence without any reload of the timers."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from support import wait_for

from app.scheduler.service import SchedulerService

TASKS = "/api/v1/tasks"


def _scheduler(api: TestClient) -> SchedulerService:
    scheduler: SchedulerService = api.app.state.context.scheduler  # type: ignore[attr-defined]
    return scheduler


def _task(api: TestClient, name: str, schedule: dict[str, object]) -> dict[str, object]:
    response = api.post(TASKS, json={"name": name, "command": "true", "schedule": schedule})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _woken_at(api: TestClient, task: dict[str, object]) -> None:
    at = datetime.fromisoformat(str(task["next_fire_time"]))
    wait_for(lambda: at in _scheduler(api).wake_ups(), timeout=10)


def _timers_loaded(api: TestClient) -> None:
    """The leader has built its timers from the database: what follows is heard as events."""
    _woken_at(api, _task(api, "first", {"kind": "cron", "cron": "0 3 * * *"}))


def test_a_created_and_an_edited_task_wake_the_timer_at_their_next_occurrence(
    api: TestClient,
) -> None:
    _timers_loaded(api)
    task = _task(api, "nightly", {"kind": "cron", "cron": "17 4 * * *"})
    _woken_at(api, task)
    edited = api.patch(
        f"{TASKS}/{task['tid']}", json={"schedule": {"kind": "cron", "cron": "41 5 * * *"}}
    )
    assert edited.status_code == 200, edited.text
    _woken_at(api, edited.json())


def test_a_calendar_edit_moves_the_timers_of_the_tasks_that_use_it(api: TestClient) -> None:
    _timers_loaded(api)
    created = api.post("/api/v1/calendars", json={"name": "plant"})
    assert created.status_code == 201, created.text
    task = _task(api, "shift", {"kind": "times", "times": ["06:13"], "calendar": "plant"})
    _woken_at(api, task)
    closed = str(task["next_fire_time"])[:10]
    edited = api.patch("/api/v1/calendars/plant", json={"extra_dates": [closed]})
    assert edited.status_code == 200, edited.text
    moved = api.get(f"{TASKS}/{task['tid']}").json()
    assert moved["next_fire_time"] != task["next_fire_time"]
    _woken_at(api, moved)
