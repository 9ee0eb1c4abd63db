"""The group views and a filtered Task Runs page in Debian's Chromium: each opens, draws
what it should, and logs no console error."""

from __future__ import annotations

from datetime import date

import pytest
from group_history import T0, nightly_success, seed_group, seed_group_run
from playwright.sync_api import Browser, ConsoleMessage, expect
from support import LiveServer
from web.browsing import shot, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The shared live server: this module keeps to its own group (`pw-views`)."""
    return shared_agent_ready


def test_grid_gantt_heat_map_and_filtered_runs_open_without_errors(
    agent_ready: LiveServer, browser: Browser
) -> None:
    live = agent_ready
    seeded = seed_group(live.engine, "pw-views")
    group_runs = [
        seed_group_run(
            live.engine,
            seeded,
            day=date(2026, 3, d),
            trigger=T0.replace(day=d),
            runs=nightly_success(),
        )[0]
        for d in (2, 3)
    ]
    page = signed_in(browser, live)
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))

    page.goto(f"{live.url}/groups/{seeded.gid}/grid")
    expect(page.locator("#group-grid a.gv-box")).to_have_count(8)
    shot(page, "group-grid")
    page.locator(f"a[href='/group-runs/{group_runs[-1]}/gantt']").click()
    expect(page.locator("#gantt .gv-row")).to_have_count(4)
    expect(page.locator("#gantt .gv-row[data-critical=true]")).to_have_count(3)
    shot(page, "group-gantt")

    page.goto(f"{live.url}/groups/{seeded.gid}/heatmap?end=2026-03-08")
    expect(page.locator("#heatmap a[data-outcome=success]")).to_have_count(2)
    shot(page, "group-heatmap")
    page.goto(f"{live.url}/tasks/{seeded.tids['load']}/heatmap?end=2026-03-08")
    expect(page.locator("#heatmap a[data-day='2026-03-03']")).to_have_attribute(
        "data-outcome", "success"
    )

    page.goto(f"{live.url}/task-runs?group={seeded.gid}&sort=finished_at&order=asc&from=2026-03-01")
    expect(page.locator("#run-rows tr")).to_have_count(8)
    expect(page.locator("th[aria-sort=ascending] a[data-sort=finished_at]")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    shot(page, "task-runs-filtered")
    assert errors == []
