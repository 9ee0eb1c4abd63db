"""From a task defined with the CLI to a finished run on the built-in agent, for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import LiveServer, wait_for

TERMINAL = {"SUCCESS", "FAILED", "TERMINATED", "SKIPPED"}


@pytest.fixture
def agent_ready(shared_agent_ready: LiveServer) -> LiveServer:
    """The server this test process shares (tests/conftest.py): these tests keep to
    their own names."""
    return shared_agent_ready


def _cli(live: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ALMANAC_URL=live.url, ALMANAC_TOKEN=live.token)
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_task_created_with_the_cli_runs_to_success(agent_ready: LiveServer) -> None:
    created = _cli(
        agent_ready,
        "task",
        "create",
        "--name",
        "skeleton-hello",
        "--json",
        "--command",
        "echo hello; echo to-stderr >&2; echo world",
    )
    assert created.returncode == 0, created.stderr
    tid = json.loads(created.stdout)["tid"]

    forced = _cli(agent_ready, "task", "run", str(tid), "--wait")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    run_id = int(forced.stdout.split()[1])

    with agent_ready.client() as http:
        run = http.get(f"/runs/{run_id}").json()
        stdout = http.get(f"/runs/{run_id}/logs", params={"stream": "stdout"}).json()
        stderr = http.get(f"/runs/{run_id}/logs", params={"stream": "stderr"}).json()
    assert run["status"] == "SUCCESS" and run["exit_code"] == 0
    assert [e["status"] for e in run["events"]] == [
        "ACTIVE",
        "TRIGGER",
        "STARTED",
        "RUNNING",
        "SUCCESS",
    ]
    times = [e["at"] for e in run["events"]]
    assert times == sorted(times) and all("." in t for t in times)  # microsecond stamps
    assert stdout["lines"] == ["hello", "world"]
    assert stderr["lines"] == ["to-stderr"]
    assert run["agent"] and run["duration_seconds"] is not None

    shown = _cli(agent_ready, "run", "show", str(run_id))
    assert "SUCCESS" in shown.stdout and "RUNNING" in shown.stdout
    logs = _cli(agent_ready, "run", "logs", str(run_id), "--stderr")
    assert logs.stdout == "to-stderr\n"


def test_a_failing_command_ends_failed_with_its_exit_code(agent_ready: LiveServer) -> None:
    with agent_ready.client() as http:
        failing = {"name": "skeleton-bad", "command": "echo nope >&2; exit 3"}
        tid = http.post("/tasks", json=failing).json()["tid"]
        run_id = http.post(f"/tasks/{tid}/run").json()["id"]
        run = wait_for(
            lambda: (r := http.get(f"/runs/{run_id}").json())["status"] in TERMINAL and r
        )
    assert (run["status"], run["exit_code"], run["reason"]) == ("FAILED", 3, "exit code 3")
    waited = _cli(agent_ready, "run", "wait", str(run_id))
    assert waited.returncode == 1


def test_a_run_on_an_unknown_target_waits_and_says_why(agent_ready: LiveServer) -> None:
    with agent_ready.client() as http:
        tid = http.post(
            "/tasks", json={"name": "skeleton-far", "command": "true", "target": "elsewhere"}
        ).json()["tid"]
        run_id = http.post(f"/tasks/{tid}/run").json()["id"]
        run = wait_for(lambda: (r := http.get(f"/runs/{run_id}").json())["reason"] and r)
    assert run["status"] == "ACTIVE"
    assert run["reason"] == "waiting for agent elsewhere to be online"
