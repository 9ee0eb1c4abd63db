"""The server is killed with SIGKILL in the middle of a run and started again: the run still
ends SUCCESS with every log line exactly once, and the stored runs are all still there.

Everything is a real process: `almanac server` and `almanac agent` as subprocesses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from support import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "restart-admin-password-1"
LINES = 2000


class Proc:
    """A subprocess of `python -m app.cli.main ...` with its output in a file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self._out: IO[bytes] = open(log, "ab")  # closed in stop()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "app.cli.main", *args],
            cwd=REPO,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def sigkill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._out.close()


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    env["ALMANAC_ADMIN_PASSWORD"] = PASSWORD
    return env


class Cluster:
    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tmp_path / "server-data"
        self.server: Proc | None = None
        self.agent: Proc | None = None
        self.token = ""

    def start_server(self) -> None:
        self.server = Proc(
            [
                "server",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--database-url",
                self.database_url,
                "--no-local-agent",
            ],
            self.tmp_path / "server.log",
            clean_env(),
        )

        def serving() -> bool:
            assert self.server is not None
            assert self.server.popen.poll() is None, f"server exited:\n{self.server.tail()}"
            try:
                return httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(serving, timeout=90, interval=0.1)  # a start imports for seconds on a busy host
        response = httpx.post(
            self.url + "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]

    def start_agent(self, name: str) -> None:
        with self.http() as http:
            response = http.post("/agents/tokens", json={"name": name})
            assert response.status_code == 201, response.text
            token = response.json()["token"]
        self.agent = Proc(
            [
                "agent",
                "--server",
                self.url,
                "--token",
                token,
                "--name",
                name,
                "--data-dir",
                str(self.tmp_path / "agent-data"),
            ],
            self.tmp_path / "agent.log",
            clean_env(),
        )

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + "/api/v1",
            timeout=30,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def stop(self) -> None:
        for proc in (self.agent, self.server):
            if proc is not None:
                proc.stop()


@pytest.fixture
def cluster(tmp_path: Path, database_url: str) -> Iterator[Cluster]:
    """Server and agent processes, on SQLite and on PostgreSQL."""
    built = Cluster(tmp_path, database_url)
    try:
        yield built
    finally:
        built.stop()


def agent_connected(http: httpx.Client, name: str) -> bool:
    return any(a["name"] == name and a["connected"] for a in http.get("/agents").json())


def force_run(http: httpx.Client, name: str, command: str) -> int:
    task = http.post("/tasks", json={"name": name, "command": command, "target": "a1"})
    assert task.status_code == 201, task.text
    run = http.post(f"/tasks/{task.json()['tid']}/run")
    assert run.status_code == 201, run.text
    return int(run.json()["id"])


def run_status(http: httpx.Client, run_id: int) -> str:
    return str(http.get(f"/runs/{run_id}").json()["status"])


def stored_lines(http: httpx.Client, run_id: int) -> int:
    page = http.get(f"/runs/{run_id}/logs", params={"stream": "stdout", "page_size": 1})
    return int(page.json()["total_lines"])


def list_runs(http: httpx.Client) -> list[dict[str, Any]]:
    response = http.get("/runs", params={"page_size": 500})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


# Fields a run cannot change while it goes on running.
_FIXED = (
    "id",
    "task",
    "task_name",
    "trigger_kind",
    "trigger_time",
    "attempt",
    "agent",
    "command",
    "instance",
    "created_by",
)


def test_sigkill_of_the_server_mid_run_loses_nothing(cluster: Cluster) -> None:
    cluster.start_server()
    cluster.start_agent("a1")
    with cluster.http() as http:
        try:
            wait_for(lambda: agent_connected(http, "a1"), timeout=20)
        except AssertionError:
            assert cluster.server is not None
            raise AssertionError(
                "the agent never registered; server log:\n" + cluster.server.tail()
            ) from None
        done = [force_run(http, f"quick-{i}", f"echo quick {i}") for i in range(3)]
        for run_id in done:
            wait_for(lambda run_id=run_id: run_status(http, run_id) == "SUCCESS", timeout=30)

        # 2000 numbered lines over about 3 s.
        command = (
            f'i=1; while [ "$i" -le {LINES} ]; do echo "line $i"; '
            "[ $((i % 100)) -eq 0 ] && sleep 0.15; i=$((i + 1)); done"
        )
        run_id = force_run(http, "numbered", command)
        wait_for(lambda: stored_lines(http, run_id) >= 300, timeout=30)
        before = list_runs(http)
        assert run_status(http, run_id) == "RUNNING"

    assert cluster.server is not None
    cluster.server.sigkill()
    cluster.start_server()  # same data directory, same port

    with cluster.http() as http:
        after = list_runs(http)
        assert [r["id"] for r in after] == [r["id"] for r in before]
        for old, new in zip(before, after, strict=True):
            if old["id"] in done:
                assert new == old  # finished runs come back exactly as they were
            else:
                assert {k: new[k] for k in _FIXED} == {k: old[k] for k in _FIXED}

        wait_for(lambda: run_status(http, run_id) == "SUCCESS", timeout=40, interval=0.1)
        run = http.get(f"/runs/{run_id}").json()
        assert run["exit_code"] == 0 and run["attempt"] == 1
        assert [e["status"] for e in run["events"]].count("SUCCESS") == 1
        log = http.get(f"/runs/{run_id}/logs/download", params={"stream": "stdout"}).text
        assert log == "".join(f"line {i}\n" for i in range(1, LINES + 1))
        assert stored_lines(http, run_id) == LINES
        assert http.get(f"/runs/{run_id}/logs/download", params={"stream": "stderr"}).text == ""
        for quick_id in done:
            assert http.get(f"/runs/{quick_id}/logs/download").text.startswith("quick ")
