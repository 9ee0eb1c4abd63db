"""The log viewer for triage (Debian's Chromium): ANSI colours rendered, a failed run opened
on its stderr, the line counter live, Follow released by scrolling up."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect
from support import LiveServer, wait_for
from web.browsing import signed_in

pytestmark = pytest.mark.browser


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The shared live server: this module keeps to its own task names."""
    return shared_agent_ready


def _run(live: LiveServer, name: str, command: str) -> int:
    with live.client() as http:
        tid = http.post("/tasks", json={"name": name, "command": command}).json()["tid"]
        return int(http.post(f"/tasks/{tid}/run").json()["id"])


def _status(live: LiveServer, run_id: int) -> str:
    with live.client() as http:
        return str(http.get(f"/runs/{run_id}").json()["status"])


def test_a_failed_run_opens_on_stderr_with_colours(
    agent_ready: LiveServer, browser: Browser
) -> None:
    live = agent_ready
    run_id = _run(
        live,
        "log-viewer-fails",
        r"printf 'plain \033[32mgreen\033[0m \033[1;31mbold red\033[0m\n'; "
        r"echo 'the real error' >&2; exit 3",
    )
    wait_for(lambda: _status(live, run_id) == "FAILED")
    page = signed_in(browser, live)
    page.goto(f"{live.url}/task-runs/{run_id}")
    expect(page.locator("#log-body")).to_have_attribute("data-stream", "stderr")
    expect(page.locator("#log-lines")).to_contain_text("the real error")
    page.click("button[role=tab]:has-text('stdout')")
    line = page.locator("#log-lines .ln .t").first
    expect(line).to_have_text("plain green bold red")  # no raw escape codes
    expect(line.locator("span.ansi-fg-32")).to_have_text("green")
    expect(line.locator("span.ansi-fg-31.ansi-bold")).to_have_text("bold red")


def test_the_counter_follows_and_scrolling_up_releases_follow(
    agent_ready: LiveServer, browser: Browser
) -> None:
    live = agent_ready
    run_id = _run(
        live,
        "log-viewer-live",
        "for i in $(seq 1 400); do echo line $i; done; sleep 1; "
        "for i in $(seq 401 420); do echo line $i; sleep 0.1; done; sleep 5",
    )
    page = signed_in(browser, live)
    page.goto(f"{live.url}/task-runs/{run_id}")
    expect(page.locator("#count-stdout")).to_have_text("420", timeout=20_000)
    expect(page.locator("#log-range")).to_contain_text("of 420")
    assert page.locator("#log-follow").is_checked()
    page.locator("#log-lines").evaluate("box => { box.scrollTop = 0; }")
    expect(page.locator("#log-follow")).not_to_be_checked()
    page.locator("#log-lines").evaluate("box => { box.scrollTop = box.scrollHeight; }")
    expect(page.locator("#log-follow")).to_be_checked()
