"""`almanac backfill` against a real server and its real agent: a group with a holiday
calendar backfilled over ten days; the dry run names the holidays, exactly the open dates
run, oldest first, never more than the cap at once, and each command prints the business
date it was given in $ALMANAC_BUSINESS_DATE."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest
from click.testing import Result
from support import LiveServer, wait_for

Cli = Callable[..., Result]
OPEN_DAYS = ["2026-04-01", "2026-04-02", "2026-04-07", "2026-04-08", "2026-04-09", "2026-04-10"]


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The server this test process shares (tests/conftest.py): own names only."""
    return shared_agent_ready


def _group(live: LiveServer) -> int:
    with live.client() as http:
        calendar = {"name": "bf-de", "country": "DE", "skip_weekends": True}
        assert http.post("/calendars", json=calendar).status_code == 201
        schedule = {"kind": "times", "times": ["06:00"], "days": "mon-fri", "calendar": "bf-de"}
        ids = []
        for name in ("bf-load", "bf-report"):
            body = {"name": name, "command": 'echo "$ALMANAC_BUSINESS_DATE"'}
            made = http.post("/tasks", json=body)
            assert made.status_code == 201, made.text
            ids.append(made.json()["tid"])
        group = http.post(
            "/groups", json={"name": "bf-nightly", "schedule": schedule, "tasks": ids}
        )
        assert group.status_code == 201, group.text
        gid = int(group.json()["gid"])
        edge = {"upstream": ids[0], "downstream": ids[1]}
        assert http.post(f"/groups/{gid}/edges", json=edge).status_code in (200, 201)
        return gid


def _most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


def test_a_group_backfill_runs_the_open_dates_each_with_its_date(
    almanac: Cli, agent_ready: LiveServer
) -> None:
    gid = _group(agent_ready)
    args = ["backfill", "group", "bf-nightly", "--start", "2026-04-01", "--end", "2026-04-10"]
    preview = almanac(*args, "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "holiday: Good Friday" in preview.stdout and "holiday: Easter Monday" in preview.stdout
    assert "dry run: 6 dates run, 4 skipped" in preview.stdout

    started = almanac(*args, "--max-concurrent", "2", "--json")
    assert started.exit_code == 0, started.output
    backfill = json.loads(started.stdout)["id"]
    with agent_ready.client() as http:
        wait_for(lambda: http.get(f"/backfills/{backfill}").json()["status"] == "done", timeout=90)
        shown = http.get(f"/backfills/{backfill}").json()
        group_runs = http.get("/group-runs", params={"group": gid}).json()
        details = [
            http.get(f"/group-runs/{g['id']}").json()
            for g in group_runs
            if g["trigger_kind"] == "backfill"  # not the schedule's next planned run
        ]
        logs = {
            run["id"]: http.get(f"/runs/{run['id']}/logs").json()["lines"]
            for detail in details
            for run in detail["runs"]
        }
    assert shown["progress"] == {"done": 6} and shown["statuses"] == {"SUCCESS": 6}
    by_id = sorted(details, key=lambda g: g["id"])
    assert [g["business_date"] for g in by_id] == OPEN_DAYS  # oldest first, once each
    for detail in by_id:
        assert {r["status"] for r in detail["runs"]} == {"SUCCESS"}
        for run in detail["runs"]:
            assert [line.strip() for line in logs[run["id"]]] == [detail["business_date"]]
    spans = [
        (datetime.fromisoformat(g["trigger_time"]), datetime.fromisoformat(g["finished_at"]))
        for g in by_id
    ]
    assert _most_at_once(spans) <= 2

    status = almanac("backfill", "status", str(backfill))
    assert status.exit_code == 0 and "bf-nightly: done (done 6)" in status.stdout
    again = almanac(*args, "--json")  # every date succeeded: nothing left to run
    assert json.loads(again.stdout)["run_count"] == 0


def test_cli_controls_and_refusals(almanac: Cli, agent_ready: LiveServer) -> None:
    with agent_ready.client() as http:
        made = http.post("/tasks", json={"name": "bf-cli-task", "command": "true"})
        assert made.status_code == 201
    args = ["backfill", "task", "bf-cli-task", "--start", "2030-01-01", "--end", "2032-12-31"]
    refused = almanac(*args, "--mode", "sometimes")
    assert refused.exit_code != 0 and "mode" in refused.output
    too_many = almanac(*args)
    assert (
        too_many.exit_code != 0
        and "confirm: 1096 dates would run, more than 1000" in too_many.output
    )
    started = almanac(*args, "--yes", "--json")
    assert started.exit_code == 0, started.output
    backfill = str(json.loads(started.stdout)["id"])
    assert almanac("backfill", "pause", backfill).stdout.strip() == f"backfill {backfill}: paused"
    assert almanac("backfill", "resume", backfill).stdout.strip().endswith("running")
    assert almanac("backfill", "cancel", backfill).stdout.strip().endswith("cancelled")
    again = almanac("backfill", "resume", backfill)
    assert again.exit_code != 0 and "cancelled" in again.output
    missing = almanac(
        "backfill", "task", "bf-no-such-task", "--start", "2030-01-01", "--end", "2030-01-02"
    )
    assert missing.exit_code != 0 and "no task named" in missing.output
