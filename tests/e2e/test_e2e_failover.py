"""Two servers on one PostgreSQL: one leads, the other stands by and takes over when the
leader dies; one-shot occurrences fire exactly once across the failover."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from support import (
    ADMIN_PASSWORD,
    drop_postgres_database,
    free_port,
    fresh_postgres_database,
    wait_for,
)

import app


class Cluster:
    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def server(self, name: str) -> str:
        port = free_port()
        env = dict(os.environ, ALMANAC_ADMIN_PASSWORD=ADMIN_PASSWORD)
        log = open(self.tmp / f"{name}.log", "wb")
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
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.ports[name] = port
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _health(base) is not None, timeout=30)
        return base

    def agent(self, server: str, token: str, name: str = "a1") -> None:
        self.processes[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "agent",
                "--server",
                server,
                "--token",
                token,
                "--name",
                name,
                "--data-dir",
                str(self.tmp / name),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _health(base: str) -> dict[str, str] | None:
    try:
        return dict(httpx.get(base + "/api/v1/health", timeout=2).json())
    except (httpx.TransportError, ValueError):
        return None


@pytest.fixture
def cluster(postgres_admin_url: str, tmp_path: Path) -> Iterator[Cluster]:
    url = fresh_postgres_database(postgres_admin_url)
    built = Cluster(url, tmp_path)
    try:
        yield built
    finally:
        built.stop()
        drop_postgres_database(postgres_admin_url, url)


def test_the_standby_takes_over_and_every_occurrence_fires_once(cluster: Cluster) -> None:
    leader = cluster.server("first")
    assert (_health(leader) or {})["scheduler"] == "leader"
    standby = cluster.server("second")
    assert (_health(standby) or {}) == {
        "status": "ok",
        "scheduler": "standby",
        "database": "postgresql",
        "agents_connected": 0,
        "version": app.__version__,
    }
    token = httpx.post(
        standby + "/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
    ).json()["access_token"]
    http = httpx.Client(
        base_url=standby + "/api/v1", timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
    for name in ("a1", "a2"):  # the agents talk to the standby only
        cluster.agent(
            standby, http.post("/agents/tokens", json={"name": name}).json()["token"], name
        )
    wait_for(lambda: sum(a["connected"] for a in http.get("/agents").json()) == 2, timeout=30)

    start = datetime.now(UTC) + timedelta(seconds=3)
    tids = []
    for index in range(12):  # one-shot tasks every 0.5 s, across the failover
        at = (start + timedelta(milliseconds=500 * index)).replace(tzinfo=None)
        tids.append(
            http.post(
                "/tasks",
                json={
                    "name": f"once-{index}",
                    "command": "echo fired",
                    "schedule": {"kind": "once", "at": at.isoformat(timespec="milliseconds")},
                },
            ).json()["tid"]
        )
    wait_for(lambda: datetime.now(UTC) > start + timedelta(seconds=2), timeout=10, interval=0.1)
    killed_at = time.monotonic()
    cluster.processes["first"].send_signal(signal.SIGKILL)
    wait_for(
        lambda: (_health(standby) or {}).get("scheduler") == "leader", timeout=10, interval=0.1
    )
    takeover = time.monotonic() - killed_at

    def all_done() -> bool:
        runs = [r for tid in tids for r in http.get("/runs", params={"task": tid}).json()["items"]]
        return len(runs) == len(tids) and all(r["status"] == "SUCCESS" for r in runs)

    wait_for(all_done, timeout=40, interval=0.2)
    per_task = {tid: http.get("/runs", params={"task": tid}).json()["items"] for tid in tids}
    assert {tid: len(runs) for tid, runs in per_task.items()} == dict.fromkeys(tids, 1)
    assert takeover < 10


def test_a_live_page_on_one_server_sees_a_run_started_on_the_other(cluster: Cluster) -> None:
    first, second = cluster.server("first"), cluster.server("second")
    page = httpx.Client(base_url=second, timeout=30)
    login = page.get("/login").text
    token = re.search(r'name="login_token" value="([^"]+)"', login)
    assert token is not None
    page.post(
        "/login",
        data={
            "login_token": token.group(1),
            "next": "/",
            "username": "admin",
            "password": ADMIN_PASSWORD,
        },
    )
    assert page.get("/task-runs").status_code == 200
    api_token = httpx.post(
        first + "/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
    ).json()["access_token"]
    api = httpx.Client(
        base_url=first + "/api/v1", timeout=30, headers={"Authorization": f"Bearer {api_token}"}
    )
    seen: list[str] = []
    subscribed = threading.Event()

    def listen() -> None:
        with page.stream("GET", "/task-runs/events", timeout=30) as response:
            for line in response.iter_lines():
                seen.append(line)
                if line.startswith("retry:"):  # sent just before the stream subscribes
                    subscribed.set()
                if "relayed-job" in line:
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert subscribed.wait(timeout=15)
    tid = api.post("/tasks", json={"name": "relayed-job", "command": "true"}).json()["tid"]
    api.post(f"/tasks/{tid}/run")  # committed by the first server only
    listener.join(timeout=15)
    assert any(line == "event: rows" for line in seen)
    assert any("relayed-job" in line for line in seen)
