"""Every page in a real browser at a phone's width (390×844) and a desktop's (1440×900), in
the light and the dark theme: no horizontal page overflow, no console error, no failed
request; a screenshot of each under tests/artifacts/screenshots/ (looked at by people)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    expect,
)
from support import ADMIN_PASSWORD, LiveServer
from web.browsing import ARTIFACTS, launched_browser
from web.look_seed import Seeded, seed

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "screenshots"
SIZES = {"phone": (390, 844), "desktop": (1440, 900)}
ZONE = "America/New_York"  # the browser's; the signed-in user chose none
# The page's width, or more where the header's navigation runs under the user box.
WIDEST = """() => {
  const nav = document.querySelector(".nav");
  const spill = nav && nav.offsetParent ? nav.scrollWidth - nav.clientWidth : 0;
  return document.documentElement.scrollWidth + Math.max(0, spill);
}"""


@pytest.fixture(scope="module")
def seeded(shared_agent_ready: LiveServer) -> Seeded:
    return seed(shared_agent_ready)


def pages(s: Seeded) -> dict[str, tuple[str, str]]:
    """name -> (path, a selector that shows the page has drawn what matters)."""
    return {
        "dashboard": ("/", "#runs-chart[data-drawn]"),
        "tasks": ("/tasks", "#task-list"),
        "task-edit": (f"/tasks/{s.tid}", "#task-form"),
        "task-new": ("/tasks/new", "#task-form"),
        "groups": ("/tasks?tab=groups", "#task-list"),
        "group-detail": (f"/groups/{s.gid}", "#graph[data-rendered]"),
        "group-grid": (f"/groups/{s.gid}/grid", "main"),
        "group-gantt": (f"/group-runs/{s.group_run}/gantt", "main"),
        "group-heatmap": (f"/groups/{s.gid}/heatmap", "main"),
        "group-history": (f"/groups/{s.gid}/history", "main"),
        "group-freezes": (f"/groups/{s.gid}/freezes", "main"),
        "task-heatmap": (f"/tasks/{s.tid}/heatmap", "main"),
        "task-history": (f"/tasks/{s.tid}/history", "main"),
        "task-freezes": (f"/tasks/{s.tid}/freezes", "main"),
        "task-runs": ("/task-runs", "#runs-live"),
        "run-detail": (f"/task-runs/{s.run}", ".log-lines"),
        "run-failed": (f"/task-runs/{s.failed_run}", ".log-lines"),
        "agents": ("/agents", "main"),
        "calendars": ("/calendars", "main"),
        "calendar-year": (f"/calendars/{s.calendar}", ".year-grid"),
        "adhoc": ("/adhoc", "main"),
        "approvals": ("/approvals", "main"),
        "import-export": ("/tasks/import-export", "main"),
        "health": ("/health", "#health-scheduler"),
        "profile": ("/profile", "#profile-timezone"),
        "admin-users": ("/admin", "main"),
        "admin-tokens": ("/admin?tab=tokens", "main"),
        "admin-agent-tokens": ("/admin?tab=agent-tokens", "main"),
        "pools": ("/pools", "main"),
        "pool": (f"/pools/default/{s.pool}", "main"),
        "variable-sets": ("/variable-sets", "main"),
        "backfills": ("/backfills", "main"),
        "backfill": (f"/backfills/{s.backfill}", "main"),
        "alerts": ("/alerts", "main"),
        "sync": ("/sync", "main"),
        "backfill-new": (f"/tasks/{s.tid}/backfill", "main"),
        "not-found": ("/nope", "main"),
    }


class Watch:
    """What went wrong on a page: console errors, uncaught errors, failed requests. Only the
    404 page may answer 404 (and the browser logs that answer as a console error)."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        self.name = ""
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{self.name}: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not (self.name == "not-found" and "404" in message.text):
            self.problems.append(f"{self.name}: console: {message.text}")

    def _failed(self, request: Request) -> None:
        # Leaving a page cuts its event stream and any htmx request still on its way.
        if request.failure == "net::ERR_ABORTED" and request.resource_type in {
            "eventsource",
            "xhr",
            "fetch",
        }:
            return
        self.problems.append(f"{self.name}: request failed: {request.url} {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/nope"):
            self.problems.append(f"{self.name}: HTTP {response.status}: {response.url}")


@pytest.fixture(scope="module")
def browser_once() -> Iterator[Browser]:
    yield from launched_browser()


