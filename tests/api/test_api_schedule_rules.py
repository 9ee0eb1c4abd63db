"""Schedule rules through the API: never-fires and non-IANA zones refused naming the field
(nothing stored), several schedules and blackouts stored, exported and forecast, DST notes
on forecast items. The app runs on an injected clock (2026-06-01)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import migrated_sqlite, seed_user

from app.clock import FrozenClock
from app.db.engine import make_engine
from app.server import create_app
from app.settings import Settings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CRON = {"kind": "cron", "cron": "0 8 * * *", "timezone": "Europe/London"}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite alone: these rules are the domain's, and a refused save stores nothing on
    either backend by the same transaction code (walked on PostgreSQL by the task and group
    API tests)."""
    return migrated_sqlite(tmp_path / "almanac.db")


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=database_url, local_agent=False)
    engine = make_engine(database_url)
    token = seed_user(engine)
    app = create_app(settings, engine=engine, clock=FrozenClock(NOW))
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
    engine.dispose()


def _task(**fields: Any) -> dict[str, Any]:
    return {"name": "t", "command": "true", **fields}


REFUSED = [
    # no future occurrence in the next 8 years
    ({"schedule": {"kind": "once", "at": "2026-05-31T09:00:00"}}, "schedule.at"),
    ({"schedule": {"kind": "once", "at": "2026-06-01T11:59:00+00:00"}}, "schedule.at"),
    ({"schedule": {"kind": "cron", "cron": "0 0 30 2 *"}}, "schedule.cron"),
    ({"schedule": {"kind": "cron", "cron": "0 0 0 1 1 ? 2020-2025"}}, "schedule.cron"),
    ({"schedule": {**CRON, "end_date": "2026-05-31"}}, "schedule.end_date"),
    ({"schedule": CRON, "schedules": [{"kind": "cron", "cron": "0 0 31 4 *"}]},
     "schedules[0].cron"),
    # only IANA names (and tzdata's aliases)
    *[
        ({"schedule": {**CRON, "timezone": zone}}, "timezone")
        for zone in ["localtime", "Factory", "posixrules", "posix/Europe/London", "right/UTC"]
    ],
    # extra schedules need a main one; each one is checked
    ({"schedules": [CRON]}, "schedules"),
    ({"schedule": CRON, "schedules": [{"kind": "cron", "cron": "0 25 * * *"}]}, "cron"),
    # blackouts
    ({"schedule": CRON, "blackouts": [{"name": "x", "start_date": "2026-07-01"}]}, "end_date"),
    ({"schedule": CRON, "blackouts": [{"name": "x", "start": "22:00"}]}, "end"),
    ({"schedule": CRON, "blackouts": [{"name": "x", "start": "22:00", "end": "22:00"}]}, "end"),
    ({"schedule": CRON, "blackouts": [{"name": "x", "start": "25:00", "end": "02:00"}]}, "start"),
    ({"schedule": CRON, "blackouts": [{"name": "x"}]}, "start_date"),
    ({"schedule": CRON, "blackouts": [{"name": "", "start_date": "2026-07-01",
                                       "end_date": "2026-07-02"}]}, "name"),
    ({"schedule": CRON, "blackouts": [{"name": "x", "start": "01:00", "end": "02:00",
                                       "days": "last fri"}]}, "days"),
    ({"schedule": CRON, "blackouts": [{"name": "x", "start": "01:00", "end": "02:00",
                                       "timezone": "localtime"}]}, "timezone"),
    ({"schedule": CRON, "blackouts": [
        {"name": "x", "start": "01:00", "end": "02:00"},
        {"name": "x", "start": "03:00", "end": "04:00"},
    ]}, "blackouts[1].name"),
    ({"schedule": {**CRON, "dst_fold": "last"}}, "dst_fold"),
    ({"schedule": {**CRON, "dst_gap": "never"}}, "dst_gap"),
    ({"schedule": {**CRON, "dst_interval": "sometimes"}}, "dst_interval"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "named"), REFUSED)
def test_refusals_name_the_field_and_store_nothing(
    api: TestClient, fields: dict[str, Any], named: str
) -> None:
    for path in ("/api/v1/tasks", "/api/v1/groups"):
        body = _task(**fields) if path.endswith("tasks") else {"name": "g", **fields}
        response = api.post(path, json=body)
        assert response.status_code == 422, response.text
        assert named in response.json()["detail"], response.json()["detail"]
        assert api.get(path).json() == []


