"""Task Runs pages by key (`before` / `after` run ids): walking Older and Newer by the pager's
links shows every run once, in order, under any filter; the API pages the same way; the live
stream inserts newcomers only into the top page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.db.engine import session_scope
from app.db.tables import Run, Task
from app.domain.states import RunStatus, TriggerKind
from app.services.runs_view import run_public
from app.web.live_runs import LivePage
from app.web.runs_list import RunFilters

NOW = datetime.now(UTC)


def _seed(engine: Engine, count: int) -> dict[int, tuple[str, str]]:
    """`count` runs over two tasks, alternately SUCCESS / FAILED: id -> (task, status)."""
    made: dict[int, tuple[str, str]] = {}
    with session_scope(engine) as session:
        tasks = [Task(name=name, command="true") for name in ("alpha-job", "beta-job")]
        session.add_all(tasks)
        session.flush()
        for i in range(count):
            task = tasks[i % 3 % 2]
            status = RunStatus.SUCCESS if i % 2 else RunStatus.FAILED
            at = NOW - timedelta(minutes=count - i)
            run = Run(
                task_id=task.id,
                status=status,
                trigger_kind=TriggerKind.MANUAL,
                trigger_time=at,
                finished_at=at,
                spec={"task_name": task.name, "command": "true"},
            )
            session.add(run)
            session.flush()
            made[run.id or 0] = (task.name, status.value)
    return made


def _walk(web: TestClient, query: str) -> tuple[list[int], list[str]]:
    """Follow the Older links from the top page; returns the ids seen and the links used."""
    seen: list[int] = []
    links: list[str] = []
    url = "/task-runs?" + query
    while True:
        response = web.get(url)
        assert response.status_code == 200, response.text
        seen.extend(row.run.id for row in response.context["page"].rows)
        older = re.search(r'href="(/task-runs\?[^"]*)"[^>]*>Older', response.text)
        if older is None:
            return seen, links
        url = older.group(1).replace("&amp;", "&")
        links.append(url)


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("", lambda task, status: True),
        ("status=FAILED", lambda task, status: status == "FAILED"),
        ("q=beta", lambda task, status: task == "beta-job"),
        (
            "q=alpha&status=SUCCESS",
            lambda task, status: task == "alpha-job" and status == "SUCCESS",
        ),
    ],
)
def test_older_links_walk_every_run_once_in_order(
    web: TestClient, web_engine: Engine, query: str, wanted: object
) -> None:
    made = _seed(web_engine, 230)
    seen, links = _walk(web, query)
    expected = sorted((i for i, (t, s) in made.items() if wanted(t, s)), reverse=True)  # type: ignore[operator]
    assert seen == expected
    assert links and all("before=" in link and "page=" in link for link in links)


def test_newer_link_goes_back_to_the_page_above(web: TestClient, web_engine: Engine) -> None:
    made = _seed(web_engine, 160)
    ids = sorted(made, reverse=True)
    third = web.get(f"/task-runs?page=3&before={ids[99]}")
    assert [row.run.id for row in third.context["page"].rows] == ids[100:150]
    link = re.search(r'href="([^"]*)"[^>]*>(?:(?!</a>).)*Newer', third.text, re.S)
    assert link is not None
    url = link.group(1).replace("&amp;", "&")
    assert "after=" in url and "page=2" in url
    second = web.get(url)
    assert [row.run.id for row in second.context["page"].rows] == ids[50:100]
    assert second.context["page"].has_more
    # From page 2, Newer is the top page itself (no cursor): it takes live newcomers.
    top = re.search(r'href="([^"]*)"[^>]*>(?:(?!</a>).)*Newer', second.text, re.S)
    assert top is not None and "after=" not in top.group(1) and "before=" not in top.group(1)


def test_api_pages_by_key(api: TestClient, web_engine: Engine) -> None:
    made = _seed(web_engine, 120)
    ids = sorted(made, reverse=True)
    first = api.get("/api/v1/runs", params={"page_size": 50}).json()
    below = api.get("/api/v1/runs", params={"page_size": 50, "before": ids[49]}).json()
    assert [r["id"] for r in first["items"]] + [r["id"] for r in below["items"]] == ids[:100]
    above = api.get("/api/v1/runs", params={"page_size": 50, "after": ids[50]}).json()
    assert [r["id"] for r in above["items"]] == ids[:50]
    last = api.get("/api/v1/runs", params={"page_size": 50, "before": ids[99]}).json()
    assert [r["id"] for r in last["items"]] == ids[100:] and not last["has_more"]
    both = api.get("/api/v1/runs", params={"before": 5, "after": 1})
    assert both.status_code == 422 and "after" in both.text


def test_only_the_top_page_takes_live_newcomers() -> None:
    run = run_public(Run(id=99, status="ACTIVE", trigger_kind="manual", trigger_time=NOW, spec={}))
    assert LivePage(filters=RunFilters(), shown=[5]).apply([run], NOW)
    assert not LivePage(filters=RunFilters(before=10), shown=[5]).apply([run], NOW)
    assert not LivePage(filters=RunFilters(after=3, page=2), shown=[5]).apply([run], NOW)
