"""An agent whose spool's file system fills up (a real 5 MB tmpfs as its data directory).

A run printing 20 MB ends FAILED `spool full` within seconds (its process group is stopped),
instead of hanging RUNNING on a blocked pipe. While the disk stays full the agent is shown
unhealthy (still online) and gets no work: a run for it waits, saying why; a kill of a run
still works and its TERMINATED reaches the server though its journal cannot be written. Once
space returns the agent takes work again by itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from support import LiveServer, mounted_tmpfs, start_live_server, wait_for

REPO = Path(__file__).resolve().parents[2]
NAME = "tiny"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 5 MB tmpfs, mounted for the test and unmounted after it (needs root)."""
    with mounted_tmpfs(tmp_path / "small", "5m") as mount:
        yield mount


class Agent:
    def __init__(self, live: LiveServer, token: str, data_dir: Path, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
        self._out: IO[bytes] = open(log, "ab")  # closed in stop()
        self.popen = subprocess.Popen(
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
                NAME,
                "--data-dir",
                str(data_dir),
                "--spool-min-free-mb",
                "1",
            ],
            cwd=REPO,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._out.close()


def _agent(http: httpx.Client) -> dict[str, Any]:
    return next(a for a in http.get("/agents").json() if a["name"] == NAME)


def _run(http: httpx.Client, name: str, command: str) -> int:
    task = http.post("/tasks", json={"name": name, "command": command, "target": NAME})
    assert task.status_code == 201, task.text
    return int(http.post(f"/tasks/{task.json()['tid']}/run").json()["id"])


def _status(http: httpx.Client, run_id: int, status: str, timeout: float = 60) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: (r := http.get(f"/runs/{run_id}").json())["status"] == status and r,
            timeout=timeout,
        )
    )


def _fill(path: Path) -> None:
    """Write zeros until the file system has no room left."""
    with open(path, "wb", buffering=0) as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 512)


def test_a_full_spool_fails_the_run_stops_work_and_recovers(
    small_disk: Path, tmp_path: Path
) -> None:
    live = start_live_server(tmp_path / "server", local_agent=False)
    agent: Agent | None = None
    try:
        with live.client() as http:
            token = http.post("/agents/tokens", json={"name": NAME}).json()["token"]
            agent = Agent(live, token, small_disk / "agent", tmp_path / "agent.log")
            wait_for(
                lambda: any(
                    a["name"] == NAME and a["connected"] and a["healthy"]
                    for a in http.get("/agents").json()
                ),
                timeout=30,
            )

            # 20 MB of output into 5 MB of disk: FAILED, not RUNNING forever.
            flood = _run(
                http, "flood", "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 20000000"
            )
            failed = _status(http, flood, "FAILED", timeout=60)
            assert "spool full" in (failed["reason"] or ""), failed
            stored = http.get(f"/runs/{flood}/logs", params={"page_size": 1}).json()
            assert 0 < stored["total_bytes"] < 5_000_000  # what the spool kept is delivered

            # The failed run's spool is emptied once the server has it: healthy by itself.
            wait_for(lambda: _agent(http)["healthy"], timeout=30)

            sleeper = _run(http, "sleeper", "sleep 300")
            _status(http, sleeper, "RUNNING", timeout=30)
            _fill(small_disk / "filler")
            unhealthy = wait_for(lambda: (a := _agent(http))["healthy"] is False and a, timeout=30)
            assert unhealthy["status"] == "online" and unhealthy["connected"]
            assert "spool full" in unhealthy["problem"]
            assert unhealthy["resources"]["spool_full"] is True

            # No work goes to it: the run waits and says for what.
            later = _run(http, "later", "echo later")
            waiting = wait_for(
                lambda: (
                    "spool full" in ((r := http.get(f"/runs/{later}").json())["reason"] or "") and r
                ),
                timeout=30,
            )
            assert waiting["status"] == "ACTIVE"
            assert NAME in waiting["reason"]

            # A kill still works on the full disk, and its outcome reaches the server.
            assert http.post(f"/runs/{sleeper}/kill").status_code == 200
            _status(http, sleeper, "TERMINATED", timeout=30)
            assert http.get(f"/runs/{later}").json()["status"] == "ACTIVE"

            # Space returns: the agent takes work again by itself.
            (small_disk / "filler").unlink()
            wait_for(lambda: _agent(http)["healthy"], timeout=30)
            done = _status(http, later, "SUCCESS", timeout=30)
            assert done["agent"] == NAME
            assert http.get(f"/runs/{later}/logs/download").text == "later\n"
            assert _agent(http)["problem"] is None
    finally:
        if agent is not None:
            agent.stop()
        live.stop()
        live.engine.dispose()
