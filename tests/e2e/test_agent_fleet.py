"""Draining and removing agents: a real server and real `almanac agent` processes.

A drained agent finishes what it runs and gets nothing new, across restarts of the server and
of the agent; an agent can be removed once it is offline, or drained with no runs left.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from support import (
    AS_THE_TEST_USER,
    CliOutcome,
    LiveServer,
    almanac_cli,
    seed_user,
    start_live_server,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]
_names = itertools.count(1)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env.update(extra)
    return env


class AgentProc:
    """`almanac agent` as a subprocess, its output in a file."""

    def __init__(self, url: str, token: str, name: str, data_dir: Path, log: Path) -> None:
        self.name = name
        self.log = log
        self._out: IO[bytes] = open(log, "ab")  # closed in stop()
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "agent",
                "--server",
                url,
                "--token",
                token,
                "--name",
                name,
                "--data-dir",
                str(data_dir),
                *AS_THE_TEST_USER,
            ],
            cwd=REPO,
            env=clean_env(),
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
        self._out.close()


class Fleet:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "server"
        self.live: LiveServer | None = None
        self.port = 0
        self.agents: list[AgentProc] = []
        self.server_up()
        assert self.live is not None
        self.admin: str = self.live.token
        self.operator: str = seed_user(self.live.engine, "op", role="operator")
        self.viewer: str = seed_user(self.live.engine, "viewer", role="viewer")
        self.agent_tokens: dict[str, str] = {}  # a token is bound to one agent name

    def agent_token(self, name: str) -> str:
        if name not in self.agent_tokens:
            with self.http() as http:
                created = http.post("/agents/tokens", json={"name": name})
            self.agent_tokens[name] = created.json()["token"]
        return self.agent_tokens[name]

    @property
    def url(self) -> str:
        assert self.live is not None
        return self.live.url

    def server_up(self) -> None:
        self.live = start_live_server(
            self.data_dir, port=self.port or None, local_agent=False, heartbeat_timeout_seconds=2
        )
        self.port = self.live.settings.port

    def server_down(self) -> None:
        assert self.live is not None
        self.live.stop()
        self.live.engine.dispose()
        self.live = None

    def http(self, token: str | None = None) -> httpx.Client:
        assert self.live is not None
        return httpx.Client(
            base_url=self.url + "/api/v1",
            timeout=30,
            headers={"Authorization": f"Bearer {token or self.live.token}"},
        )

    def start_agent(self, name: str) -> AgentProc:
        agent = AgentProc(
            self.url,
            self.agent_token(name),
            name,
            self.tmp_path / f"agent-{name}",
            self.tmp_path / f"agent-{name}.log",
        )
        self.agents.append(agent)
        wait_for(lambda: self.agent(name).get("connected"), timeout=30)
        return agent

    def agent(self, name: str) -> dict[str, Any]:
        with self.http() as http:
            rows = http.get("/agents").json()
        return next((dict(a) for a in rows if a["name"] == name), {})

    def run_on(self, name: str, command: str) -> int:
        with self.http() as http:
            task = http.post(
                "/tasks", json={"name": f"f-{next(_names)}", "command": command, "target": name}
            )
            assert task.status_code == 201, task.text
            return int(http.post(f"/tasks/{task.json()['tid']}/run").json()["id"])

    def run(self, run_id: int) -> dict[str, Any]:
        with self.http() as http:
            return dict(http.get(f"/runs/{run_id}").json())

    def wait_status(self, run_id: int, status: str) -> dict[str, Any]:
        return dict(wait_for(lambda: (r := self.run(run_id))["status"] == status and r, timeout=30))

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
        if self.live is not None:
            self.server_down()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    built = Fleet(tmp_path)
    try:
        yield built
    finally:
        built.close()


def gated(gate: Path) -> str:
    return f"echo started; while [ ! -e {gate} ]; do sleep 0.02; done; echo finished"


def waits_for_a_slot(fleet: Fleet, run_id: int, name: str) -> bool:
    """The run waits, and its reason says the agent is draining."""
    run = fleet.run(run_id)
    return run["status"] == "ACTIVE" and f"{name} is draining" in (run["reason"] or "")


def test_a_drained_agent_finishes_its_work_and_takes_none_until_undrained(
    fleet: Fleet, tmp_path: Path
) -> None:
    fleet.start_agent("w1")
    gate = tmp_path / "gate"
    first = fleet.run_on("w1", gated(gate))
    fleet.wait_status(first, "RUNNING")

    with fleet.http(fleet.operator) as http:
        response = http.post("/agents/w1/drain")
    assert response.status_code == 200, response.text
    drained = response.json()
    assert (drained["status"], drained["draining"], drained["running_runs"]) == (
        "draining",
        True,
        [first],
    )
    assert fleet.agent("w1")["draining"] is True

    second = fleet.run_on("w1", "echo second")
    wait_for(lambda: waits_for_a_slot(fleet, second, "w1"), timeout=30)

    gate.touch()
    assert fleet.wait_status(first, "SUCCESS")["exit_code"] == 0  # the running work finishes
    wait_for(lambda: waits_for_a_slot(fleet, second, "w1"), timeout=30)  # still none new

    with fleet.http(fleet.operator) as http:
        response = http.post("/agents/w1/undrain")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["draining"]) == ("online", False)
    fleet.wait_status(second, "SUCCESS")


def test_draining_survives_a_server_restart_and_an_agent_restart(
    fleet: Fleet, tmp_path: Path
) -> None:
    agent = fleet.start_agent("w1")
    with fleet.http() as http:
        assert http.post("/agents/w1/drain").status_code == 200

    fleet.server_down()
    fleet.server_up()
    wait_for(lambda: fleet.agent("w1").get("connected"), timeout=30)
    after = fleet.agent("w1")
    assert (after["status"], after["draining"]) == ("draining", True)

    agent.stop()  # SIGKILL: a new life of the agent says hello again
    fleet.start_agent("w1")
    assert (fleet.agent("w1")["status"], fleet.agent("w1")["draining"]) == ("draining", True)
    run_id = fleet.run_on("w1", "echo hi")
    wait_for(lambda: waits_for_a_slot(fleet, run_id, "w1"), timeout=30)


def test_removing_needs_an_offline_or_drained_idle_agent(fleet: Fleet, tmp_path: Path) -> None:
    busy = fleet.start_agent("busy")
    gate = tmp_path / "gate"
    with fleet.http() as http:
        refused = http.delete("/agents/busy")
        assert refused.status_code == 409
        assert "busy is online: drain it first" in refused.json()["detail"]

        run_id = fleet.run_on("busy", gated(gate))
        fleet.wait_status(run_id, "RUNNING")
        assert http.post("/agents/busy/drain").status_code == 200
        refused = http.delete("/agents/busy")
        assert refused.status_code == 409
        assert f"still holds runs {run_id}" in refused.json()["detail"]

        gate.touch()
        fleet.wait_status(run_id, "SUCCESS")
        removed = http.delete("/agents/busy")
        assert removed.status_code == 204, removed.text
        assert busy.popen.wait(timeout=30) == 0  # told it was removed, it stops
        assert "removed" in busy.log.read_text()
        assert fleet.agent("busy") == {}

        missing = http.delete("/agents/busy")
        assert missing.status_code == 404 and "agent busy not found" in missing.json()["detail"]

        # An agent that died and was declared offline goes without draining.
        gone = fleet.start_agent("gone")
        gone.popen.send_signal(signal.SIGKILL)
        gone.popen.wait(timeout=10)
        wait_for(lambda: fleet.agent("gone").get("status") == "offline", timeout=30)
        assert http.delete("/agents/gone").status_code == 204
        assert fleet.agent("gone") == {}


def test_roles_drain_is_for_operators_and_remove_for_admins(fleet: Fleet) -> None:
    fleet.start_agent("w1")
    with fleet.http(fleet.viewer) as http:
        assert http.get("/agents").status_code == 200
        assert http.post("/agents/w1/drain").status_code == 403
        assert http.post("/agents/w1/undrain").status_code == 403
        assert http.delete("/agents/w1").status_code == 403
    with fleet.http(fleet.operator) as http:
        assert http.post("/agents/w1/drain").status_code == 200
        assert http.delete("/agents/w1").status_code == 403
        assert http.post("/agents/nobody/drain").status_code == 404
    assert fleet.agent("w1")["draining"] is True
    with fleet.http() as http:
        assert http.delete("/agents/w1").status_code == 204


def test_the_agents_cli(fleet: Fleet) -> None:
    fleet.start_agent("cli-agent")
    assert fleet.live is not None

    def almanac(*args: str) -> CliOutcome:
        return almanac_cli(fleet.live, "agents", *args, COLUMNS="160")

    listed = almanac("list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = [a for a in json.loads(listed.stdout) if a["name"] == "cli-agent"]
    assert (row["status"], row["draining"], row["connected"]) == ("online", False, True)
    assert "cpus" in row["resources"] and "almanac.draining" not in row["resources"]

    assert "cli-agent" in almanac("list").stdout
    refused = almanac("remove", "cli-agent")
    assert refused.returncode == 1 and "drain it first" in refused.stderr
    drained = almanac("drain", "cli-agent")
    assert drained.returncode == 0 and "draining" in drained.stdout
    assert fleet.agent("cli-agent")["draining"] is True
    undrained = almanac("undrain", "cli-agent")
    assert undrained.returncode == 0 and fleet.agent("cli-agent")["draining"] is False
    assert almanac("drain", "cli-agent").returncode == 0
    removed = almanac("remove", "cli-agent")
    assert removed.returncode == 0, removed.stderr
    assert fleet.agent("cli-agent") == {}
    unknown = almanac("drain", "nobody")
    assert unknown.returncode == 1 and "agent nobody not found" in unknown.stderr
