"""The backfills list: status and progress of each, cancel from the list, filters; roles and
instance scopes as on GET /backfills and the backfill controls."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support import seed_user
from web.web_helpers import Login, sign_in

LIST = {"HX-Request": "true", "HX-Target": "backfill-list"}


def _backfill(api: TestClient, name: str, instance: str) -> int:
    group = {"name": name, "instance": instance, "schedule": {"kind": "cron", "cron": "0 9 * * *"}}
    gid = api.post("/api/v1/groups", json=group).json()["gid"]
    body = {"start": "2026-04-01", "end": "2026-04-05", "max_concurrent": 1}
    made = api.post(f"/api/v1/groups/{gid}/backfill", json=body)
    assert made.status_code in (200, 201), made.text
    return int(made.json()["id"])


def test_the_list_shows_progress_and_cancels(web: TestClient, api: TestClient) -> None:
    first = _backfill(api, "nightly", "default")
    page = web.get("/backfills")
    assert page.status_code == 200 and f'id="backfill-{first}" data-status="running"' in page.text
    assert "0 / 5 done" in page.text and 'hx-trigger="every 3s"' in page.text
    cancelled = web.post(f"/backfills/{first}/cancel", headers=LIST)
    assert cancelled.status_code == 200
    assert cancelled.text.lstrip().startswith('<section class="card flush" id="backfill-list"')
    assert f'id="backfill-{first}" data-status="cancelled"' in cancelled.text
    assert 'hx-trigger="every 3s"' not in cancelled.text  # nothing goes on: no polling
    assert api.get(f"/api/v1/backfills/{first}").json()["status"] == "cancelled"
    running = web.get("/backfills?status=running")
    assert f'id="backfill-{first}"' not in running.text and "No backfills running" in running.text


def test_viewers_cannot_cancel_and_scoped_users_see_their_instances(
    api: TestClient, login: Login, web_app: FastAPI, web_engine: Engine
) -> None:
    mine = _backfill(api, "nightly", "default")
    theirs = _backfill(api, "ops-nightly", "ops")
    viewer = login("viewer")
    listed = viewer.get("/backfills").text
    assert f'id="backfill-{theirs}"' in listed and 'data-action="cancel"' not in listed
    assert viewer.post(f"/backfills/{mine}/cancel", headers=LIST).status_code == 403
    seed_user(web_engine, "scoped", role="operator", instances=["default"])
    scoped = TestClient(web_app, follow_redirects=False)
    sign_in(scoped, "scoped")
    shown = scoped.get("/backfills").text
    assert f'id="backfill-{mine}"' in shown and f'id="backfill-{theirs}"' not in shown
    assert scoped.post(f"/backfills/{theirs}/cancel", headers=LIST).status_code == 404
    statuses = {b["id"]: b["status"] for b in api.get("/api/v1/backfills").json()}
    assert statuses == {mine: "running", theirs: "running"}
