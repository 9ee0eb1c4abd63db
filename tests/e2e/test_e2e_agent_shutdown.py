"""SIGTERM on an agent: no new work goes to it; with --drain it first finishes its runs."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
from support import AS_THE_TEST_USER, LiveServer, start_live_server, wait_for


def _agent(
    live: LiveServer, http: httpx.Client, tmp_path: Path, *flags: str
) -> subprocess.Popen[bytes]:
    token = http.post("/agents/tokens", json={"name": "a1"}).json()["token"]
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli.main",
            "agent",
            "--server",
            live.url,
            "--token",
            token,
            "--name",
            "a1",
            "--data-dir",
            str(tmp_path / "agent"),
            *AS_THE_TEST_USER,
            *flags,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: any(a["connected"] for a in http.get("/agents").json()), timeout=30)
    return agent


def _run(http: httpx.Client, name: str, command: str) -> int:
    tid = http.post("/tasks", json={"name": name, "command": command}).json()["tid"]
    return int(http.post(f"/tasks/{tid}/run").json()["id"])


def test_drain_finishes_running_work_and_takes_no_new_work(tmp_path: Path) -> None:
    live = start_live_server(tmp_path / "data", local_agent=False)
    gate = tmp_path / "gate"
    try:
        with live.client() as http:
            agent = _agent(live, http, tmp_path, "--drain")
            running = _run(http, "long", f"while [ ! -f {gate} ]; do sleep 0.05; done; echo ok")
            wait_for(lambda: http.get(f"/runs/{running}").json()["status"] == "RUNNING")
            agent.send_signal(signal.SIGTERM)
            later = _run(http, "later", "echo later")
            waiting = wait_for(lambda: (r := http.get(f"/runs/{later}").json())["reason"] and r)
            assert agent.poll() is None  # still draining
            gate.write_text("go")
            assert agent.wait(timeout=30) == 0
            finished = http.get(f"/runs/{running}").json()
            stdout = http.get(f"/runs/{running}/logs/download").text
        assert waiting["status"] == "ACTIVE"
        # The reason says why: the agent drains (it takes no new work), not "no free slot".
        assert waiting["reason"] == "waiting for a free slot: a1 is draining"
        assert finished["status"] == "SUCCESS" and stdout == "ok\n"
    finally:
        live.stop()
        live.engine.dispose()


def test_without_drain_the_agent_exits_at_once(tmp_path: Path) -> None:
    live = start_live_server(tmp_path / "data", local_agent=False)
    try:
        with live.client() as http:
            agent = _agent(live, http, tmp_path)
            run_id = _run(http, "sleeper", "sleep 30")
            wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] == "RUNNING")
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(timeout=15) == 0
    finally:
        live.stop()
        live.engine.dispose()
