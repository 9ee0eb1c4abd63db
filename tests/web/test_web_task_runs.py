"""Task Runs: the page and its fragment, filters, pagination, and the live row patches."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from run_moves import move
from sqlalchemy import Engine
from support import wait_for

from app.db.engine import session_scope
from app.db.runs import get_run
from app.db.tables import Run
from app.domain.states import RunStatus
from app.models.schemas import RunPublic
from app.services.runs_view import run_public
from app.web.live_runs import LivePage
from app.web.runs_list import RunFilters


def _task(api: TestClient, name: str = "nightly-report") -> int:
    response = api.post("/api/v1/tasks", json={"name": name, "command": "echo hi"})
    assert response.status_code == 201, response.text
    return int(response.json()["tid"])


def _force(api: TestClient, tid: int) -> int:
    response = api.post(f"/api/v1/tasks/{tid}/run")
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _move(engine: Engine, run_id: int, *statuses: RunStatus, **changes: Any) -> None:
    for status in statuses:
        with session_scope(engine) as session:
            run = get_run(session, run_id, lock=True)
            move(session, run, status, at=datetime.now(UTC), **changes)


def test_page_lists_runs_newest_first(web: TestClient, api: TestClient) -> None:
    tid = _task(api)
    ids = [_force(api, tid) for _ in range(3)]
    response = web.get("/task-runs")
    assert response.status_code == 200
    assert response.template.name == "task_runs/page.html"
    page = response.context["page"]
    assert [row.run.id for row in page.rows] == sorted(ids, reverse=True)
    assert page.rows[0].run.task_name == "nightly-report"
    assert response.context["active"] == "runs"
    assert 'sse-connect="/task-runs/events?seq=' in response.text


def test_htmx_request_gets_the_fragment_only(web: TestClient, api: TestClient) -> None:
    _force(api, _task(api))
    response = web.get("/task-runs?status=ACTIVE", headers={"HX-Request": "true"})
    assert response.template.name == "task_runs/_live.html"
    assert "<html" not in response.text
    assert response.context["filters"] == RunFilters(status="ACTIVE")
    boosted = web.get("/task-runs", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert boosted.template.name == "task_runs/page.html"


def test_filters_by_name_status_and_range(
    web: TestClient, api: TestClient, web_engine: Engine
) -> None:
    report, backup = _task(api, "report"), _task(api, "backup")
    a, b = _force(api, report), _force(api, backup)
    _move(web_engine, a, RunStatus.TRIGGER, agent="a1")
    _move(web_engine, a, RunStatus.RUNNING)
    with session_scope(web_engine) as session:
        old = get_run(session, b)
        old.trigger_time = datetime.now(UTC) - timedelta(hours=30)

    def shown(query: str) -> list[int]:
        return [row.run.id for row in web.get("/task-runs?" + query).context["page"].rows]

    assert shown("q=rep") == [a]
    assert shown("status=RUNNING") == [a]
    assert shown("status=SUCCESS") == []
    assert shown("range=24h") == [a]
    assert shown("range=3d") == [b, a]
    assert shown("status=NOPE") == [b, a]  # an unknown status is ignored


def test_pagination_has_newer_and_older(web: TestClient, api: TestClient) -> None:
    tid = _task(api)
    ids = [_force(api, tid) for _ in range(55)]
    first = web.get("/task-runs")
    assert first.context["page"].has_more and len(first.context["page"].rows) == 50
    assert "Older" in first.text and "Newer" not in first.text
    second = web.get("/task-runs?page=2")
    assert [row.run.id for row in second.context["page"].rows] == sorted(ids)[:5][::-1]
    assert "Newer" in second.text and not second.context["page"].has_more


def test_adhoc_runs_carry_a_badge(web: TestClient, api: TestClient, web_engine: Engine) -> None:
    run_id = _force(api, _task(api))
    with session_scope(web_engine) as session:
        get_run(session, run_id).trigger_kind = "adhoc"
    assert '<span class="tag adhoc">ADHOC</span>' in web.get("/task-runs").text


def test_row_shows_the_lifecycle_chain(
    web: TestClient, api: TestClient, web_engine: Engine
) -> None:
    run_id = _force(api, _task(api))
    _move(web_engine, run_id, RunStatus.TRIGGER, RunStatus.STARTED, RunStatus.RUNNING, agent="a1")
    text = web.get("/task-runs").text
    assert '<span class="now s-running pulse">RUNNING</span>' in text
    assert '<span class="done">STARTED</span>' in text


def test_live_page_redraws_shown_rows_and_inserts_new_ones() -> None:
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def run(run_id: int, status: str = "ACTIVE") -> RunPublic:
        return run_public(
            Run(
                id=run_id,
                status=status,
                trigger_kind="manual",
                trigger_time=now,
                spec={"task_name": "x"},
            )
        )

    page = LivePage(filters=RunFilters(), shown=[10, 8, 7], page_size=3)
    patch = page.apply([run(8, "RUNNING"), run(11), run(9)], now)
    assert patch.updated == []  # 8 drops off the page
    assert [(r.id, before) for r, before in patch.inserted] == [(9, None), (11, 10)]
    assert patch.removed == [7, 8]
    assert page.shown == [11, 10, 9]
    # Page 2 and filtered pages take no newcomers the filters refuse.
    assert not LivePage(filters=RunFilters(page=2), shown=[5]).apply([run(20)], now)
    assert not LivePage(filters=RunFilters(status="FAILED"), shown=[]).apply([run(20)], now)
    assert (
        LivePage(filters=RunFilters(status="FAILED"), shown=[])
        .apply([run(20, "FAILED")], now)
        .inserted
    )


def test_stream_pushes_new_and_changed_rows(
    web: TestClient, api: TestClient, web_app: FastAPI, web_engine: Engine
) -> None:
    web_app.state.sse_lifetime = 1.5
    tid = _task(api)
    first = _force(api, tid)
    seq = web.get("/task-runs").context["seq"]
    body: list[str] = []
    reader = threading.Thread(
        target=lambda: body.append(web.get(f"/task-runs/events?seq={seq}").text)
    )
    reader.start()
    wait_for(lambda: web_app.state.events.listening, timeout=5)
    second = _force(api, tid)
    _move(web_engine, first, RunStatus.TRIGGER, agent="agent-1")
    reader.join(timeout=10)
    text = body[0]
    assert text.startswith("retry: ")
    assert "event: rows" in text
    assert f'hx-swap-oob="beforebegin:#run-{first}"' in text  # the new run goes on top
    assert f'id="run-{second}"' in text
    assert (
        f'<tr id="run-{first}" data-status="TRIGGER" class="flash" hx-swap-oob="outerHTML">' in text
    )


def test_stream_resyncs_a_stale_page(web: TestClient, api: TestClient, web_app: FastAPI) -> None:
    web_app.state.sse_lifetime = 1.0
    seq = web.get("/task-runs").context["seq"]
    run_id = _force(api, _task(api))  # after the page was drawn
    text = web.get(f"/task-runs/events?seq={seq}").text
    assert '<tbody id="run-rows" hx-swap-oob="outerHTML">' in text and f"run-{run_id}" in text
    fresh = web.get("/task-runs").context["seq"]
    assert "event: rows" not in web.get(f"/task-runs/events?seq={fresh}").text


def test_stream_redraws_when_runs_change_while_it_reads_the_page(
    web: TestClient, api: TestClient, web_app: FastAPI, monkeypatch: Any
) -> None:
    """A run created between the stream's subscribe and its read of the rows is in the rows
    it holds but was never sent to the browser: patching it in place would target a row the
    page lacks (htmx:oobErrorNoTarget), so the stream redraws the rows instead."""
    import anyio

    from app.web.routes import task_runs as route

    web_app.state.sse_lifetime = 1.0
    tid = _task(api)
    seq = web.get("/task-runs").context["seq"]
    real = route.load_page
    made: list[int] = []

    async def load_while_a_run_starts(*args: Any, **kwargs: Any) -> Any:
        if not made:
            made.append(await anyio.to_thread.run_sync(_force, api, tid))
        return await real(*args, **kwargs)

    monkeypatch.setattr(route, "load_page", load_while_a_run_starts)
    text = web.get(f"/task-runs/events?seq={seq}").text
    assert '<tbody id="run-rows" hx-swap-oob="outerHTML">' in text
    assert f'id="run-{made[0]}"' in text
