"""The log viewer for triage (Debian's Chromium): ANSI colours rendered, a failed run opened
on its stderr, the line counter live, Follow released by scrolling up, each line's time on
demand (in the viewer's timezone, the same for streamed lines as for stored ones)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
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


ZONE = "Australia/Adelaide"  # +10:30 / +09:30: neither UTC nor a whole hour away from it


def _api_times(live: LiveServer, run_id: int, stream: str = "stdout") -> list[str]:
    """Each line's time as the API gives it, written as the viewer shows it in ZONE."""
    with live.client() as http:
        page = http.get(f"/runs/{run_id}/logs", params={"stream": stream}).json()
    assert len(page["times"]) == len(page["lines"]) and None not in page["times"]
    return [
        datetime.fromisoformat(t).astimezone(ZoneInfo(ZONE)).strftime("%H:%M:%S.%f")[:-3]
        for t in page["times"]
    ]


def _shown_times(page: Page) -> list[str]:
    return list(page.locator("#log-lines .ln .lt").all_inner_texts())


def test_line_times_on_demand_for_a_finished_run(agent_ready: LiveServer, browser: Browser) -> None:
    live = agent_ready
    run_id = _run(
        live,
        "log-viewer-times",
        r"echo one; sleep 1.2; printf '\033[32mtwo\033[0m\n'; sleep 1.2; echo three",
    )
    wait_for(lambda: _status(live, run_id) == "SUCCESS", timeout=30)
    expected = _api_times(live, run_id)
    assert len(set(expected)) == 3  # three chunks, received over two seconds
    page = signed_in(browser, live, timezone_id=ZONE)
    page.goto(f"{live.url}/task-runs/{run_id}")
    expect(page.locator("#log-range")).to_have_text("lines 1–3 of 3")
    expect(page.locator("#log-lines .ln .lt").first).to_be_hidden()  # off until asked
    expect(page.locator("#log-zone")).to_have_text(f"({ZONE})")  # labelled with the zone
    page.check("#log-times")
    expect(page.locator("#log-lines .ln .lt").first).to_be_visible()
    assert _shown_times(page) == expected
    hover = page.locator("#l-1 .lt").get_attribute("title") or ""
    assert ZONE in hover and hover.endswith(" UTC")
    # Colours, the counter and the line text are as they were.
    expect(page.locator("#l-2 .t span.ansi-fg-32")).to_have_text("two")
    expect(page.locator("#l-2 .t")).to_have_text("two")
    expect(page.locator("#log-range")).to_have_text("lines 1–3 of 3")
    # The choice is kept: the next page (a tab, a reload) shows the times at once.
    page.reload()
    expect(page.locator("#log-times")).to_be_checked()
    assert _shown_times(page) == expected
    page.uncheck("#log-times")
    expect(page.locator("#log-lines .ln .lt").first).to_be_hidden()


def test_line_times_of_streamed_lines_match_the_stored_ones(
    agent_ready: LiveServer, browser: Browser
) -> None:
    live = agent_ready
    page = signed_in(browser, live, timezone_id=ZONE)
    run_id = _run(
        live,
        "log-viewer-live-times",
        "sleep 2; printf 'a1\\na2\\n'; sleep 1.2; echo b1; sleep 1.2; "
        r"printf '\033[1;31mc1\033[0m\n'; sleep 4",
    )
    page.goto(f"{live.url}/task-runs/{run_id}")
    expect(page.locator("#log-body")).to_have_attribute("data-live", "1")
    page.check("#log-times")
    expect(page.locator("#count-stdout")).to_have_text("4", timeout=20_000)
    expect(page.locator("#log-range")).to_have_text("lines 1–4 of 4")
    assert _status(live, run_id) == "RUNNING"  # these lines came through the stream
    streamed = _shown_times(page)
    expect(page.locator("#l-4 .t span.ansi-fg-31.ansi-bold")).to_have_text("c1")
    assert page.locator("#log-follow").is_checked()
    stored = _api_times(live, run_id)
    assert streamed == stored
    assert stored[0] == stored[1] != stored[2] != stored[3]  # a1 and a2: one write, one chunk
    wait_for(lambda: _status(live, run_id) == "SUCCESS", timeout=30)
    page.reload()
    assert _shown_times(page) == stored
