"""Groups end to end on the built-in agent: DAG conditions, skips, re-runs, manual success."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from support import LiveServer, wait_for

GROUP_DONE = {"SUCCESS", "FAILED", "TERMINATED"}


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The server this test process shares (tests/conftest.py): these tests keep to
    their own names."""
    return shared_agent_ready


def _group(
    http: httpx.Client, name: str, commands: dict[str, str], edges: list[tuple[str, str, str]]
) -> tuple[int, dict[str, int]]:
    tids = {
        label: http.post("/tasks", json={"name": f"{name}-{label}", "command": command}).json()[
            "tid"
        ]
        for label, command in commands.items()
    }
    gid = http.post("/groups", json={"name": name, "tasks": list(tids.values())}).json()["gid"]
    for upstream, downstream, condition in edges:
        response = http.post(
            f"/groups/{gid}/edges",
            json={
                "upstream": tids[upstream],
                "downstream": tids[downstream],
                "condition": condition,
            },
        )
        assert response.status_code == 201, response.text
    return gid, tids


def _finish(http: httpx.Client, group_run: int) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: (
                (r := http.get(f"/group-runs/{group_run}").json())["status"] in GROUP_DONE and r
            ),
            timeout=30,
        )
    )


def _by_task(detail: dict[str, Any], tids: dict[str, int]) -> dict[str, dict[str, Any]]:
    names = {tid: label for label, tid in tids.items()}
    return {names[r["task"]]: r for r in detail["runs"]}


def test_a_failed_branch_skips_its_descendants_and_the_other_branch_runs(
    agent_ready: LiveServer,
) -> None:
    with agent_ready.client() as http:
        gid, tids = _group(
            http,
            "diamond",
            {
                "extract": "echo extract",
                "clean": "exit 1",
                "load": "echo load",
                "report": "echo report",
                "notify": "echo notify",
            },
            [
                ("extract", "clean", "success"),
                ("extract", "load", "success"),
                ("clean", "report", "success"),
                ("load", "report", "success"),
                ("load", "notify", "success"),
            ],
        )
        group_run = http.post(f"/groups/{gid}/run").json()["id"]
        detail = _finish(http, group_run)
    runs = _by_task(detail, tids)
    assert detail["status"] == "FAILED"
    assert {k: v["status"] for k, v in runs.items()} == {
        "extract": "SUCCESS",
        "clean": "FAILED",
        "load": "SUCCESS",
        "report": "SKIPPED",
        "notify": "SUCCESS",
    }
    assert runs["report"]["reason"] == "upstream diamond-clean FAILED"


def test_failure_and_done_conditions(agent_ready: LiveServer) -> None:
    with agent_ready.client() as http:
        gid, tids = _group(
            http,
            "conditions",
            {
                "job": "exit 2",
                "on_failure": "echo recover",
                "on_success": "echo next",
                "always": "echo cleanup",
            },
            [
                ("job", "on_failure", "failure"),
                ("job", "on_success", "success"),
                ("job", "always", "done"),
            ],
        )
        detail = _finish(http, http.post(f"/groups/{gid}/run").json()["id"])
    runs = _by_task(detail, tids)
    assert {k: v["status"] for k, v in runs.items()} == {
        "job": "FAILED",
        "on_failure": "SUCCESS",
        "on_success": "SKIPPED",
        "always": "SUCCESS",
    }


