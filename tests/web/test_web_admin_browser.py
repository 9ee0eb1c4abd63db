"""Admin in a real browser (Debian's Chromium): an existing agent token's scope changed on
the Agent tokens screen, confirmed first, refused in plain words naming the field."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Dialog, expect
from support import LiveServer
from web.browsing import signed_in

pytestmark = pytest.mark.browser


def test_an_admin_rebinds_an_agent_token_on_its_screen(
    shared_agent_ready: LiveServer, browser: Browser
) -> None:
    live = shared_agent_ready
    with live.client() as http:
        created = http.post("/agents/tokens", json={"name": "look rack", "agent": "rack-1"})
        tid = created.json()["id"]
    page = signed_in(browser, live)
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.goto(f"{live.url}/admin?tab=agent-tokens")
    field = page.locator(f"#agent-token-{tid} input[name=agent]")
    expect(field).to_have_value("rack-1")
    field.fill("rack-2")
    page.locator(f"#agent-token-{tid} button:has-text('Change')").click()
    expect(page.locator(f"#agent-token-{tid} input[name=agent]")).to_have_value("rack-2")
    assert asked and "look rack" in asked[0]
    with live.client() as http:
        listed = {t["id"]: t["agent"] for t in http.get("/agents/tokens").json()}
        audit = http.get("/audit", params={"action": "agent_token.scope"}).json()["items"]
    assert listed[tid] == "rack-2"
    assert any(e["target_id"] == str(tid) and e["after"]["agent"] == "rack-2" for e in audit)
    # Bad input stays on the screen, naming the field; nothing changes.
    page.locator(f"#agent-token-{tid} input[name=agent]").fill("rack/3")
    page.locator(f"#agent-token-{tid} button:has-text('Change')").click()
    expect(page.locator("#admin-refusal")).to_contain_text("agent:")
    expect(page.locator(f"#agent-token-{tid} input[name=agent]")).to_have_value("rack-2")
