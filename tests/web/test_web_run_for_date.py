"""The "Run for date" form in a real browser against a live server and its built-in agent:
fields generated from the declared params, checked as they are typed, and the run it makes
shows its business date and params on the run detail page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect
from support import LiveServer, wait_for
from web.browsing import shot, signed_in

pytestmark = pytest.mark.browser

COMMAND = (
    "sh -c 'echo $#' argv0 ${param.region}; "
    'echo "$ALMANAC_BUSINESS_DATE $ALMANAC_PARAM_COUNT $ALMANAC_PARAM_FULL"'
)
PARAMS = [
    {"name": "region", "type": "choice", "choices": ["EU", "US"], "default": "EU"},
    {"name": "count", "type": "integer", "required": True},
    {"name": "full", "type": "boolean", "default": False},
]


def test_the_run_for_date_form_checks_as_you_type_and_runs(
    agent_ready: LiveServer, browser: Browser
) -> None:
    live = agent_ready
    with live.client() as http:
        created = http.post(
            "/tasks", json={"name": "web-ctx", "command": COMMAND, "params": PARAMS}
        )
        assert created.status_code == 201, created.text
        tid = created.json()["tid"]
    runs = signed_in(browser, live)
    page = runs.context.new_page()
    page.goto(f"{live.url}/tasks/{tid}")
    form = page.locator("#run-form")
    page.click("#run-for-date summary")
    count = form.locator("input[name='param.count']")
    count.fill("many")
    expect(page.locator("#runerr-param-count")).to_contain_text("expected an integer")
    expect(page.locator("#run-form-status")).to_contain_text("1 to fix")
    count.fill("5")
    expect(page.locator("#run-form-status")).to_contain_text("ready")
    expect(page.locator("#runerr-param-count")).to_have_text("")
    form.locator("input[name=business_date]").fill("2026-03-04")
    form.locator("select[name='param.region']").select_option("US")
    form.locator("input[name='param.full']").check()
    shot(page, "run-for-date")
    form.locator("button[data-action=run-for-date]").click()

    with live.client() as http:

        def finished() -> dict[str, object] | None:
            items = http.get("/runs", params={"task": tid}).json()["items"]
            return items[0] if items and items[0]["status"] == "SUCCESS" else None

        run = wait_for(finished, timeout=60)
        logs = http.get(f"/runs/{run['id']}/logs").json()
    assert run["business_date"] == "2026-03-04"
    assert run["params"] == {"region": "US", "count": 5, "full": True}
    assert logs["lines"] == ["1", "2026-03-04 5 true"]
    page.goto(f"{live.url}/task-runs/{run['id']}")
    expect(page.locator("#run-business-date")).to_have_text("2026-03-04")
    expect(page.locator("#run-params")).to_contain_text(re.compile(r"region\s*=\s*\"US\""))
