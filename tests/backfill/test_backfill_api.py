"""The backfill REST API on both databases: the preview, every bad field a 422 naming it
with nothing stored, the confirmation threshold, roles and instances, progress and list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import select
from support import seed_user

from app.db.backfill_tables import Backfill, BackfillDate
from app.db.engine import make_engine, session_scope
from app.server import create_app
from app.settings import Settings

API = "/api/v1"
SCHEDULE = {"kind": "times", "times": ["09:00"], "days": "mon-fri", "calendar": "de"}


class Api:
    def __init__(self, client: TestClient, engine: Engine) -> None:
        self.client, self.engine = client, engine
        self.tokens: dict[str, str] = {}

    def as_(self, role: str, instances: list[str] | None = None) -> dict[str, str]:
        key = f"{role}:{instances}"
        if key not in self.tokens:
            name = f"{role}-{len(self.tokens)}"
            self.tokens[key] = seed_user(self.engine, name, role=role, instances=instances)
        return {"Authorization": f"Bearer {self.tokens[key]}"}

    def post(self, path: str, body: Any = None, role: str = "operator", **kw: Any) -> Any:
        return self.client.post(f"{API}{path}", json=body, headers=self.as_(role, **kw))

    def get(self, path: str, role: str = "operator", **kw: Any) -> Any:
        return self.client.get(f"{API}{path}", headers=self.as_(role, **kw))

    def stored(self) -> int:
        with session_scope(self.engine) as session:
            backfills = session.exec(select(func.count()).select_from(Backfill)).one()
            dates = session.exec(select(func.count()).select_from(BackfillDate)).one()
            return int(backfills) + int(dates)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, local_agent=False, backfill_confirm_dates=30
    )
    engine = make_engine(database_url)
    with TestClient(create_app(settings, engine=engine, start_scheduler=False)) as client:
        api = Api(client, engine)
        calendar = {"name": "de", "country": "DE", "skip_weekends": True}
        client.post(f"{API}/calendars", json=calendar, headers=api.as_("admin"))
        yield api
    engine.dispose()


def _task(api: Api, name: str = "load", instance: str = "default") -> int:
    body = {"name": name, "command": "true", "schedule": SCHEDULE, "instance": instance}
    answer = api.post("/tasks", body, role="admin")
    assert answer.status_code == 201, answer.text
    return int(answer.json()["tid"])


def _group(api: Api) -> int:
    answer = api.post("/groups", {"name": "nightly", "schedule": SCHEDULE}, role="admin")
    assert answer.status_code == 201, answer.text
    return int(answer.json()["gid"])


def test_a_dry_run_lists_every_date_with_holidays_by_name_and_stores_nothing(api: Api) -> None:
    gid = _group(api)
    answer = api.post(
        f"/groups/{gid}/backfill", {"start": "2026-04-01", "end": "2026-04-30", "dry_run": True}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["id"], body["status"], body["total"], body["run_count"]) == (
        None,
        "dry_run",
        30,
        20,
    )
    reasons = {d["date"]: d["reason"] for d in body["dates"] if d["action"] == "skip"}
    assert reasons["2026-04-03"] == "holiday: Good Friday"
    assert reasons["2026-04-06"] == "holiday: Easter Monday"
    assert reasons["2026-04-04"] == "weekend"
    assert api.stored() == 0


def test_a_backfill_is_stored_and_shows_its_progress_and_is_listed(api: Api) -> None:
    tid = _task(api)
    body = {"start": "2026-04-27", "end": "2026-05-01", "max_concurrent": 2, "order": "newest"}
    answer = api.post(f"/tasks/{tid}/backfill", body)
    assert answer.status_code == 200, answer.text
    made = answer.json()
    assert made["status"] == "running" and made["id"] is not None
    # May 1st is Labour Day in Germany
    assert [d["date"] for d in made["dates"] if d["action"] == "run"] == [
        "2026-04-30",
        "2026-04-29",
        "2026-04-28",
        "2026-04-27",
    ]
    shown = api.get(f"/backfills/{made['id']}", role="viewer").json()
    assert shown["progress"] == {"pending": 4}
    assert shown["dates"][0]["state"] == "skipped"
    listed = api.get("/backfills", role="viewer").json()
    assert [b["id"] for b in listed] == [made["id"]] and listed[0]["dates"] == []


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start": "2026-04-02", "end": "2026-04-01"}, "end"),
        ({"start": "2026-04-01", "end": "2026-04-02", "mode": "some"}, "mode"),
        ({"start": "2026-04-01", "end": "2026-04-02", "order": "random"}, "order"),
        ({"start": "2026-04-01", "end": "2026-04-02", "max_concurrent": 0}, "max_concurrent"),
        ({"start": "2026-04-01", "end": "2026-04-02", "params": {"region": "eu"}}, "params.region"),
        ({"start": "2026-13-01", "end": "2026-04-02"}, "start"),
        ({"start": "2026-04-01", "end": "2026-04-02", "colour": "red"}, "colour"),
    ],
)
def test_every_bad_field_is_a_422_naming_it_and_nothing_is_stored(
    api: Api, body: dict[str, Any], field: str
) -> None:
    tid = _task(api)
    answer = api.post(f"/tasks/{tid}/backfill", body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith(f"{field}: "), answer.text
    assert api.stored() == 0


def test_more_dates_than_the_threshold_need_confirm(api: Api) -> None:
    tid = _task(api)
    body = {"start": "2026-01-01", "end": "2026-03-31"}  # 64 weekdays but New Year: 63 > 30
    refused = api.post(f"/tasks/{tid}/backfill", body)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("confirm: 63 dates would run, more than 30")
    assert api.stored() == 0
    assert api.post(f"/tasks/{tid}/backfill", {**body, "dry_run": True}).status_code == 200
    confirmed = api.post(f"/tasks/{tid}/backfill", {**body, "confirm": True})
    assert confirmed.status_code == 200 and confirmed.json()["run_count"] == 63


def test_roles_viewer_previews_user_waits_operator_starts(api: Api) -> None:
    tid = _task(api)
    body = {"start": "2026-04-27", "end": "2026-04-28"}
    assert api.post(f"/tasks/{tid}/backfill", body, role="viewer").status_code == 403
    preview = api.post(f"/tasks/{tid}/backfill", {**body, "dry_run": True}, role="viewer")
    assert preview.status_code == 200
    assert api.stored() == 0
    submitted = api.post(f"/tasks/{tid}/backfill", body, role="user").json()
    assert submitted["status"] == "pending_approval"
    backfill = submitted["id"]
    assert api.post(f"/backfills/{backfill}/approve", role="user").status_code == 403
    # the user may pause or cancel their own backfill, not approve it
    approved = api.post(f"/backfills/{backfill}/approve", {"comment": "fine"})
    assert approved.json()["status"] == "running"
    assert api.post(f"/backfills/{backfill}/approve").status_code == 409
    assert api.post(f"/backfills/{backfill}/resume").status_code == 409
    other = api.post(f"/tasks/{tid}/backfill", body, role="operator").json()["id"]
    assert api.post(f"/backfills/{other}/pause", role="user").status_code == 403
    assert api.post(f"/backfills/{other}/pause").json()["status"] == "paused"
    assert api.post(f"/backfills/{other}/cancel").json()["status"] == "cancelled"
    assert api.post(f"/backfills/{other}/resume").status_code == 409


def test_instances_bound_what_a_caller_sees_and_starts(api: Api) -> None:
    mine = _task(api, "mine", "blue")
    theirs = _task(api, "theirs", "red")
    body = {"start": "2026-04-27", "end": "2026-04-28"}
    scoped = {"instances": ["blue"]}
    assert api.post(f"/tasks/{theirs}/backfill", body, **scoped).status_code == 404
    assert api.post(f"/tasks/{mine}/backfill", body, **scoped).status_code == 200
    red = api.post(f"/tasks/{theirs}/backfill", body).json()["id"]
    assert api.get(f"/backfills/{red}", **scoped).status_code == 404
    assert api.post(f"/backfills/{red}/cancel", **scoped).status_code == 404
    assert [b["name"] for b in api.get("/backfills", **scoped).json()] == ["mine"]
