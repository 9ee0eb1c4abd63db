"""Resilience with real parts: PostgreSQL restarted mid-run; an agent cut off for 20 s."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support import (
    LiveServer,
    free_port,
    fresh_postgres_database,
    postgres_error,
    require,
    start_live_server,
    wait_for,
)

LINES = 300
PRINTER = f"i=1; while [ $i -le {LINES} ]; do echo line $i; i=$((i+1)); sleep 0.02; done"
EXPECTED = "".join(f"line {i}\n" for i in range(1, LINES + 1))


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster of this test's own (Debian's cluster tools): restarting it stops
    no other test's database."""

    version: str
    name: str
    port: int

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *action: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, *action],
            check=True,
            timeout=60,
            capture_output=True,
        )

    def answering(self) -> bool:
        return postgres_error(self.admin_url) is None


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    tools = all(shutil.which(t) for t in ("pg_lsclusters", "pg_createcluster", "pg_ctlcluster"))
    require(
        "postgres",
        tools and os.geteuid() == 0,
        "a cluster of the test's own needs root and Debian's pg_createcluster",
    )
    rows = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    version = rows.split()[0] if rows.strip() else "15"
    cluster = PrivateCluster(version, f"t{uuid.uuid4().hex[:8]}", free_port())
    subprocess.run(
        ["pg_createcluster", version, cluster.name, "-p", str(cluster.port), "--", "--auth=trust"],
        check=True,
        timeout=120,
        capture_output=True,
    )
    try:
        cluster.ctl("start")
        wait_for(cluster.answering, timeout=60, interval=0.2)
        yield cluster
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", version, cluster.name],
            check=False,
            timeout=120,
            capture_output=True,
        )


def _force_run(http: httpx.Client, command: str) -> int:
    tid = http.post("/tasks", json={"name": "printer", "command": command}).json()["tid"]
    return int(http.post(f"/tasks/{tid}/run").json()["id"])


def _finished(http: httpx.Client, run_id: int, timeout: float = 60) -> dict[str, object]:
    def done() -> dict[str, object] | None:
        try:
            run = http.get(f"/runs/{run_id}").json()
        except (httpx.TransportError, ValueError):
            return None  # the database may still be coming back
        return run if run.get("status") in ("SUCCESS", "FAILED", "TERMINATED") else None

    return dict(wait_for(done, timeout=timeout, interval=0.2))


@pytest.fixture
def pg_live(postgres_admin_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, PrivateCluster]]:
    with private_cluster() as cluster:
        live = start_live_server(
            tmp_path / "data", database_url=fresh_postgres_database(cluster.admin_url)
        )
        try:
            yield live, cluster
        finally:
            live.stop()
            live.engine.dispose()


@pytest.mark.postgres
def test_postgresql_restarted_mid_run_loses_nothing(
    pg_live: tuple[LiveServer, PrivateCluster],
) -> None:
    live, cluster = pg_live
    with live.client() as http:
        wait_for(lambda: any(a["connected"] for a in http.get("/agents").json()), timeout=30)
        run_id = _force_run(http, PRINTER)
        wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] == "RUNNING")
        cluster.ctl("restart", "-m", "fast")
        wait_for(cluster.answering, timeout=60, interval=0.2)
        run = _finished(http, run_id)
        logs = http.get(f"/runs/{run_id}/logs/download").text
    assert run["status"] == "SUCCESS"
    assert logs == EXPECTED


class _Cuttable:
    """A loopback TCP relay that can drop every connection and refuse new ones for a while."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._open = threading.Event()
        self._open.set()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            self._open.wait()
            with socket.create_server(("127.0.0.1", self.port), reuse_port=False) as listener:
                listener.settimeout(0.1)
                while self._open.is_set() and not self._stop:
                    try:
                        client, _ = listener.accept()
                    except TimeoutError:
                        continue
                    server = socket.create_connection(("127.0.0.1", self.upstream))
                    with self._lock:
                        self._sockets += [client, server]
                    for a, b in ((client, server), (server, client)):
                        threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._sockets.clear()

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._stop = True
        self.cut()
        self._open.set()


def test_an_agent_cut_off_until_its_run_ended_reconnects_with_its_logs_complete(
    tmp_path: Path,
) -> None:
    live = start_live_server(tmp_path / "data", local_agent=False)
    relay = _Cuttable(live.settings.port)
    agent = None
    try:
        with live.client() as http:
            token = http.post("/agents/tokens", json={"name": "a1"}).json()["token"]
            agent = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.cli.main",
                    "agent",
                    "--server",
                    f"http://127.0.0.1:{relay.port}",
                    "--token",
                    token,
                    "--name",
                    "a1",
                    "--data-dir",
                    str(tmp_path / "agent"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_for(lambda: any(a["connected"] for a in http.get("/agents").json()), timeout=30)
            run_id = _force_run(http, PRINTER)
            wait_for(lambda: http.get(f"/runs/{run_id}").json()["status"] == "RUNNING")
            relay.cut()
            cut_at = time.monotonic()
            wait_for(lambda: not any(a["connected"] for a in http.get("/agents").json()))
            # The run ends while the agent is cut off (its spool's journal says so); the
            # server, hearing nothing for less than the heartbeat timeout, keeps it RUNNING.
            journal = tmp_path / "agent" / "spool" / f"{run_id}-1" / "journal.jsonl"

            def ended_on_the_agent() -> bool:
                assert http.get(f"/runs/{run_id}").json()["status"] == "RUNNING"
                return journal.exists() and '"SUCCESS"' in journal.read_text()

            wait_for(ended_on_the_agent, timeout=60, interval=0.2)
            assert time.monotonic() - cut_at < live.settings.heartbeat_timeout_seconds
            relay.restore()
            run = _finished(http, run_id, timeout=30)
            logs = http.get(f"/runs/{run_id}/logs/download").text
            [agent_row] = http.get("/agents").json()
        assert run["status"] == "SUCCESS"
        assert logs == EXPECTED
        assert agent_row["status"] == "online" and agent_row["connected"]
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(timeout=20)
        relay.close()
        live.stop()
        live.engine.dispose()