def test_rerun_from_a_failed_task_runs_it_and_its_downstream_again(
    agent_ready: LiveServer,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "fixed"
    with agent_ready.client() as http:
        gid, tids = _group(
            http,
            "rerun",
            {"first": "echo first", "flaky": f"test -f {marker}", "after": "echo after"},
            [("first", "flaky", "success"), ("flaky", "after", "success")],
        )
        group_run = http.post(f"/groups/{gid}/run").json()["id"]
        runs = _by_task(_finish(http, group_run), tids)
        assert (runs["flaky"]["status"], runs["after"]["status"]) == ("FAILED", "SKIPPED")
        marker.write_text("ok")
        restarted = http.post(f"/runs/{runs['flaky']['id']}/rerun").json()
        assert restarted == [runs["flaky"]["id"], runs["after"]["id"]]
        detail = _finish(http, group_run)
        flaky = http.get(f"/runs/{runs['flaky']['id']}").json()
    assert detail["status"] == "SUCCESS"
    assert {k: v["status"] for k, v in _by_task(detail, tids).items()} == {
        "first": "SUCCESS",
        "flaky": "SUCCESS",
        "after": "SUCCESS",
    }
    assert flaky["attempt"] == 2
    assert [(e["attempt"], e["status"]) for e in flaky["events"]][-1] == (2, "SUCCESS")


def test_a_run_marked_success_by_hand_releases_its_downstream(agent_ready: LiveServer) -> None:
    with agent_ready.client() as http:
        gid, tids = _group(
            http,
            "manual",
            {"broken": "exit 1", "next": "echo next"},
            [("broken", "next", "success")],
        )
        group_run = http.post(f"/groups/{gid}/run").json()["id"]
        runs = _by_task(_finish(http, group_run), tids)
        assert runs["next"]["status"] == "SKIPPED"
        released = http.post(
            f"/runs/{runs['broken']['id']}/mark-success", json={"reason": "fixed the data by hand"}
        ).json()
        assert released == [runs["next"]["id"]]
        detail = _finish(http, group_run)
        broken = http.get(f"/runs/{runs['broken']['id']}").json()
    assert {k: v["status"] for k, v in _by_task(detail, tids).items()} == {
        "broken": "SUCCESS",
        "next": "SUCCESS",
    }
    assert broken["events"][-1]["detail"] == "marked SUCCESS by admin: fixed the data by hand"


def test_waiting_runs_say_what_they_wait_for_and_the_graph_shows_it(
    agent_ready: LiveServer,
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    with agent_ready.client() as http:
        gid, tids = _group(
            http,
            "waiting",
            {"slow": f"while [ ! -f {gate} ]; do sleep 0.05; done", "then": "echo then"},
            [("slow", "then", "success")],
        )
        group_run = http.post(f"/groups/{gid}/run").json()["id"]
        runs = _by_task(http.get(f"/group-runs/{group_run}").json(), tids)
        wait_for(lambda: http.get(f"/runs/{runs['slow']['id']}").json()["status"] == "RUNNING")
        waiting = http.get(f"/runs/{runs['then']['id']}").json()
        graph = http.get(f"/groups/{gid}/graph").json()
        gate.write_text("go")
        _finish(http, group_run)
    assert waiting["status"] == "ACTIVE"
    assert waiting["waiting_for"] == [
        {
            "kind": "upstream",
            "task": tids["slow"],
            "name": "waiting-slow",
            "run": runs["slow"]["id"],
            "status": "RUNNING",
            "detail": "waiting for upstream waiting-slow (RUNNING)",
        }
    ]
    assert graph["group_run"] == group_run
    assert graph["generations"] == [[tids["slow"]], [tids["then"]]]
    assert {n["name"]: n["status"] for n in graph["nodes"]} == {
        "waiting-slow": "RUNNING",
        "waiting-then": "ACTIVE",
    }
    assert graph["edges"] == [
        {"upstream": tids["slow"], "downstream": tids["then"], "condition": "success"}
    ]


def test_a_group_waits_for_another_groups_run_of_the_same_business_date(
    agent_ready: LiveServer,
) -> None:
    with agent_ready.client() as http:
        ingest, _ = _group(http, "ingest", {"fetch": "echo fetched"}, [])
        reports, report_tids = _group(http, "reports", {"build": "echo built"}, [])
        response = http.post(f"/groups/{reports}/dependencies", json={"upstream_group": ingest})
        assert response.status_code == 201 and response.json()["upstream_groups"] == [ingest]
        reports_run = http.post(f"/groups/{reports}/run").json()["id"]
        build = _by_task(http.get(f"/group-runs/{reports_run}").json(), report_tids)["build"]
        why = wait_for(lambda: http.get(f"/runs/{build['id']}/why").json())
        assert why[0]["kind"] == "upstream_group" and why[0]["name"] == "ingest"
        assert http.get(f"/runs/{build['id']}").json()["status"] == "ACTIVE"
        _finish(http, http.post(f"/groups/{ingest}/run").json()["id"])
        assert _finish(http, reports_run)["status"] == "SUCCESS"


def test_terminating_a_group_run_ends_every_run(agent_ready: LiveServer) -> None:
    with agent_ready.client() as http:
        gid, tids = _group(
            http,
            "stopme",
            {"long": "sleep 30", "later": "echo later"},
            [("long", "later", "success")],
        )
        group_run = http.post(f"/groups/{gid}/run").json()["id"]
        runs = _by_task(http.get(f"/group-runs/{group_run}").json(), tids)
        wait_for(lambda: http.get(f"/runs/{runs['long']['id']}").json()["status"] == "RUNNING")
        assert http.post(f"/group-runs/{group_run}/terminate").status_code == 200
        # The group run says TERMINATED at once; it is finished once the kill has landed.
        detail = wait_for(
            lambda: (r := http.get(f"/group-runs/{group_run}").json())["finished_at"] and r
        )
    assert detail["status"] == "TERMINATED"
    assert {k: v["status"] for k, v in _by_task(detail, tids).items()} == {
        "long": "TERMINATED",
        "later": "TERMINATED",
    }
