"""`almanac task run --param/--date` and `almanac run show` against a real server and agent:
the command, a real process, sees each value as one argument and in its environment."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import Result
from support import LiveServer, wait_for

Cli = Callable[..., Result]
COMMAND = (
    "sh -c 'echo $#' argv0 ${param.region}; "
    'echo "$ALMANAC_BUSINESS_DATE|$ALMANAC_PARAM_REGION|$ALMANAC_PARAM_COUNT|$ALMANAC_TASK"'
)


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The server this test process shares (tests/conftest.py): own names only."""
    return shared_agent_ready


def test_task_run_with_params_and_date(almanac: Cli, agent_ready: LiveServer) -> None:
    params = [
        {"name": "region", "type": "string", "default": "EU"},
        {"name": "count", "type": "integer", "default": 1},
    ]
    with agent_ready.client() as http:
        created = http.post(
            "/tasks", json={"name": "cli-ctx", "command": COMMAND, "params": params}
        )
        assert created.status_code == 201, created.text
        tid = created.json()["tid"]
    result = almanac(
        "task", "run", str(tid), "--param", "region=; rm -rf /", "-p", "count=4",
        "--date", "2026-01-05", "-w",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run_id = result.stdout.split()[1]
    logs = almanac("run", "logs", run_id)
    assert logs.stdout == "1\n2026-01-05|; rm -rf /|4|cli-ctx\n"
    shown = almanac("run", "show", run_id)
    assert "business date 2026-01-05" in shown.stdout
    assert 'param region = "; rm -rf /"' in shown.stdout and "param count = 4" in shown.stdout
    data = json.loads(almanac("run", "show", run_id, "--json").stdout)
    assert data["params"] == {"region": "; rm -rf /", "count": 4}

    again = almanac("run", "rerun", run_id, "--param", "count=8")
    assert again.exit_code == 0, again.output
    with agent_ready.client() as http:
        rerun = http.get(f"/runs/{run_id}").json()
    assert rerun["params"] == {"region": "; rm -rf /", "count": 8}
    assert rerun["business_date"] == "2026-01-05"

    refused = almanac("task", "run", str(tid), "--param", "count=many")
    assert refused.exit_code != 0 and "params.count" in refused.output
    malformed = almanac("task", "run", str(tid), "--param", "count")
    assert malformed.exit_code != 0 and "NAME=VALUE" in malformed.output


def test_task_run_on_a_chosen_agent(almanac: Cli, agent_ready: LiveServer) -> None:
    with agent_ready.client() as http:
        agent = next(a["name"] for a in http.get("/agents").json() if a["connected"])
        created = http.post(
            "/tasks",
            json={"name": "cli-on-agent", "command": "echo ${param.n}", "target": "elsewhere",
                  "params": [{"name": "n", "type": "integer", "default": 1}]},
        )  # fmt: skip
        tid = created.json()["tid"]
    result = almanac("task", "run", str(tid), "--agent", agent, "-p", "n=5", "-w")
    assert result.exit_code == 0, result.output
    assert almanac("run", "logs", result.stdout.split()[1]).stdout == "5\n"
    refused = almanac("task", "run", str(tid), "--agent", "no-such-agent")
    assert refused.exit_code != 0 and "agent" in refused.output


def test_group_run_with_params_and_date(almanac: Cli, agent_ready: LiveServer) -> None:
    """`almanac group run --param`: the values reach the group's task (a group value it does
    not declare too) and its real process, each as one argument."""
    with agent_ready.client() as http:
        task = http.post(
            "/tasks", json={"name": "cli-group-ctx", "command": COMMAND, "params": [
                {"name": "region", "type": "string", "default": "EU"}]},
        ).json()  # fmt: skip
        group = http.post(
            "/groups",
            json={"name": "cli-group-ctx", "tasks": [task["tid"]],
                  "params": [{"name": "count", "type": "integer", "default": 1}]},
        )  # fmt: skip
        assert group.status_code == 201, group.text
        gid = group.json()["gid"]
    result = almanac(
        "group", "run", str(gid), "--param", "region=; rm -rf /", "-p", "count=4",
        "--date", "2026-01-06",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    started = json.loads(result.stdout)
    assert started["business_date"] == "2026-01-06"
    with agent_ready.client() as http:
        detail = wait_for(
            lambda: (r := http.get(f"/group-runs/{started['id']}").json())["status"]
            in {"SUCCESS", "FAILED", "TERMINATED"} and r,
            timeout=30,
        )  # fmt: skip
    [run] = detail["runs"]
    assert detail["status"] == "SUCCESS", detail
    assert run["params"] == {"region": "; rm -rf /", "count": 4}
    logs = almanac("run", "logs", str(run["id"]))
    assert logs.stdout == "1\n2026-01-06|; rm -rf /|4|cli-group-ctx\n"
    refused = almanac("group", "run", str(gid), "--param", "count=many")
    assert refused.exit_code != 0 and "params.count" in refused.output
