"""In a real browser: the crontab tab checks a pasted crontab, shows its tasks, and creates
them; a combined calendar's year view shows its reasons."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from support import LiveServer
from web.browsing import shot, signed_in

pytestmark = pytest.mark.browser

CRONTAB = (Path(__file__).parents[1] / "io" / "data" / "user.crontab").read_text()


def test_crontab_tab_checks_then_creates(agent_ready: LiveServer, browser: Browser) -> None:
    page = signed_in(browser, agent_ready)
    page.goto(agent_ready.url + "/tasks/import-export?tab=crontab")
    form = page.locator("#crontab-form")
    form.locator("textarea[name=text]").fill(CRONTAB)
    form.locator("input[name=group]").fill("legacy")
    form.locator("button[value=check]").click()
    report = page.locator("#crontab-report")
    expect(report).to_contain_text("17 task(s) (dry run, nothing stored)")
    expect(report.locator("table.crontab-tasks tbody tr")).to_have_count(17)
    shot(page, "crontab-dry-run")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#crontab-form button[value=apply]").click()
    expect(page.locator("#crontab-report")).to_contain_text("Created")
    with agent_ready.client() as http:
        assert len(http.get("/tasks").json()) == 17


def test_combined_calendar_year_view(agent_ready: LiveServer, browser: Browser) -> None:
    with agent_ready.client() as http:
        http.post("/calendars", json={"name": "by", "country": "DE", "subdivision": "BY",
                                      "categories": ["public", "catholic"]})  # fmt: skip
        http.post("/calendars", json={"name": "desk", "include": ["by"], "skip_weekends": True})
    page = signed_in(browser, agent_ready)
    page.goto(agent_ready.url + "/calendars/desk?year=2025")
    expect(page).to_have_url(re.compile(r"/calendars/desk"))
    cell = page.locator('td[data-date="2025-08-15"]')
    expect(cell).to_have_class(re.compile(r"\bcalendar\b"))
    expect(page.locator(".reason-list")).to_contain_text(
        "from calendar by: holiday: Assumption Day (catholic)"
    )
    shot(page, "calendar-combined")
