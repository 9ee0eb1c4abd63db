"""A real browser for the web tests: Debian's Chromium through Playwright, and signing in."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright
from support import ADMIN_PASSWORD, LiveServer, require

CHROMIUM = os.environ.get("ALMANAC_CHROMIUM_PATH") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def launched_browser() -> Iterator[Browser]:
    require("chromium", os.path.exists(CHROMIUM))
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def signed_in(browser: Browser, live: LiveServer, *, timezone_id: str | None = None) -> Page:
    """Signed in as the admin; `timezone_id`: the browser's own zone (the pages follow it
    while the user has chosen none)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id=timezone_id)
    context.set_default_timeout(10_000)
    page = context.new_page()
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