def test_a_patch_to_a_past_once_is_refused_and_keeps_the_live_schedule(api: TestClient) -> None:
    tid = api.post("/api/v1/tasks", json=_task(schedule=CRON)).json()["tid"]
    before = api.get(f"/api/v1/tasks/{tid}").json()
    response = api.patch(
        f"/api/v1/tasks/{tid}", json={"schedule": {"kind": "once", "at": "2026-01-01T00:00:00"}}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("schedule.at: 2026-01-01T00:00:00 is not in")
    after = api.get(f"/api/v1/tasks/{tid}").json()
    assert after["schedule"] == before["schedule"]
    assert after["next_fire_time"] == before["next_fire_time"] is not None


def test_tzdata_aliases_are_accepted(api: TestClient) -> None:
    for number, zone in enumerate(["US/Eastern", "Asia/Calcutta", "UTC", "Etc/GMT+5"]):
        body = _task(name=f"t{number}", schedule={**CRON, "timezone": zone})
        assert api.post("/api/v1/tasks", json=body).status_code == 201


def test_several_schedules_and_a_blackout_in_the_forecast(api: TestClient) -> None:
    body = _task(
        schedule={"kind": "cron", "cron": "0 8 * * *", "timezone": "Europe/London"},
        schedules=[
            {"kind": "times", "times": ["08:00", "18:00"], "timezone": "Europe/London"},
        ],
        blackouts=[{"name": "summer break", "start_date": "2026-06-03", "end_date": "2026-06-03"}],
    )
    created = api.post("/api/v1/tasks", json=body)
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["schedules"] == [
        {"kind": "times", "times": ["08:00", "18:00"], "timezone": "Europe/London"}
    ]
    assert task["blackouts"] == [
        {"name": "summer break", "start_date": "2026-06-03", "end_date": "2026-06-03"}
    ]
    forecast = api.get(
        f"/api/v1/tasks/{task['tid']}/forecast",
        params={"count": 4, "after": "2026-06-02T00:00:00+00:00"},
    ).json()
    assert [o["local"] for o in forecast["occurrences"]] == [
        "2026-06-02T08:00:00+01:00",  # both schedules name it: it fires once
        "2026-06-02T18:00:00+01:00",
        "2026-06-04T08:00:00+01:00",
        "2026-06-04T18:00:00+01:00",
    ]
    assert [(s["local"], s["reason"], s["kind"]) for s in forecast["skipped"]] == [
        ("2026-06-03T08:00:00+01:00", "blackout: summer break", "blackout"),
        ("2026-06-03T18:00:00+01:00", "blackout: summer break", "blackout"),
    ]
    cleared = api.patch(f"/api/v1/tasks/{task['tid']}", json={"schedules": [], "blackouts": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["schedules"] == [] and cleared.json()["blackouts"] == []


def test_the_forecast_marks_what_dst_moved_and_dropped(api: TestClient) -> None:
    tid = api.post(
        "/api/v1/tasks",
        json=_task(schedule={"kind": "times", "times": ["01:30"], "timezone": "Europe/London"}),
    ).json()["tid"]
    body = api.get(
        f"/api/v1/tasks/{tid}/forecast", params={"count": 2, "after": "2026-10-24T12:00:00+00:00"}
    ).json()
    assert [(o["local"], o["note"]) for o in body["occurrences"]] == [
        ("2026-10-25T01:30:00+01:00", None),
        ("2026-10-26T01:30:00Z", None),
    ]
    assert [(s["local"], s["kind"], s["at"]) for s in body["skipped"]] == [
        ("2026-10-25T01:30:00Z", "dst", "2026-10-25T01:30:00Z")
    ]
    assert body["skipped"][0]["reason"] == (
        "DST fold: 01:30 occurs twice, second pass not fired (dst_fold: first)"
    )


def test_groups_carry_schedules_and_blackouts(api: TestClient) -> None:
    created = api.post(
        "/api/v1/groups",
        json={
            "name": "g",
            "schedule": CRON,
            "schedules": [{"kind": "cron", "cron": "0 20 * * *", "timezone": "Europe/London"}],
            "blackouts": [{"name": "nights", "start": "19:00", "end": "21:00", "days": "tue"}],
        },
    )
    assert created.status_code == 201, created.text
    gid = created.json()["gid"]
    forecast = api.get(
        f"/api/v1/groups/{gid}/forecast", params={"count": 3, "after": "2026-06-01T12:00:00+00:00"}
    ).json()
    assert [o["local"] for o in forecast["occurrences"]] == [
        "2026-06-01T20:00:00+01:00",
        "2026-06-02T08:00:00+01:00",
        "2026-06-03T08:00:00+01:00",
    ]
    assert [s["reason"] for s in forecast["skipped"]] == ["blackout: nights"]
