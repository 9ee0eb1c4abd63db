"""With the real defaults (heartbeats every 5 s, 30 s heartbeat timeout) an agent killed mid-run
has its run FAILED "agent lost" within 35 s. The one slow test of the suite (about 31 s);
shorter timeouts are covered in test_run_controls.py."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import LiveServer, start_live_server, wait_for

from app.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEFAULTS = Settings()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live_server(
        tmp_path / "data",
        local_agent=False,
        heartbeat_interval_seconds=DEFAULTS.heartbeat_interval_seconds,
        heartbeat_timeout_seconds=DEFAULTS.heartbeat_timeout_seconds,
    )
    try:
        yield server
    finally:
        server.stop()
        server.engine.dispose()


def test_a_killed_agent_has_its_run_failed_within_35_seconds(
    live: LiveServer, tmp_path: Path
) -> None:
    assert (DEFAULTS.heartbeat_interval_seconds, DEFAULTS.heartbeat_timeout_seconds) == (5, 30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALMANAC_")}
    with live.client() as http:
        token = http.post("/agents/tokens", json={"name": "mortal"}).json()["token"]
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
                "mortal",
                "--data-dir",
                str(tmp_path / "agent"),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        pid = None
        try:
            wait_for(
                lambda: any(
                    a["name"] == "mortal" and a["connected"] for a in http.get("/agents").json()
                ),
                timeout=30,
            )
            task = http.post(
                "/tasks", json={"name": "long", "command": "exec sleep 300", "target": "mortal"}
            ).json()
            run_id = http.post(f"/tasks/{task['tid']}/run").json()["id"]
            run = wait_for(
                lambda: (r := http.get(f"/runs/{run_id}").json())["status"] == "RUNNING" and r,
                timeout=30,
            )
            pid = int(
                [e["detail"] for e in run["events"] if e["status"] == "RUNNING"][0].split()[1]
            )

            agent.send_signal(signal.SIGKILL)
            agent.wait(timeout=10)
            killed = time.monotonic()
            run = wait_for(
                lambda: (r := http.get(f"/runs/{run_id}").json())["status"] == "FAILED" and r,
                timeout=40,
                interval=0.2,
            )
            took = time.monotonic() - killed
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait(timeout=10)
            if pid is not None:  # the dead agent's orphan
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        assert run["reason"] == "agent lost"
        assert took <= 35, f"declared lost after {took:.1f} s"
        (mortal,) = [a for a in http.get("/agents").json() if a["name"] == "mortal"]
        assert mortal["status"] == "offline" and not mortal["connected"]
