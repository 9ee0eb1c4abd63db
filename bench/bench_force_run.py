"""Force run -> SUCCESS for `echo hello` on the built-in agent: median of 20.

Starts a real `almanac server` (SQLite, built-in agent) in a temporary data directory and
prints two figures per run: the server's own timeline (first event to SUCCESS event) and
what a client sees (POST .../run until GET /runs/{id} says SUCCESS, polled every 2 ms).

    .venv/bin/python bench/bench_force_run.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

import httpx
from benchlib import PASSWORD, free_port, login


def _wait_for_agent(http: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if any(a["connected"] for a in http.get("/agents").json()):
                return
        except (httpx.TransportError, ValueError, TypeError):
            pass
        time.sleep(0.1)
    raise SystemExit("the built-in agent did not connect")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, ALMANAC_ADMIN_PASSWORD=PASSWORD)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli.main",
                "server",
                "--port",
                str(port),
                "--data-dir",
                data,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            token = login(base)
            with httpx.Client(
                base_url=base + "/api/v1", headers={"Authorization": f"Bearer {token}"}
            ) as http:
                _wait_for_agent(http)
                tid = http.post("/tasks", json={"name": "hello", "command": "echo hello"}).json()[
                    "tid"
                ]
                server_ms, client_ms = [], []
                for _ in range(args.runs + 1):  # the first one warms up and is not counted
                    began = time.perf_counter()
                    run_id = http.post(f"/tasks/{tid}/run").json()["id"]
                    while (run := http.get(f"/runs/{run_id}").json())["status"] != "SUCCESS":
                        if run["status"] in ("FAILED", "TERMINATED"):
                            raise SystemExit(f"run {run_id} ended {run['status']}")
                        time.sleep(0.002)
                    client_ms.append((time.perf_counter() - began) * 1000)
                    first = datetime.fromisoformat(run["events"][0]["at"])
                    last = datetime.fromisoformat(run["events"][-1]["at"])
                    server_ms.append((last - first).total_seconds() * 1000)
        finally:
            server.terminate()
            server.wait(timeout=30)
    server_ms, client_ms = server_ms[1:], client_ms[1:]
    print(f"force run -> SUCCESS, echo hello, built-in agent, SQLite, {args.runs} runs")
    for label, values in (
        ("server timeline (ACTIVE event -> SUCCESS event)", server_ms),
        ("client observed (POST run -> GET says SUCCESS) ", client_ms),
    ):
        print(
            f"  {label}: median {statistics.median(values):.1f} ms, "
            f"min {min(values):.1f}, max {max(values):.1f}"
        )


if __name__ == "__main__":
    main()
