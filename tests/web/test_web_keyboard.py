"""What a keyboard user reaches on the Task Runs page (Debian's Chromium)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect
from support import LiveServer
from web.browsing import signed_in

pytestmark = pytest.mark.browser


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The shared live server: this module only reads the page."""
    return shared_agent_ready


def test_the_time_range_filter_is_reached_and_changed_by_keyboard(
    agent_ready: LiveServer, browser: Browser
) -> None:
    page = signed_in(browser, agent_ready)
    page.locator("select[name=status]").focus()
    page.keyboard.press("Tab")  # from the status filter into the time range
    focused = page.evaluate("document.activeElement.name + '=' + document.activeElement.value")
    assert focused == "range="
    page.keyboard.press("ArrowRight")  # radios move with the arrows, and the page follows
    expect(page).to_have_url(re.compile(r"range=6h"))
    expect(page.locator("label:has(input[value='6h'])")).to_have_css(
        "background-color", "rgb(232, 238, 252)"
    )
