"""Operator controls across replicas: two real servers on one PostgreSQL, real agents connected
to one or the other, controls asked of the server the agent is not connected to. The control
is relayed to the server holding the agent (202), really acts on the process, and a control
no server can deliver is a 409, never a success."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import (
    ADMIN_PASSWORD,
    drop_postgres_database,
    free_port,
    fresh_postgres_database,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Pair:
    """Servers `a` and `b` on one database; agent `a1` dials `a`, agent `b1` dials `b`."""

    tmp: Path
    url: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    api: dict[str, httpx.Client] = field(default_factory=dict)
    names: Iterator[int] = field(default_factory=lambda: iter(range(1, 10_000)))

    def server(self, name: str) -> None:
        port = free_port()
        self.processes[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "server",
                "--port",
                str(port),
                "--data-dir",
                str(self.tmp / name),
                "--database-url",
                self.url,
                "--no-local-agent",
            ],
            cwd=REPO,
            env=dict(os.environ, ALMANAC_ADMIN_PASSWORD=ADMIN_PASSWORD),
            stdout=open(self.tmp / f"{name}.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(base), timeout=60, interval=0.2)
        token = httpx.post(
            base + "/api/v1/auth/token",
            timeout=30,
            json={"username": "admin", "password": ADMIN_PASSWORD},
        ).json()["access_token"]
        self.api[name] = httpx.Client(
            base_url=base + "/api/v1", timeout=30, headers={"Authorization": f"Bearer {token}"}
        )

    def agent(self, name: str, server: str) -> None:
        token = self.api[server].post("/agents/tokens", json={"name": name}).json()["token"]
        base = str(self.api[server].base_url).removesuffix("/api/v1/").removesuffix("/api/v1")
        self.processes[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "agent",
                "--server",
                base,
                "--token",
                token,
                "--name",
                name,
                "--data-dir",
                str(self.tmp / name),
            ],
            cwd=REPO,
            stdout=open(self.tmp / f"{name}.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: any(
                a["name"] == name and a["connected"] for a in self.api[server].get("/agents").json()
            ),
            timeout=60,
        )

    def run_on(self, agent: str, command: str) -> int:
        """A run of `command` on `agent`, asked of server b, RUNNING; returns its id."""
        b = self.api["b"]
        tid = b.post(
            "/tasks",
            json={"name": f"relay-{next(self.names)}", "command": command, "target": agent},
        ).json()["tid"]
        run_id = int(b.post(f"/tasks/{tid}/run").json()["id"])
        wait_status(b, run_id, "RUNNING")
        return run_id

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for client in self.api.values():
            client.close()


def _answers(base: str) -> bool:
    try:
        return httpx.get(base + "/api/v1/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_status(
    http: httpx.Client, run_id: int, status: str, timeout: float = 30
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        run = dict(http.get(f"/runs/{run_id}").json())
        return run if run["status"] == status else None

    try:
        return dict(wait_for(reached, timeout=timeout))
    except AssertionError:
        raise AssertionError(
            f"run {run_id} never {status}: {http.get(f'/runs/{run_id}').json()}"
        ) from None


def pid_of(http: httpx.Client, run_id: int) -> int:
    events = http.get(f"/runs/{run_id}").json()["events"]
    (detail,) = [e["detail"] for e in events if e["status"] == "RUNNING"][:1]
    return int(detail.removeprefix("pid "))


def proc_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def gone(pid: int) -> bool:
    return proc_state(pid) in (None, "Z", "X")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.fixture(scope="module")
def pair(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    url = fresh_postgres_database(postgres_admin_url)
    built = Pair(tmp_path_factory.mktemp("replicas"), url)
    try:
        built.server("a")
        built.server("b")
        built.agent("a1", "a")
        built.agent("b1", "b")
        yield built
    finally:
        built.stop()
        drop_postgres_database(postgres_admin_url, url)


def test_kill_through_the_other_server_stops_the_process(pair: Pair) -> None:
    b = pair.api["b"]
    run_id = pair.run_on("a1", "sleep 300")
    pid = pid_of(b, run_id)
    assert not gone(pid)

    response = b.post(f"/runs/{run_id}/kill")
    assert response.status_code == 202, response.text  # relayed, and the relay confirmed
    assert response.json()["id"] == run_id  # the run, as a direct kill answers
    run = wait_status(b, run_id, "TERMINATED")
    assert run["reason"] == "terminated"
    wait_for(lambda: gone(pid), timeout=10)
    (row,) = b.get(
        "/audit", params={"action": "run.kill", "target_kind": "run", "target_id": str(run_id)}
    ).json()["items"]
    assert row["detail"] == "relayed to the server holding agent a1"


def test_pause_and_resume_through_the_other_server_stop_and_continue_the_process(
    pair: Pair,
) -> None:
    b = pair.api["b"]
    run_id = pair.run_on("a1", "sleep 300 & wait $!")
    shell = pid_of(b, run_id)
    wait_for(lambda: children(shell) and proc_state(shell) == "S", timeout=10)
    (child,) = children(shell)
    wait_for(lambda: proc_state(child) == "S", timeout=10)

    response = b.post(f"/runs/{run_id}/pause")
    assert response.status_code == 202, response.text
    wait_status(b, run_id, "PAUSED")
    wait_for(lambda: proc_state(shell) == "T" and proc_state(child) == "T", timeout=10)

    response = b.post(f"/runs/{run_id}/resume")
    assert response.status_code == 202, response.text
    wait_status(b, run_id, "RUNNING")
    wait_for(lambda: proc_state(shell) == "S" and proc_state(child) == "S", timeout=10)

    assert b.post(f"/runs/{run_id}/kill").status_code == 202
    wait_status(b, run_id, "TERMINATED")
    wait_for(lambda: gone(shell) and gone(child), timeout=10)


def test_a_direct_control_still_answers_200(pair: Pair) -> None:
    b = pair.api["b"]
    run_id = pair.run_on("b1", "sleep 300")
    response = b.post(f"/runs/{run_id}/kill")
    assert response.status_code == 200, response.text
    wait_status(b, run_id, "TERMINATED")


def test_an_adhoc_batch_kill_stops_runs_on_agents_of_both_servers(pair: Pair) -> None:
    b = pair.api["b"]
    submitted = b.post("/adhoc", json={"command": "sleep 300", "agents": ["a1", "b1"]})
    assert submitted.status_code == 201, submitted.text
    batch = submitted.json()
    by_agent = {r["target"]: r["id"] for r in batch["runs"]}
    pids = {
        agent: pid_of(b, wait_status(b, run_id, "RUNNING")["id"])
        for agent, run_id in by_agent.items()
    }

    response = b.post(f"/adhoc/{batch['batch_id']}/kill")
    assert response.status_code == 202, response.text
    assert {k["agent"]: k["outcome"] for k in response.json()["killed"]} == {
        "a1": "relayed",
        "b1": "sent",
    }
    for agent, run_id in by_agent.items():
        wait_status(b, run_id, "TERMINATED")
        wait_for(lambda pid=pids[agent]: gone(pid), timeout=10)
    again = b.post(f"/adhoc/{batch['batch_id']}/kill")
    assert again.status_code == 409, again.text
    assert "already ended" in again.json()["detail"]


def test_controls_for_an_agent_no_server_holds_are_refused(pair: Pair) -> None:
    pair.agent("doomed", "a")
    b = pair.api["b"]
    run_id = pair.run_on("doomed", "sleep 300")
    batch = b.post("/adhoc", json={"command": "sleep 300", "agents": ["doomed"]}).json()
    (adhoc,) = [r["id"] for r in batch["runs"]]
    pids = [pid_of(b, run_id), pid_of(b, wait_status(b, adhoc, "RUNNING")["id"])]
    pair.processes["doomed"].send_signal(signal.SIGKILL)
    pair.processes["doomed"].wait(timeout=10)
    wait_for(
        lambda: (
            not any(
                a["name"] == "doomed" and a["connected"]
                for a in pair.api["a"].get("/agents").json()
            )
        ),
        timeout=10,
    )
    try:
        for server in ("a", "b"):
            for action in ("kill", "pause"):
                response = pair.api[server].post(f"/runs/{run_id}/{action}")
                assert response.status_code == 409, response.text
                assert response.json()["detail"] == (
                    f"agent doomed of run {run_id} is not connected to any server"
                )
        response = b.post(f"/adhoc/{batch['batch_id']}/kill")
        assert response.status_code == 409, response.text
        assert response.json()["detail"] == (
            f"nothing of batch {batch['batch_id']} was stopped: run {adhoc} not reachable "
            "(agent doomed is not connected to any server)"
        )
        assert wait_status(b, run_id, "RUNNING") and wait_status(b, adhoc, "RUNNING")
    finally:
        for pid in pids:  # the orphaned commands of the killed agent
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
