"""The backfill pages: a form from the task or group page, its preview lists every date
with run or skip and the reason (holidays by name) before anything starts, the start goes to
a progress page that refreshes itself, and its controls."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web.web_helpers import Login

SCHEDULE = {"kind": "times", "times": ["09:00"], "days": "mon-fri", "calendar": "de"}


def _group(api: TestClient) -> int:
    calendar = {"name": "de", "country": "DE", "skip_weekends": True}
    assert api.post("/api/v1/calendars", json=calendar).status_code == 201
    made = api.post("/api/v1/groups", json={"name": "nightly", "schedule": SCHEDULE})
    assert made.status_code == 201, made.text
    return int(made.json()["gid"])


def test_preview_then_start_then_progress_and_pause(web: TestClient, api: TestClient) -> None:
    gid = _group(api)
    panel = web.get(f"/groups/{gid}")
    assert f'href="/groups/{gid}/backfill"' in panel.text
    form = web.get(f"/groups/{gid}/backfill")
    assert form.status_code == 200 and 'id="backfill-form"' in form.text
    fields = {"start": "2026-04-01", "end": "2026-04-30", "max_concurrent": "2"}
    preview = web.post(f"/groups/{gid}/backfill/preview", data=fields)
    assert preview.status_code == 200
    assert "<b>20</b> dates run, <b>10</b> skipped" in preview.text
    assert "holiday: Good Friday" in preview.text and "holiday: Easter Monday" in preview.text
    assert 'data-action="start-backfill"' in preview.text
    assert api.get("/api/v1/backfills").json() == []  # the preview stored nothing

    started = web.post(f"/groups/{gid}/backfill", data=fields)
    assert started.status_code == 204
    target = started.headers["HX-Redirect"]
    (made,) = api.get("/api/v1/backfills").json()
    assert target == f"/backfills/{made['id']}" and made["status"] == "running"
    page = web.get(target)
    assert page.status_code == 200 and "<b>20</b> pending" in page.text
    fragment = web.get(target, headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<section class="card" id="backfill-progress"')
    assert 'hx-trigger="every 2s"' in fragment.text  # refreshes while it goes on
    paused = web.post(f"{target}/pause")
    assert 'id="backfill-status">paused' in paused.text
    cancelled = web.post(f"{target}/cancel")
    assert 'id="backfill-status">cancelled' in cancelled.text
    assert 'hx-trigger="every 2s"' not in cancelled.text  # ended: no more polling


def test_bad_fields_are_shown_and_nothing_starts(web: TestClient, api: TestClient) -> None:
    gid = _group(api)
    bad = web.post(f"/groups/{gid}/backfill", data={"start": "2026-04-30", "end": "2026-04-01"})
    assert bad.status_code == 422 and "1 problem to fix" in bad.text
    # Beside its field, out of band; the other fields' slots are cleared.
    assert re.search(r'id="bferr-end" hx-swap-oob="true">2026-04-01 is before start', bad.text)
    assert 'id="bferr-start" hx-swap-oob="true"></small>' in bad.text
    several = web.post(
        f"/groups/{gid}/backfill/preview",
        data={"start": "soon", "end": "2026-04-01", "max_concurrent": "0", "mode": "some"},
    )
    assert several.status_code == 422 and "3 problems to fix" in several.text
    for field, words in [
        ("start", "must be a date like 2026-12-31"),
        ("max_concurrent", "must be 1 or more"),
        ("mode", "must be one of: missing, failed or all"),
    ]:
        assert f'id="bferr-{field}" hx-swap-oob="true">{words}<' in several.text, field
    assert api.get("/api/v1/backfills").json() == []


def test_a_viewer_previews_but_cannot_start(login: Login, api: TestClient) -> None:
    gid = _group(api)
    viewer = login("viewer")
    fields = {"start": "2026-04-01", "end": "2026-04-03"}
    preview = viewer.post(f"/groups/{gid}/backfill/preview", data=fields)
    assert preview.status_code == 200 and "holiday: Good Friday" in preview.text
    assert 'data-action="start-backfill"' not in preview.text
    refused = viewer.post(f"/groups/{gid}/backfill", data=fields)
    assert "role user or higher required" in refused.text
    assert api.get("/api/v1/backfills").json() == []
