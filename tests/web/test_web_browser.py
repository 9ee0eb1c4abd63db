"""The web UI in a real browser (Debian's Chromium through Playwright) against a live server
with its built-in agent: live updates, the log viewer, and a screenshot of every page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from support import LiveServer
from web.browsing import shot, signed_in

pytestmark = pytest.mark.browser


def create_task(page: Page, name: str, command: str) -> int:
    """Through the form on /tasks; returns the new task's tid."""
    page.click("a:has-text('New task')")
    expect(page).to_have_url(re.compile(r"/tasks/new$"))
    form = page.locator("#task-form")
    expect(form.locator("button[type=submit]")).to_have_text("Create task")
    form.locator("input[name=name]").fill(name)
    form.locator("textarea[name=command]").fill(command)
    page.click("button[type=submit]:has-text('Create task')")
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator(f"#task-list a:has-text('{name}')")).to_be_visible()
    return int(page.url.rsplit("/", 1)[1])


def test_a_task_made_in_the_form_runs_live_to_success(
    agent_ready: LiveServer, browser: Browser
) -> None:
    live = agent_ready
    runs = signed_in(browser, live)
    expect(runs.locator("#live")).to_have_attribute("data-state", "live")
    page = runs.context.new_page()
    page.goto(live.url + "/tasks")
    page.click("a:has-text('New task')")
    # A blank task has no schedule until one is chosen.
    expect(page.locator("input[name=sched_kind][value='']")).to_be_checked()
    page.click("label.kind:has-text('Cron')")
    # The schedule builder: an invalid cron is named inline, a valid one forecast.
    cron = page.locator("input[name=sched_cron]")
    cron.fill("61 8 * * 1-5")
    expect(page.locator("#err-sched_cron")).to_contain_text("minute")
    cron.fill("30 8 * * 1-5")
    expect(page.locator("#preview ol.fires li")).to_have_count(5)
    expect(page.locator("#preview .words")).to_contain_text("At 08:30, Monday through Friday")
    page.click("label.kind:has-text('Frequency')")
    page.fill("input[name=sched_every]", "15")
    page.fill("input[name=sched_window_start]", "08:00")
    page.fill("input[name=sched_window_end]", "18:00")
    page.fill("input[name=sched_days]", "mon-fri")
    expect(page.locator("#preview ol.fires li")).to_have_count(5)
    page.locator("input[name=name]").fill("browser-job")
    page.locator("textarea[name=command]").fill(
        "for i in $(seq 1 40); do echo \"step $i\"; done; echo 'ERROR one'; sleep 1.5; "
        "echo 'error two'; echo 'ERROR three'; echo 'to stderr' >&2"
    )
    shot(page, "task-form")
    page.click("button[type=submit]:has-text('Create task')")
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator("#task-list a:has-text('browser-job')")).to_be_visible()
    shot(page, "tasks")
    page.click("button[data-action=run]")
    link = page.locator("a.toast:has-text('started')")
    expect(link).to_be_visible()
    run_id = int(link.get_attribute("href").rsplit("/", 1)[1])  # type: ignore[union-attr]

    runs.bring_to_front()  # a background tab's timers are throttled
    row = runs.locator(f"#run-{run_id}")
    expect(row).to_be_visible()  # pushed into the open Task Runs page, no reload
    expect(row).to_have_attribute("data-status", "RUNNING")
    expect(row.locator(".chain .now.pulse")).to_have_text("RUNNING")
    expect(row).to_have_attribute("data-status", "SUCCESS")
    expect(row.locator(".badge")).to_have_text("SUCCESS")
    shot(runs, "task-runs")

    row.locator("td.task a").click()
    expect(runs).to_have_url(re.compile(rf"/task-runs/{run_id}$"))
    steps = runs.locator("ol.timeline .step")
    expect(steps.last).to_have_attribute("data-status", "SUCCESS")
    assert runs.locator("ol.timeline .step.done").count() == steps.count()
    expect(runs.locator("#count-stdout")).to_have_text("43")
    expect(runs.locator("#count-stderr")).to_have_text("1")
    shot(runs, "run-detail")
    runs.fill("#log-q", "error")
    counter = runs.locator("#log-count")
    expect(counter).to_have_text("1 / 3")
    expect(runs.locator("#l-41.cur")).to_be_visible()
    assert runs.locator("#log-lines mark").count() == 3
    runs.click("#log-next")
    expect(counter).to_have_text("2 / 3")
    expect(runs.locator("#l-42.cur")).to_be_visible()
    runs.click("#log-prev")
    runs.click("#log-prev")
    expect(counter).to_have_text("3 / 3")
    expect(runs.locator("#l-43.cur")).to_be_visible()
    runs.locator("#logs").scroll_into_view_if_needed()
    shot(runs, "run-log-search")
    runs.click("button.tab:has-text('stderr')")
    expect(runs.locator("#l-1 .t")).to_have_text("to stderr")


