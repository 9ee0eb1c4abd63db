"""Importing definitions in a real browser: check first, then apply after a confirmation."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, Dialog, expect
from support import LiveServer
from web.browsing import signed_in

pytestmark = pytest.mark.browser


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The shared live server: this module keeps to its own task names."""
    return shared_agent_ready


def test_apply_asks_for_confirmation_then_imports(
    agent_ready: LiveServer, browser: Browser
) -> None:
    live = agent_ready
    document = {
        "format": "almanac/v1",
        "tasks": [{"name": "imported-in-browser", "command": "echo hi"}],
    }
    page = signed_in(browser, live)
    page.goto(live.url + "/tasks/import-export")
    page.locator("#import-form input[type=file]").set_input_files(
        files=[
            {
                "name": "defs.json",
                "mimeType": "application/json",
                "buffer": json.dumps(document).encode(),
            }
        ]
    )
    page.click("#import-form button[value=check]")
    expect(page.locator("#import-form .alert.info")).to_contain_text("imported-in-browser")
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.click("button:has-text('Apply these changes')")
    expect(page.locator("#import-form .alert.ok")).to_contain_text("Applied")
    assert asked == ["Apply these changes? They take effect at once."]
    with live.client() as http:
        names = [t["name"] for t in http.get("/tasks", params={"q": "imported-in"}).json()]
    assert names == ["imported-in-browser"]
