"""Late starts found by the periodic check (a frozen clock moves, nothing sleeps), and one
alert end to end: a real agent runs a failing command, a signed webhook arrives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import LiveServer, seed_user, wait_for

from app.alerts.senders import SIGNATURE_HEADER, signature
from app.alerts.service import AlertService
from app.clock import FrozenClock
from app.server import create_app
from app.settings import Settings

API = "/api/v1"


@pytest.fixture
def frozen_api(
    alert_engine: Engine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, local_agent=False)
    token = seed_user(alert_engine)
    app = create_app(settings, engine=alert_engine, clock=clock)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        app.state.alerts.poll_seconds = 0.05
        yield client


def test_a_run_not_started_in_time_raises_late_start_once(
    frozen_api: TestClient, clock: FrozenClock, webhook: Any
) -> None:
    api = frozen_api
    service: AlertService = api.app.state.alerts  # type: ignore[attr-defined]
    iid = api.post(
        f"{API}/integrations", json={"name": "h", "kind": "webhook", "config": {"url": webhook.url}}
    ).json()["id"]
    solo = api.post(
        f"{API}/tasks", json={"name": "solo", "command": "true", "target": "offline-box"}
    ).json()["tid"]
    member = api.post(
        f"{API}/tasks", json={"name": "member", "command": "true", "target": "offline-box"}
    ).json()["tid"]
    gid = api.post(f"{API}/groups", json={"name": "g", "tasks": [member]}).json()["gid"]
    for target in ({"task": solo}, {"group": gid}):
        assert (
            api.post(
                f"{API}/alerts",
                json={**target, "events": ["late_start"], "late_minutes": 5, "integration": iid},
            ).status_code
            == 201
        )
    solo_run = api.post(f"{API}/tasks/{solo}/run").json()["id"]
    assert api.post(f"{API}/groups/{gid}/run").status_code == 201
    assert service.check_late() == 0
    clock.advance(timedelta(minutes=4, seconds=59))
    assert service.check_late() == 0
    clock.advance(timedelta(seconds=2))
    assert service.check_late() == 2
    assert service.check_late() == 0
    got = wait_for(lambda: webhook.received if len(webhook.received) == 2 else None)
    bodies = sorted((r.json() for r in got), key=lambda b: b["run"]["id"])
    assert [b["event"] for b in bodies] == ["late_start", "late_start"]
    assert bodies[0]["run"]["id"] == solo_run
    assert "has not started 5 minutes after its trigger time" in bodies[0]["text"]
    assert {b["run"]["task_name"] for b in bodies} == {"solo", "member"}


def test_a_failing_command_on_a_real_agent_sends_a_signed_webhook(
    agent_ready: LiveServer, webhook: Any
) -> None:
    with agent_ready.client() as http:
        iid = http.post(
            "/integrations",
            json={
                "name": "hook",
                "kind": "webhook",
                "config": {"url": webhook.url},
                "secret": "shared-secret",
            },
        ).json()["id"]
        tid = http.post("/tasks", json={"name": "broken", "command": "echo no; exit 3"}).json()[
            "tid"
        ]
        http.post(
            "/alerts",
            json={"task": tid, "events": ["failed", "retries exhausted"], "integration": iid},
        )
        run_id = http.post(f"/tasks/{tid}/run").json()["id"]
        got = wait_for(lambda: webhook.received if len(webhook.received) == 2 else None, timeout=60)
        for request in got:
            assert request.headers[SIGNATURE_HEADER] == signature("shared-secret", request.body)
            assert request.json()["run"]["exit_code"] == 3
        assert sorted(r.json()["event"] for r in got) == ["failed", "retries_exhausted"]
        log = wait_for(lambda: _all_sent(http, run_id), timeout=30)
        assert {d["event"] for d in log} == {"failed", "retries_exhausted"}


def _all_sent(http: httpx.Client, run_id: int) -> list[dict[str, Any]] | None:
    log: list[dict[str, Any]] = http.get(f"/runs/{run_id}/alerts").json()
    return log if log and all(d["status"] == "sent" for d in log) else None