def node_statuses(page: Page) -> dict[str, str]:
    result: dict[str, str] = page.evaluate(
        "() => Object.fromEntries(window.almanacGraph().nodes().map("
        "n => [n.data('label'), n.data('status')]))"
    )
    return result


def test_a_group_built_in_the_forms_runs_live_in_the_graph(
    agent_ready: LiveServer, browser: Browser
) -> None:
    live = agent_ready
    page = signed_in(browser, live)
    page.goto(live.url + "/tasks")
    tids = [
        create_task(page, name, command)
        for name, command in (
            ("extract", "sleep 0.5; echo extracted"),
            ("transform", "sleep 0.5; echo ok"),
            ("publish", "echo published"),
        )
    ]
    page.click("a:has-text('New group')")
    expect(page).to_have_url(re.compile(r"/groups/new$"))
    form = page.locator("#group-form")
    form.locator("input[name=name]").fill("nightly-etl")
    for tid in tids:
        form.locator(f"input[name=tasks][value='{tid}']").check()
    page.click("button[type=submit]:has-text('Create group')")
    expect(page).to_have_url(re.compile(r"/groups/\d+$"))
    for count, (upstream, downstream) in enumerate(((tids[0], tids[1]), (tids[1], tids[2])), 1):
        edge_form = page.locator("#edge-form")
        edge_form.locator("select[name=upstream]").select_option(str(upstream))
        edge_form.locator("select[name=downstream]").select_option(str(downstream))
        edge_form.locator("button[type=submit]").click()
        expect(page.locator("ul.edges li form")).to_have_count(count)
    page.wait_for_function(
        "() => window.almanacGraph() && window.almanacGraph().nodes().length"
        " === 3 && window.almanacGraph().edges().length === 2"
    )
    page.click("button[data-action=run-group]")
    page.wait_for_function("() => window.almanacGraph().nodes('[status = \"RUNNING\"]').length > 0")
    shot(page, "group-running")
    page.wait_for_function(
        "() => window.almanacGraph().nodes('[status = \"SUCCESS\"]').length === 3", timeout=20_000
    )
    assert node_statuses(page) == {
        "extract": "SUCCESS",
        "transform": "SUCCESS",
        "publish": "SUCCESS",
    }
    expect(page.locator("#flow-status")).to_contain_text("SUCCESS")
    # The picker follows too: the run that started and ended since the page was drawn.
    expect(page.locator("select[name=group_run] option").nth(1)).to_contain_text("SUCCESS")
    shot(page, "group-graph")
    tour(page, live)


def tour(page: Page, live: LiveServer) -> None:
    """A screenshot of every other page, each once it has drawn what it shows."""
    with live.client() as http:
        http.post(
            "/calendars",
            json={
                "name": "de-by",
                "country": "DE",
                "subdivision": "BY",
                "skip_weekends": True,
                "extra_dates": ["2026-12-24"],
                "description": "Bavarian plant",
            },
        )
    page.goto(live.url + "/")
    page.wait_for_function("() => document.getElementById('runs-chart')?.dataset.drawn")
    expect(page.locator(".stat-count[data-status=SUCCESS]")).not_to_have_text("0")
    shot(page, "dashboard")
    page.goto(live.url + "/tasks?tab=groups")
    expect(page.locator("#task-list a:has-text('nightly-etl')")).to_be_visible()
    shot(page, "tasks-groups")
    page.goto(live.url + "/agents")
    expect(page.locator("article.agent[data-state=online]")).to_have_count(1)
    shot(page, "agents")
    page.goto(live.url + "/calendars/de-by?year=2026")
    expect(page.locator("td.extra[data-date='2026-12-24']")).to_be_visible()
    shot(page, "calendars")
    page.goto(live.url + "/adhoc")
    page.fill("textarea[name=command]", "echo hello from $(hostname)")
    page.locator("input[name=agents]").first.check()
    page.click("button:has-text('Run now')")
    expect(page.locator("#batch")).to_have_attribute("data-done", "true")
    shot(page, "adhoc")
    page.goto(live.url + "/admin?tab=audit")
    expect(page.locator("table.audit tbody tr").first).to_contain_text("admin")
    shot(page, "admin-audit")
    page.goto(live.url + "/admin")
    shot(page, "admin-users")
