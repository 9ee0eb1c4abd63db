"""Forms that help, in Chromium: the task form shows every problem at once beside its field
(with the line of a multi-line field) and keeps what was typed; the Alerts screen creates an
integration (its secret never shown back) and a rule, refusals inline; no console errors."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, expect
from support import LiveServer
from web.browsing import shot, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The shared live server: this module keeps to its own names."""
    return shared_agent_ready


def test_inline_errors_all_at_once_then_the_alerts_screen(
    agent_ready: LiveServer, browser: Browser
) -> None:
    live = agent_ready
    page = signed_in(browser, live)
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A refused form is answered 422 on purpose (bad input is a 4xx); Chromium notes each
        # such answer in the console. Anything else is an error of the page.
        if message.type == "error" and not message.text.endswith("status of 422 ()"):
            if "status of 422 (Unprocessable" not in message.text:
                errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(live.url + "/tasks/new")
    form = page.locator("#task-form")
    form.locator("textarea[name=command]").fill("true")
    form.locator("input[name=memory]").fill("lots")
    form.locator("input[name=gpus]").fill("0, x")
    form.locator("textarea[name=mounts]").fill("/data:/data\nnocolon")
    form.locator("textarea[name=env]").fill("GOOD=1\nBROKEN")
    form.locator("button[type=submit]").click()
    expect(page.locator("#err-name")).to_have_text("cannot be empty")
    expect(page.locator("#err-memory")).to_have_text("must be a size like 512M, 4G or 1.5G")
    expect(page.locator("#err-gpus")).to_have_text("'x' is not a GPU index")
    expect(page.locator("#err-mounts")).to_contain_text("line 2: must be HOST:CONTAINER")
    expect(page.locator("#err-env")).to_have_text("line 2: expected KEY=VALUE")
    expect(page.locator("#task-form textarea[name=mounts]")).to_have_value("/data:/data\nnocolon")
    shot(page, "task-form-errors")
    # Fixed: saved, and the messages are gone.
    form = page.locator("#task-form")
    form.locator("input[name=name]").fill("forms-browser-task")
    form.locator("input[name=memory]").fill("512M")
    form.locator("input[name=gpus]").fill("")
    form.locator("textarea[name=mounts]").fill("/data:/data:ro")
    form.locator("textarea[name=env]").fill("GOOD=1")
    form.locator("button[type=submit]").click()
    expect(page.locator("#task-form-card h2")).to_contain_text("forms-browser-task")
    expect(page.locator("#err-memory")).to_have_text("")

    page.goto(live.url + "/alerts")
    new = page.locator("#new-integration-form")
    new.locator("input[name=name]").fill("forms-browser-hook")
    new.locator("textarea[name=config]").fill('{"url": "ftp://nowhere"}')
    new.locator("input[name=secret]").fill("very-secret-key")
    new.locator("button[type=submit]").click()
    expect(page.locator("#new-integration #err-config")).to_contain_text("must be a URL")
    expect(page.locator("#new-integration-form input[name=secret]")).to_have_value("")
    new = page.locator("#new-integration-form")
    new.locator("textarea[name=config]").fill('{"url": "https://example.com/hook"}')
    new.locator("input[name=secret]").fill("very-secret-key")
    new.locator("button[type=submit]").click()
    expect(page.locator("#integrations")).to_contain_text("forms-browser-hook")
    assert "very-secret-key" not in page.content()

    rule = page.locator("#new-rule-form")
    rule.locator("select[name=target]").select_option(label="task forms-browser-task")
    rule.locator("select[name=integration]").select_option(label="forms-browser-hook")
    rule.locator("input[name=events][value=failed]").uncheck()
    rule.locator("button[type=submit]").click()
    expect(page.locator("#new-rule #err-events")).to_have_text("needs at least 1 item")
    rule = page.locator("#new-rule-form")
    rule.locator("input[name=events][value=failed]").check()
    rule.locator("button[type=submit]").click()
    expect(page.locator("#rules")).to_contain_text("forms-browser-task")
    shot(page, "alerts")
    # Delete asks first (forms.js; the CSP refuses inline handlers).
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.wait_for_load_state("load")  # forms.js (deferred) listens before the click
    # this test's rule: the server is shared, and other modules' rules may be listed first
    mine = page.locator("#rules tr", has_text="forms-browser-task")
    expect(mine).to_have_count(1)
    mine.locator("form[data-confirm] button").click()
    # the delete posts, then the page comes back (a loaded suite: give it more than 5 s)
    expect(page.locator("#rules")).not_to_contain_text("forms-browser-task", timeout=20_000)
    assert asked and asked[0].startswith("Delete alert rule")
    assert errors == [], errors
