"""A calendar edit over more tasks than one chunk: the tasks due soonest are re-planned in
the edit's transaction, the rest in transactions of their own; every task ends with one
planned run off the closed day, and the timer wakes for each new time."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from support import wait_for

from app.scheduler import calendar_replan
from app.scheduler.service import SchedulerService

TASKS = "/api/v1/tasks"


def _wake_ups(api: TestClient) -> list[datetime]:
    scheduler: SchedulerService = api.app.state.context.scheduler  # type: ignore[attr-defined]
    return scheduler.wake_ups()


def test_every_task_moves_chunk_by_chunk(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calendar_replan, "CHUNK", 2)
    assert api.post("/api/v1/calendars", json={"name": "plant"}).status_code == 201
    tasks = []
    for hour in (9, 6, 8, 5, 7):  # created out of time order: chunks go soonest first
        schedule = {"kind": "times", "times": [f"{hour:02d}:13"], "calendar": "plant"}
        response = api.post(
            TASKS, json={"name": f"shift-{hour}", "command": "true", "schedule": schedule}
        )
        assert response.status_code == 201, response.text
        tasks.append(response.json())
    first = min(datetime.fromisoformat(t["next_fire_time"]) for t in tasks)
    wait_for(lambda: first in _wake_ups(api), timeout=10)
    closed = first.date().isoformat()
    assert all(t["next_fire_time"].startswith(closed) for t in tasks)

    edited = api.patch("/api/v1/calendars/plant", json={"extra_dates": [closed]})
    assert edited.status_code == 200, edited.text
    for task in tasks:
        moved = api.get(f"{TASKS}/{task['tid']}").json()
        assert moved["next_fire_time"] > task["next_fire_time"]
        assert not moved["next_fire_time"].startswith(closed)
        idle = api.get("/api/v1/runs", params={"status": "IDLE", "task": task["tid"]}).json()
        assert [r["trigger_time"] for r in idle["items"]] == [moved["next_fire_time"]]
        at = datetime.fromisoformat(moved["next_fire_time"])
        wait_for(lambda at=at: at in _wake_ups(api), timeout=10)
