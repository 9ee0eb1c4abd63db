"""The Python client's run for a date with params, against a real server and agent: a task
and a group run whose params reach its tasks, each a real process."""

from __future__ import annotations

import pytest
from support import wait_for

from app.client import Almanac, AlmanacAPIError


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


def test_adhoc_on_a_task_runs_it_now_on_the_chosen_agent(client: Almanac, agent_name: str) -> None:
    """The task's target is an agent that never connects: the run for this one time goes to
    the agent chosen, with its parameter values and business date."""
    task = client.tasks.create(
        name="client-adhoc-on-task",
        command="echo ${param.n} $ALMANAC_BUSINESS_DATE",
        target="never-connects",
        params=[{"name": "n", "type": "integer", "default": 1}],
    )
    run = client.tasks.run(
        task["tid"], params={"n": "7"}, business_date="2026-03-02", agent=agent_name
    )
    assert run.wait(timeout=60, on_change=lambda _s: None) == "SUCCESS"
    assert run.logs() == "7 2026-03-02\n"
    assert run.data["agent"] == agent_name and run.data["params"] == {"n": 7}


def test_a_run_is_run_again_with_new_values(client: Almanac) -> None:
    """`RunHandle.rerun`: the same run, its business date kept, the value given replaced and
    the other kept; an unknown value is refused naming it, and nothing restarts."""
    task = client.tasks.create(
        name="client-rerun",
        command="echo ${param.n} ${param.who} $ALMANAC_BUSINESS_DATE; test ${param.n} -gt 1",
        params=[
            {"name": "n", "type": "integer", "default": 1},
            {"name": "who", "type": "string", "default": "me"},
        ],
    )
    run = client.tasks.run(task["tid"], business_date="2026-02-27", params={"who": "you"})
    assert run.wait(timeout=60, on_change=lambda _s: None) == "FAILED"
    with pytest.raises(AlmanacAPIError) as refused:
        run.rerun(params={"nope": 1})
    assert refused.value.status == 422 and "params.nope" in str(refused.value)
    assert run.refresh().status == "FAILED"
    assert run.rerun(params={"n": 2}) == [run.id]
    assert run.data["attempt"] == 2 and run.data["params"] == {"n": 2, "who": "you"}
    assert run.wait(timeout=60, on_change=lambda _s: None) == "SUCCESS"
    assert run.logs() == "2 you 2026-02-27\n"
