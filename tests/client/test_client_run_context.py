"""The Python client's run for a date with params, against a real server and agent: a task
and a group run whose params reach its tasks, each a real process."""

from __future__ import annotations

from support import wait_for

from app.client import Almanac


def test_a_task_run_for_a_date_with_params(client: Almanac) -> None:
    task = client.tasks.create(
        name="client-ctx",
        command="sh -c 'echo $#' argv0 ${param.who} ${business_date:%d/%m/%Y}",
        params=[{"name": "who", "type": "string", "required": True}],
    )
    run = client.tasks.run(task["tid"], business_date="2026-02-27", params={"who": "$(id) `x`"})
    assert run.wait(timeout=60, on_change=lambda _s: None) == "SUCCESS"
    assert run.logs() == "2\n"
    assert run.data["business_date"] == "2026-02-27"
    assert run.data["params"] == {"who": "$(id) `x`"}


def test_a_group_run_with_params_reaches_its_tasks(client: Almanac) -> None:
    group = client.groups.create(
        name="client-ctx-group",
        params=[{"name": "region", "type": "choice", "choices": ["EU", "US"], "default": "EU"}],
    )
    task = client.tasks.create(
        name="client-ctx-a",
        command='echo "$ALMANAC_GROUP $ALMANAC_BUSINESS_DATE" ${param.region}',
        group=group["gid"],
    )
    started = client.groups.run(group["gid"], business_date="2026-04-01", params={"region": "US"})
    assert started["business_date"] == "2026-04-01" and started["params"] == {"region": "US"}
    [run_id] = wait_for(
        lambda: [
            r["id"] for r in client.runs.list(task=task["tid"])["items"] if r["status"] == "SUCCESS"
        ],
        timeout=60,
    )
    assert client.runs.get(run_id).logs() == "client-ctx-group 2026-04-01 US\n"
