"""Task Runs' power tools: filters in the URL (checked, the error shown), sortable columns,
Past / Upcoming, jump to a date, bulk kill and re-run (operators only, scope per run, each
audited), and the task list's last-run column."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from group_history import TaskRun, nightly_success, seed_group, seed_group_run
from sqlalchemy import Engine, func
from sqlmodel import select
from support import seed_user
from web.web_helpers import sign_in

from app.db.engine import session_scope
from app.db.tables import AuditEvent, Run
from app.domain.states import RunStatus, TriggerKind


def _ids(response: object) -> list[int]:
    return [row.run.id for row in response.context["page"].rows]  # type: ignore[attr-defined]


def _planned(engine: Engine, tid: int, at: datetime) -> int:
    with session_scope(engine) as session:
        run = Run(
            task_id=tid,
            status=RunStatus.IDLE,
            trigger_kind=TriggerKind.SCHEDULE,
            trigger_time=at,
            created_at=at,
            spec={"task_name": "planned"},
        )
        session.add(run)
        session.flush()
        return run.id or 0


@pytest.fixture
def history(web_engine: Engine) -> dict[str, object]:
    """Two groups, three dates; runs on agents a1 and a2; one planned run."""
    nightly = seed_group(web_engine)
    other = seed_group(web_engine, "weekly", tasks=("extract",), edges=())
    runs: dict[str, int] = {}
    for day in (1, 2, 3):
        _, ids = seed_group_run(web_engine, nightly, day=date(2026, 3, day), runs=nightly_success())
        runs.update({f"{name}-{day}": rid for name, rid in ids.items()})
    _, ids = seed_group_run(
        web_engine,
        other,
        day=date(2026, 3, 2),
        runs={"extract": TaskRun(status=RunStatus.FAILED, dispatched=1, finished=2, agent="a2")},
    )
    runs["weekly-2"] = ids["extract"]
    runs["planned"] = _planned(
        web_engine, nightly.tids["load"], datetime(2026, 3, 9, 6, tzinfo=UTC)
    )
    return {"nightly": nightly, "other": other, "runs": runs}


def test_filters_by_group_agent_kind_business_date(web: TestClient, history: dict) -> None:
    runs, nightly, other = history["runs"], history["nightly"], history["other"]
    by_group = web.get(f"/task-runs?group={other.gid}")
    assert _ids(by_group) == [runs["weekly-2"]]
    assert web.get("/task-runs?agent=a2").context["page"].rows[0].run.id == runs["weekly-2"]
    assert len(_ids(web.get("/task-runs?agent=a1"))) == 12
    assert _ids(web.get("/task-runs?kind=manual")) == []
    day = web.get(f"/task-runs?business_date=2026-03-02&group={nightly.gid}")
    assert sorted(_ids(day)) == sorted(
        runs[f"{n}-2"] for n in ("extract", "transform", "check", "load")
    )
    # The filters travel in every link of the page (shareable).
    assert f"group={nightly.gid}" in day.text and "business_date=2026-03-02" in day.text


def test_custom_range_and_jump_are_read_in_the_viewers_zone(web: TestClient, history: dict) -> None:
    runs = history["runs"]
    # Runs of 2026-03-02 trigger at 06:00 UTC.
    ranged = web.get("/task-runs?from=2026-03-02T05:00&to=2026-03-02T07:00")
    assert runs["load-2"] in _ids(ranged) and runs["load-1"] not in _ids(ranged)
    assert runs["weekly-2"] in _ids(ranged)
    whole_day = web.get("/task-runs?from=2026-03-03&to=2026-03-03")
    assert sorted(_ids(whole_day)) == sorted(
        runs[f"{n}-3"] for n in ("extract", "transform", "check", "load")
    )
    jumped = web.get("/task-runs?jump=2026-03-01")
    assert sorted(_ids(jumped)) == sorted(
        runs[f"{n}-1"] for n in ("extract", "transform", "check", "load")
    )


def test_sort_by_a_column_both_ways(web: TestClient, history: dict) -> None:
    runs = history["runs"]
    ascending = _ids(web.get("/task-runs?sort=finished_at&order=asc"))
    assert ascending[0] == runs["extract-1"] and ascending[-1] == runs["load-3"]
    descending = web.get("/task-runs?sort=finished_at")
    assert _ids(descending)[0] == runs["load-3"]
    assert 'aria-sort="descending"' in descending.text
    assert "sort=finished_at&amp;order=asc" in descending.text  # the head's link turns it


def test_upcoming_runs_apart_from_past_ones(web: TestClient, history: dict) -> None:
    planned = history["runs"]["planned"]
    assert planned not in _ids(web.get("/task-runs"))
    assert _ids(web.get("/task-runs?view=upcoming")) == [planned]
    assert planned in _ids(web.get("/task-runs?view=all"))
    assert _ids(web.get("/task-runs?status=IDLE")) == [planned]  # the dashboard's link


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group=abc", "group"),
        ("kind=cron", "kind"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("jump=2026-03-01T08:00", "jump"),
        ("sort=command", "sort"),
        ("order=up", "order"),
        ("view=later", "view"),
        ("instance=a/b", "instance"),
        ("from=2026-03-05&to=2026-03-01", "to"),
    ],
)
def test_a_bad_filter_is_named_on_the_page(web: TestClient, query: str, field: str) -> None:
    response = web.get(f"/task-runs?{query}")
    assert response.status_code == 400
    assert response.context["filters"].more.error.startswith(f"{field}:")
    assert 'id="run-filter-error"' in response.text and response.context["page"].rows == []


def test_api_filters_and_refuses_bad_values_naming_them(api: TestClient, history: dict) -> None:
    runs = history["runs"]
    found = api.get("/api/v1/runs", params={"agent": "a2", "trigger_kind": "schedule"}).json()
    assert [r["id"] for r in found["items"]] == [runs["weekly-2"]]
    upcoming = api.get("/api/v1/runs", params={"view": "upcoming"}).json()
    assert [r["id"] for r in upcoming["items"]] == [runs["planned"]]
    ordered = api.get("/api/v1/runs", params={"sort": "started_at", "order": "asc"}).json()
    assert ordered["items"][0]["id"] == runs["extract-1"]
    day = api.get("/api/v1/runs", params={"business_date": "2026-03-02"}).json()
    assert len(day["items"]) == 5
    for params, field in (
        ({"sort": "command"}, "sort"),
        ({"trigger_kind": "x"}, "trigger_kind"),
        ({"business_date": "x"}, "business_date"),
        ({"view": "x"}, "view"),
    ):
        refused = api.get("/api/v1/runs", params=params)
        assert refused.status_code == 422
        assert refused.json()["detail"].startswith(f"{field}:")


def _active_runs(api: TestClient, name: str, count: int, instance: str = "default") -> list[int]:
    created = api.post(
        "/api/v1/tasks", json={"name": name, "command": "true", "instance": instance}
    )
    assert created.status_code == 201, created.text
    tid = created.json()["tid"]
    return [api.post(f"/api/v1/tasks/{tid}/run").json()["id"] for _ in range(count)]


def _audits(engine: Engine, action: str) -> int:
    with session_scope(engine) as session:
        return int(
            session.exec(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
            ).one()
        )


def test_bulk_kill_and_rerun_each_run_checked_and_audited(
    web_app: FastAPI, web_engine: Engine, api: TestClient
) -> None:
    mine = _active_runs(api, "mine", 2, instance="A")
    theirs = _active_runs(api, "theirs", 1, instance="B")
    seed_user(web_engine, "op-a", role="operator", instances=["A"])
    operator = TestClient(web_app, follow_redirects=False)
    sign_in(operator, "op-a")
    page = operator.get("/task-runs")
    assert 'form="bulk-form"' in page.text and 'id="bulk-form"' in page.text
    killed = operator.post(
        "/task-runs/bulk", data={"action": "kill", "run": [*map(str, mine), str(theirs[0])]}
    )
    assert killed.status_code == 200
    outcomes = {o["run"]: o for o in killed.context["outcomes"]}
    assert all(outcomes[r]["ok"] for r in mine)
    assert not outcomes[theirs[0]]["ok"] and "not found" in outcomes[theirs[0]]["text"]
    statuses = {r["id"]: r["status"] for r in api.get("/api/v1/runs").json()["items"]}
    assert [statuses[r] for r in mine] == ["TERMINATED", "TERMINATED"]
    assert statuses[theirs[0]] == "ACTIVE"
    assert _audits(web_engine, "run.kill") == 2
    rerun = operator.post("/task-runs/bulk", data={"action": "rerun", "run": [str(mine[0])]})
    assert rerun.context["outcomes"][0]["ok"]
    assert api.get(f"/api/v1/runs/{mine[0]}").json()["status"] == "ACTIVE"
    assert _audits(web_engine, "run.rerun") == 1


def test_a_viewer_gets_no_checkboxes_and_a_403(login: object, api: TestClient) -> None:
    runs = _active_runs(api, "watched", 1)
    viewer = login("viewer")  # type: ignore[operator]
    page = viewer.get("/task-runs")
    assert 'form="bulk-form"' not in page.text and "bulk-form" not in page.text
    refused = viewer.post("/task-runs/bulk", data={"action": "kill", "run": [str(runs[0])]})
    assert refused.status_code == 403
    assert api.get(f"/api/v1/runs/{runs[0]}").json()["status"] == "ACTIVE"


def test_task_list_shows_each_tasks_last_run(web: TestClient, history: dict) -> None:
    runs = history["runs"]
    text = web.get("/tasks").text
    assert f'href="/task-runs/{runs["load-3"]}"' in text  # its last run, not the planned one
    assert f'href="/task-runs/{runs["planned"]}"' not in text
    assert 'data-last-status="SUCCESS"' in text
