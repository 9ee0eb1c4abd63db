"""`almanac adhoc`, `submit`, `batch`, `task update/delete`, `run kill/pause/resume/watch`."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import Result
from support import LiveServer, wait_for

Cli = Callable[..., Result]


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The server this test process shares (tests/conftest.py): these tests keep to
    their own names."""
    return shared_agent_ready


def test_adhoc_waits_and_prefixes_output_with_the_agent(almanac: Cli, agent_name: str) -> None:
    result = almanac(
        "adhoc", "--agents", agent_name, "-w", "--", "echo one; echo two; echo oops >&2"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("batch ")
    lines = result.stdout.splitlines()
    assert f"{agent_name} | one" in lines and f"{agent_name} | two" in lines
    assert lines.index(f"{agent_name} | one") < lines.index(f"{agent_name} | two")
    assert f"{agent_name}:err | oops" in lines
    assert "SUCCESS" in result.stdout


def test_adhoc_fails_when_a_run_fails_and_joins_several_words(
    almanac: Cli, agent_name: str
) -> None:
    result = almanac("adhoc", "--all", "-w", "--", "sh", "-c", "echo it is $0; exit 4")
    assert result.exit_code == 1
    assert f"{agent_name} | it is sh" in result.stdout
    bad = almanac("adhoc", "--agents", "ghost", "--", "true")
    assert bad.exit_code == 1 and "unknown agent 'ghost'" in bad.output


def test_submit_with_resources(almanac: Cli, agent_name: str) -> None:
    result = almanac(
        "submit",
        "-t",
        agent_name,
        "-c",
        "1",
        "-m",
        "256M",
        "--env",
        "GREETING=hello there",
        "-w",
        "--",
        "echo $GREETING",
    )
    assert result.exit_code == 0, result.output
    assert f"{agent_name} | hello there" in result.stdout
    # GPUs 0 and 1 of an agent that has none: refused when submitted, naming the field.
    no_gpus = almanac("submit", "-t", f"{agent_name}::0,1", "--json", "--", "true")
    assert no_gpus.exit_code == 1 and "gpus: asks GPUs 0,1: no agent could ever hold it" in (
        no_gpus.output
    )
    # KohakuRiver's AGENT:NUMA form: on this one-node host the binding is a no-op.
    started = almanac("submit", "-t", f"{agent_name}:0", "--json", "--", "true")
    run = json.loads(started.stdout)
    assert run["trigger_kind"] == "adhoc" and run["target"] == agent_name
    refused = almanac("submit", "-t", f"{agent_name}::x", "--", "true")
    assert refused.exit_code == 2 and "GPUs must be indices" in refused.output


def test_batch_show_and_kill(almanac: Cli, agent_name: str, agent_ready: LiveServer) -> None:
    started = json.loads(
        almanac("adhoc", "--agents", agent_name, "--json", "--", "sleep 60").stdout
    )
    batch = started["batch_id"]
    run_id = started["runs"][0]["id"]
    with agent_ready.client() as http:
        wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] == "RUNNING", timeout=30)
    shown = almanac("batch", "show", batch)
    assert shown.exit_code == 0 and "RUNNING" in shown.stdout
    assert almanac("batch", "kill", batch, input="n\n").exit_code == 1
    assert almanac("batch", "kill", batch, "-y").exit_code == 0
    waited = almanac("batch", "wait", batch)
    assert waited.exit_code == 1 and "TERMINATED" in waited.stdout


def test_task_update_and_delete(almanac: Cli) -> None:
    created = json.loads(
        almanac("task", "create", "--name", "t", "--command", "true", "--json").stdout
    )
    tid = str(created["tid"])
    updated = almanac(
        "task", "update", tid, "--command", "echo new", "--cron", "0 5 * * *", "--json"
    )
    assert updated.exit_code == 0, updated.output
    task = json.loads(updated.stdout)
    assert task["command"] == "echo new" and task["next_fire_time"] is not None
    assert almanac("task", "update", tid).exit_code == 2  # nothing to change
    assert almanac("task", "delete", tid, input="n\n").exit_code == 1
    assert almanac("task", "delete", tid, input="y\n").exit_code == 0
    assert tid not in [str(t["tid"]) for t in json.loads(almanac("task", "list", "--json").stdout)]


def test_run_kill_pause_resume_and_watch(almanac: Cli, agent_ready: LiveServer) -> None:
    created = json.loads(
        almanac("task", "create", "--name", "s", "--command", "sleep 60", "--json").stdout
    )
    with agent_ready.client() as http:
        run_id = http.post(f"/tasks/{created['tid']}/run").json()["id"]
        wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] == "RUNNING", timeout=30)
        assert almanac("run", "pause", str(run_id)).exit_code == 0
        wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] == "PAUSED", timeout=30)
        assert almanac("run", "resume", str(run_id)).exit_code == 0
        wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] == "RUNNING", timeout=30)
    declined = almanac("run", "kill", str(run_id), input="n\n")
    assert declined.exit_code == 1 and "Kill run" in declined.output
    assert almanac("run", "kill", str(run_id), "-y").exit_code == 0
    watched = almanac("run", "watch", str(run_id), "--timeout", "30")
    assert watched.exit_code == 1
    assert f"run {run_id} TERMINATED" in watched.stdout
    assert "already ended TERMINATED" in almanac("run", "kill", str(run_id)).stdout


def test_watch_exits_zero_on_success(almanac: Cli, agent_ready: LiveServer) -> None:
    created = json.loads(
        almanac("task", "create", "--name", "ok", "--command", "true", "--json").stdout
    )
    with agent_ready.client() as http:
        run_id = http.post(f"/tasks/{created['tid']}/run").json()["id"]
    watched = almanac("run", "watch", str(run_id), "--timeout", "60")
    assert watched.exit_code == 0, watched.output
    assert f"run {run_id} SUCCESS" in watched.stdout and "took " in watched.stdout


def test_task_run_waits_and_prints_every_state_with_its_time(almanac: Cli) -> None:
    created = json.loads(
        almanac("task", "create", "--name", "w", "--command", "true", "--json").stdout
    )
    result = almanac("task", "run", str(created["tid"]), "-w")
    assert result.exit_code == 0, result.output
    states = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [s[0] for s in states] == ["ACTIVE", "TRIGGER", "STARTED", "RUNNING", "SUCCESS"]
    times = [s[1] for s in states]
    assert times == sorted(times) and all("." in t for t in times)  # microseconds