@pytest.fixture(scope="module")
def state(
    browser_once: Browser, shared_agent_ready: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Signed in once through the form; every context starts from this cookie jar."""
    path = tmp_path_factory.mktemp("look") / "state.json"
    context = browser_once.new_context(timezone_id=ZONE)
    page = context.new_page()
    page.goto(shared_agent_ready.url + "/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))
    context.storage_state(path=str(path))
    context.close()
    return path


def _context(browser: Browser, state: Path, size: str, theme: str) -> BrowserContext:
    width, height = SIZES[size]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        color_scheme="dark" if theme == "dark" else "light",
        storage_state=str(state),
        timezone_id=ZONE,
    )
    context.set_default_timeout(10_000)
    return context


@pytest.mark.parametrize("third", [0, 1, 2])
@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_fits_and_works(
    browser_once: Browser,
    shared_agent_ready: LiveServer,
    seeded: Seeded,
    state: Path,
    size: str,
    third: int,
) -> None:
    """Each page is loaded once in the light theme, then the system's scheme turns dark: the
    page follows it live (theme.js), so both themes are seen from one load (half the loads;
    a dark first paint is checked by the login page test below)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    width = SIZES[size][0]
    context = _context(browser_once, state, size, "light")
    page = context.new_page()
    watch = Watch(page)
    overflow: dict[str, int] = {}
    every = list(pages(seeded).items())
    for name, (path, ready) in every[third::3]:
        watch.name = name
        page.emulate_media(color_scheme="light")
        page.goto(shared_agent_ready.url + path, wait_until="domcontentloaded")
        expect(page.locator(ready).first).to_be_attached()
        for theme in ("light", "dark"):
            page.emulate_media(color_scheme=theme)
            expect(page.locator("html")).to_have_attribute("data-theme", theme)
            wide = page.evaluate(WIDEST)
            if wide > width:
                overflow[f"{name} ({theme})"] = wide
            page.screenshot(path=str(SHOTS / f"{name}-{width}-{theme}.png"), full_page=True)
    context.close()
    assert overflow == {}, f"pages wider than {width}px: {overflow}"
    assert watch.problems == []


def test_the_theme_toggle_the_menu_and_the_browsers_zone(
    browser_once: Browser, shared_agent_ready: LiveServer, seeded: Seeded, state: Path
) -> None:
    context = _context(browser_once, state, "phone", "light")
    page = context.new_page()
    page.goto(shared_agent_ready.url + "/")
    # Times are in the browser's zone (the user chose none), labelled with it.
    expect(page.locator("#dash-body")).to_contain_text("EST")
    # On a phone the navigation hides behind the menu button.
    nav = page.locator("#main-nav")
    expect(nav).to_be_hidden()
    page.click("[data-menu-toggle]")
    expect(nav).to_be_visible()
    expect(page.locator("[data-menu-toggle]")).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    # The toggle switches the theme, and this browser remembers it from the first paint on.
    page.click("[data-theme-toggle]")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    ground = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.goto(shared_agent_ready.url + f"/groups/{seeded.gid}")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == ground
    assert ground != "rgb(243, 245, 248)"  # the light ground
    # The graph takes the theme's colours, and changes with it.
    expect(page.locator("#graph[data-rendered]")).to_be_attached()
    dark_fill = page.evaluate(GRAPH_FILL)
    page.click("[data-theme-toggle]")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert page.evaluate(GRAPH_FILL) != dark_fill
    context.close()


def test_the_widest_pages_fit_a_tablet(
    browser_once: Browser, shared_agent_ready: LiveServer, seeded: Seeded, state: Path
) -> None:
    """Between phone and desktop (1024 wide: two columns, the menu button) nothing spills."""
    context = browser_once.new_context(
        viewport={"width": 1024, "height": 768}, storage_state=str(state), timezone_id=ZONE
    )
    page = context.new_page()
    every = pages(seeded)
    overflow = {}
    for name in ("dashboard", "tasks", "task-runs", "run-detail", "group-detail", "admin-users"):
        path, ready = every[name]
        page.goto(shared_agent_ready.url + path, wait_until="domcontentloaded")
        expect(page.locator(ready).first).to_be_attached()
        if (wide := page.evaluate(WIDEST)) > 1024:
            overflow[name] = wide
    context.close()
    assert overflow == {}


def test_the_login_page_at_both_widths_and_themes(
    browser_once: Browser, shared_agent_ready: LiveServer
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size, (width, height) in SIZES.items():
        for theme in ("light", "dark"):
            context = browser_once.new_context(
                viewport={"width": width, "height": height},
                color_scheme="dark" if theme == "dark" else "light",
            )
            page = context.new_page()
            watch = Watch(page)
            watch.name = f"login-{size}-{theme}"
            page.goto(shared_agent_ready.url + "/login")
            expect(page.locator("html")).to_have_attribute("data-theme", theme)
            assert page.evaluate(WIDEST) <= width
            page.screenshot(path=str(SHOTS / f"login-{width}-{theme}.png"), full_page=True)
            context.close()
            assert watch.problems == []


GRAPH_FILL = "almanacGraph().nodes()[0].style('background-color')"
