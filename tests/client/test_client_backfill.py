"""The Python client's backfills against a real server and agent: a dry run, then a task
backfilled over a week with a parameter, waited for; each run saw its own date."""

from __future__ import annotations

import pytest

from app.client import Almanac, AlmanacAPIError


def test_a_task_backfill_with_params_runs_each_date(client: Almanac) -> None:
    task = client.tasks.create(
        name="client-backfill",
        command='echo "$ALMANAC_BUSINESS_DATE" ${param.region}',
        params=[{"name": "region", "type": "string", "default": "EU"}],
        schedule={"kind": "times", "times": ["07:00"], "days": "mon-fri"},
    )
    week = ("2026-03-02", "2026-03-08")
    plan = client.backfills.task(task["tid"], *week, dry_run=True)
    assert plan["id"] is None and plan["run_count"] == 5
    assert {d["reason"] for d in plan["dates"] if d["action"] == "skip"} == {"weekend"}
    made = client.backfills.task(task["tid"], *week, max_concurrent=2, params={"region": "US"})
    done = client.backfills.wait(made["id"], timeout=90, poll=0.2)
    assert done["status"] == "done" and done["statuses"] == {"SUCCESS": 5}
    for day in done["dates"]:
        if day["action"] == "run":
            run = client.runs.get(day["run"])
            assert run.data["business_date"] == day["date"]
            assert run.logs() == f"{day['date']} US\n"
    assert [b["id"] for b in client.backfills.list(task=task["tid"])] == [made["id"]]
    with pytest.raises(AlmanacAPIError) as refused:
        client.backfills.task(task["tid"], "2026-03-08", "2026-03-02")
    assert refused.value.detail.startswith("end: ")
