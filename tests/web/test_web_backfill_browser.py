"""The backfill pages in a real browser against a live server and its built-in agent: the
preview lists the holidays by name before anything starts, the start opens the progress
page, which refreshes itself until every open date has run."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect
from support import LiveServer
from web.browsing import shot, signed_in

pytestmark = pytest.mark.browser


def test_preview_then_start_then_watch_it_finish(agent_ready: LiveServer, browser: Browser) -> None:
    live = agent_ready
    with live.client() as http:
        calendar = {"name": "web-bf-de", "country": "DE", "skip_weekends": True}
        assert http.post("/calendars", json=calendar).status_code == 201
        schedule = {"kind": "times", "times": ["06:00"], "days": "mon-fri", "calendar": "web-bf-de"}
        made = http.post(
            "/tasks",
            json={
                "name": "web-bf",
                "command": 'echo "$ALMANAC_BUSINESS_DATE"',
                "schedule": schedule,
            },
        )
        assert made.status_code == 201, made.text
        tid = made.json()["tid"]
    page = signed_in(browser, live)
    page.goto(f"{live.url}/tasks/{tid}")
    page.click("a[data-action=backfill]")
    expect(page).to_have_url(re.compile(rf"/tasks/{tid}/backfill$"))
    form = page.locator("#backfill-form")
    form.locator("input[name=start]").fill("2026-04-01")
    form.locator("input[name=end]").fill("2026-04-07")
    form.locator("input[name=max_concurrent]").fill("2")
    form.locator("button[data-action=preview]").click()
    dates = page.locator("#backfill-dates")
    expect(dates).to_contain_text("holiday: Good Friday")
    expect(dates).to_contain_text("holiday: Easter Monday")
    expect(page.locator("#backfill-plan")).to_contain_text("3 dates run, 4 skipped")
    shot(page, "backfill-preview")
    page.click("button[data-action=start-backfill]")
    expect(page).to_have_url(re.compile(r"/backfills/\d+$"))
    expect(page.locator("#backfill-status")).to_have_text("done", timeout=60_000)
    expect(page.locator("#backfill-counts")).to_contain_text("3 done")
    expect(page.locator("tr[data-date='2026-04-07'] .badge")).to_contain_text("SUCCESS")
    shot(page, "backfill-progress")
