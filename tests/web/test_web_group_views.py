"""The group views as pages: grid, Gantt, heat maps and history, each in the viewer's
instances only."""

from __future__ import annotations

from datetime import date

from fastapi import FastAPI
from fastapi.testclient import TestClient
from group_history import T0, TaskRun, nightly_success, seed_group, seed_group_run
from sqlalchemy import Engine
from support import seed_user
from web.web_helpers import sign_in

from app.domain.group_run_states import GroupRunStatus
from app.domain.states import RunStatus


def test_grid_links_each_cell_to_its_run(web: TestClient, web_engine: Engine) -> None:
    seeded = seed_group(web_engine)
    gr, runs = seed_group_run(web_engine, seeded, day=date(2026, 3, 2), runs=nightly_success())
    response = web.get(f"/groups/{seeded.gid}/grid")
    assert response.status_code == 200
    assert response.template.name == "group_views/grid.html"
    assert f'href="/task-runs/{runs["load"]}"' in response.text
    assert f'href="/group-runs/{gr}/gantt"' in response.text
    assert 'href="/static/group_views.css"' in response.text
    html = {"Accept": "text/html"}
    bad = web.get(f"/groups/{seeded.gid}/grid?before=x", headers=html)
    assert bad.status_code == 400 and "before:" in bad.text
    both = web.get(f"/groups/{seeded.gid}/grid?before=3&after=1", headers=html)
    assert both.status_code == 422 and "after:" in both.text


def test_gantt_marks_the_critical_path(web: TestClient, web_engine: Engine) -> None:
    seeded = seed_group(web_engine)
    gr, _ = seed_group_run(
        web_engine, seeded, day=date(2026, 3, 2), trigger=T0, runs=nightly_success()
    )
    response = web.get(f"/group-runs/{gr}/gantt")
    assert response.status_code == 200
    gantt = response.context["gantt"]
    assert [r.name for r in gantt.rows if r.critical] == [
        "nightly-extract",
        "nightly-transform",
        "nightly-load",
    ]
    assert response.text.count('data-critical="true"') == 3
    assert "gv-waiting" in response.text  # check waited for a slot


def test_heat_maps_of_a_task_and_a_group(web: TestClient, web_engine: Engine) -> None:
    seeded = seed_group(web_engine)
    seed_group_run(web_engine, seeded, day=date(2026, 3, 2), runs=nightly_success())
    seed_group_run(
        web_engine,
        seeded,
        day=date(2026, 3, 3),
        status=GroupRunStatus.SKIPPED,
        runs={"load": TaskRun(status=RunStatus.SKIPPED, reason="skipped: calendar (Holiday)")},
    )
    task = web.get(f"/tasks/{seeded.tids['load']}/heatmap?end=2026-03-06")
    assert task.status_code == 200 and task.template.name == "group_views/heatmap.html"
    assert 'data-day="2026-03-02" data-outcome="success"' in task.text
    assert 'data-day="2026-03-03" data-outcome="skipped"' in task.text
    assert "skipped: calendar (Holiday)" in task.text
    group = web.get(f"/groups/{seeded.gid}/heatmap?end=2026-03-06")
    assert 'data-day="2026-03-02" data-outcome="success"' in group.text
    bad = web.get(f"/groups/{seeded.gid}/heatmap?end=yesterday", headers={"Accept": "text/html"})
    assert bad.status_code == 400 and "end:" in bad.text


def test_history_pages_by_keyset_as_a_fragment(web: TestClient, web_engine: Engine) -> None:
    seeded = seed_group(web_engine)
    ids = [
        seed_group_run(web_engine, seeded, day=date(2026, 3, d), runs=nightly_success())[0]
        for d in range(1, 24)
    ]
    first = web.get(f"/groups/{seeded.gid}/runs", headers={"HX-Request": "true"})
    assert first.template.name == "group_views/_history.html"
    shown = first.context["history"].group_runs
    assert [g.id for g in shown] == ids[::-1][:20]
    assert f"/groups/{seeded.gid}/runs?before={ids[3]}" in first.text
    older = web.get(f"/groups/{seeded.gid}/runs?before={ids[3]}")
    assert older.template.name == "group_views/history.html"
    assert [g.id for g in older.context["history"].group_runs] == ids[2::-1]
    assert "4 SUCCESS" in older.text


def test_a_viewer_of_one_instance_sees_none_of_another(
    web_app: FastAPI, web_engine: Engine, api: TestClient
) -> None:
    a = seed_group(web_engine, "alpha", instance="A")
    b = seed_group(web_engine, "beta", instance="B")
    gr_a, _ = seed_group_run(
        web_engine, a, day=date(2026, 3, 2), instance="A", runs=nightly_success()
    )
    gr_b, _ = seed_group_run(
        web_engine, b, day=date(2026, 3, 2), instance="B", runs=nightly_success()
    )
    seed_user(web_engine, "viewer-a", role="viewer", instances=["A"])
    viewer = TestClient(web_app, follow_redirects=False)
    sign_in(viewer, "viewer-a")
    html = {"Accept": "text/html"}
    for path in (
        f"/groups/{a.gid}/grid",
        f"/group-runs/{gr_a}/gantt",
        f"/groups/{a.gid}/heatmap",
        f"/tasks/{a.tids['load']}/heatmap",
        f"/groups/{a.gid}/runs",
    ):
        assert viewer.get(path, headers=html).status_code == 200, path
    for path in (
        f"/groups/{b.gid}/grid",
        f"/group-runs/{gr_b}/gantt",
        f"/groups/{b.gid}/heatmap",
        f"/tasks/{b.tids['load']}/heatmap",
        f"/groups/{b.gid}/runs",
    ):
        response = viewer.get(path, headers=html)
        assert response.status_code == 404, path
        assert "beta" not in response.text


def test_the_gantt_page_names_the_group_version_the_run_used(
    web: TestClient, api: TestClient
) -> None:
    gid = api.post("/api/v1/groups", json={"name": "etl"}).json()["gid"]
    api.post("/api/v1/tasks", json={"name": "extract", "command": "true", "group": gid})
    group_run = api.post(f"/api/v1/groups/{gid}/run").json()["id"]
    page = web.get(f"/group-runs/{group_run}/gantt")
    assert f'href="/groups/{gid}/history#v1">version 1</a> (the group\'s current version)' in (
        page.text
    )
    api.patch(f"/api/v1/groups/{gid}", json={"description": "nightly"})
    page = web.get(f"/group-runs/{group_run}/gantt")
    assert "this group run used" in page.text
    assert f'the group is now at <a href="/groups/{gid}/history#v2">version 2</a>' in page.text
