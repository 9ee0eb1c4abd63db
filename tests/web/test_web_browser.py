"""The web UI in a real browser (Debian's Chromium through Playwright) against a live server
with its built-in agent: live updates, the log viewer, and a screenshot of every page."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from support import ADMIN_PASSWORD, LiveServer, require

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("ALMANAC_CHROMIUM_PATH") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def browser() -> Iterator[Browser]:
    require("chromium", os.path.exists(CHROMIUM))
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def signed_in(browser: Browser, live: LiveServer) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(10_000)
    page.goto(live.url + "/task-runs")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    shot(page, "login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/task-runs$"))
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"))


def test_a_run_goes_live_to_success_and_its_log_is_searchable(agent_ready: LiveServer,
                                                               browser: Browser) -> None:
    live = agent_ready
    page = signed_in(browser, live)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    command = ("for i in $(seq 1 40); do echo \"step $i\"; done; echo 'ERROR one'; "
               "sleep 1.5; echo 'error two'; echo 'ERROR three' >&1; echo 'to stderr' >&2")
    with live.client() as http:
        tid = http.post("/tasks", json={"name": "browser-job", "command": command}).json()["tid"]
        run_id = http.post(f"/tasks/{tid}/run").json()["id"]
    row = page.locator(f"#run-{run_id}")
    expect(row).to_be_visible()  # pushed into the open page, no reload
    expect(row).to_have_attribute("data-status", "RUNNING")
    expect(row.locator(".chain .now.pulse")).to_have_text("RUNNING")
    expect(row).to_have_attribute("data-status", "SUCCESS")
    expect(row.locator(".badge")).to_have_text("SUCCESS")
    shot(page, "task-runs")

    row.locator("td.task a").click()
    expect(page).to_have_url(re.compile(rf"/task-runs/{run_id}$"))
    steps = page.locator("ol.timeline .step")
    expect(steps.last).to_have_attribute("data-status", "SUCCESS")
    assert page.locator("ol.timeline .step.done").count() == steps.count()
    expect(page.locator("#count-stdout")).to_have_text("43")
    expect(page.locator("#count-stderr")).to_have_text("1")
    shot(page, "run-detail")
    page.fill("#log-q", "error")
    counter = page.locator("#log-count")
    expect(counter).to_have_text("1 / 3")
    expect(page.locator("#l-41.cur")).to_be_visible()
    assert page.locator("#log-lines mark").count() == 3
    page.click("#log-next")
    expect(counter).to_have_text("2 / 3")
    expect(page.locator("#l-42.cur")).to_be_visible()
    page.click("#log-prev")
    page.click("#log-prev")
    expect(counter).to_have_text("3 / 3")
    expect(page.locator("#l-43.cur")).to_be_visible()
    page.locator("#logs").scroll_into_view_if_needed()
    shot(page, "run-log-search")
    page.click("button.tab:has-text('stderr')")
    expect(page.locator("#l-1 .t")).to_have_text("to stderr")
