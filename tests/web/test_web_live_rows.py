"""Task Runs keeps up live: runs started in the same second all appear, without console
errors, trial after trial, across the streams' planned reconnects. (How fast they appear is
a figure for a benchmark, not a timed test: the wait here is generous.)"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect
from support import LiveServer
from web.browsing import signed_in

pytestmark = pytest.mark.browser

TRIALS = 10
BURST = 10
APPEAR_MS = 5_000


def test_ten_runs_started_together_all_appear(
    agent_ready: LiveServer,
    browser: Browser,
) -> None:
    live = agent_ready
    # Streams end (and the page reconnects) every 3 s: those planned reconnects happen
    # during the trials and must neither lose rows nor log errors.
    live.server.config.app.state.sse_lifetime = 3.0
    with live.client() as http:
        tid = http.post("/tasks", json={"name": "live-rows-burst", "command": "true"}).json()["tid"]
    page = signed_in(browser, live)
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    # Counts the streams opened from here on: each is a planned reconnect.
    page.evaluate(
        "window.reopened = 0;"
        "document.addEventListener('htmx:sseOpen', () => { window.reopened += 1; })"
    )

    def force(_: int) -> int:
        with live.client() as client:
            answer = client.post(f"/tasks/{tid}/run")
            assert answer.status_code in (200, 201), answer.text
            return int(answer.json()["id"])

    with ThreadPoolExecutor(BURST) as pool:
        for trial in range(TRIALS):
            ids = list(pool.map(force, range(BURST)))
            for run_id in ids:
                try:
                    expect(page.locator(f"#run-{run_id}")).to_be_attached(timeout=APPEAR_MS)
                except AssertionError:
                    shown = page.locator("#run-rows tr").evaluate_all("rs => rs.map(r => r.id)")
                    raise AssertionError(
                        f"trial {trial}: run {run_id} of {ids} missing; rows {shown}; "
                        f"console {errors}"
                    ) from None
    # At least two planned reconnects happened (during the trials or just after), quietly.
    page.wait_for_function("window.reopened >= 2", timeout=15_000)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    assert errors == []


# The trigger cell's parts: the <time> (zone in its text, UTC instant on hover) and the
# relative span beside it.
CELL_SHAPE = """row => {
  const cell = row.querySelector("td.trigger");
  return Array.from(cell.children).map(c => c.tagName + "." + c.className +
    (c.tagName === "TIME" ? (c.hasAttribute("datetime") && c.title.endsWith("UTC")) : ""));
}"""


def test_rows_arriving_live_carry_relative_times_like_rows_drawn_with_the_page(
    live_server: LiveServer, browser: Browser
) -> None:
    live = live_server
    with live.client() as http:
        tid = http.post("/tasks", json={"name": "live-rows-rel", "command": "true"}).json()["tid"]
        drawn = int(http.post(f"/tasks/{tid}/run").json()["id"])
    page = signed_in(browser, live)  # draws `drawn` with the page
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    with live.client() as http:
        arrived = int(http.post(f"/tasks/{tid}/run").json()["id"])
    row = page.locator(f"#run-{arrived}")
    expect(row).to_be_attached()
    expect(row.locator("td.trigger small.rel")).to_have_text(re.compile(r"^(just now|\d+ s ago)$"))
    expect(page.locator(f"#run-{drawn} td.trigger small.rel")).to_have_text(
        re.compile(r"^(just now|\d+ s ago)$")
    )
    shape = page.locator(f"#run-{drawn}").evaluate(CELL_SHAPE)
    assert shape == ["TIME.true", "SMALL.rel"]
    assert row.evaluate(CELL_SHAPE) == shape
