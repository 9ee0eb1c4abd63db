"""A container task through Almanac next to a bare `docker run`: median of 20 each.

Starts a real `almanac server` (SQLite, built-in agent with Docker) in a temporary data
directory. One sample of Almanac is force run -> GET /runs/{id} says SUCCESS (polled every
2 ms) for a task `echo hello` on almanac-test-busybox:latest; one sample of Docker is
`docker run --rm almanac-test-busybox:latest echo hello`. The two alternate, after one warm-up
each, so that both see the same machine. Target: ratio of medians <= 1.3.

    .venv/bin/python bench/bench_docker_run.py [--runs 20] [--image IMAGE]
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


def _wait_for_docker_agent(http: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(a["connected"] and a["docker"] for a in http.get("/agents").json()):
            return
        time.sleep(0.1)
    raise SystemExit("no connected agent with Docker")


def _almanac_once(http: httpx.Client, tid: int) -> tuple[float, float]:
    """(client-observed ms, server timeline ms) of one force run."""
    began = time.perf_counter()
    run_id = http.post(f"/tasks/{tid}/run").json()["id"]
    while (run := http.get(f"/runs/{run_id}").json())["status"] != "SUCCESS":
        if run["status"] in ("FAILED", "TERMINATED"):
            raise SystemExit(f"run {run_id} ended {run['status']}: {run['reason']}")
        time.sleep(0.002)
    client_ms = (time.perf_counter() - began) * 1000
    first = datetime.fromisoformat(run["events"][0]["at"])
    last = datetime.fromisoformat(run["events"][-1]["at"])
    return client_ms, (last - first).total_seconds() * 1000


def _docker_once(image: str) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        ["docker", "run", "--rm", image, "echo", "hello"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "hello\n", done.stdout
    return (time.perf_counter() - began) * 1000


def _line(label: str, values: list[float]) -> str:
    return (
        f"  {label}: median {statistics.median(values):7.1f} ms   "
        f"min {min(values):7.1f}   max {max(values):7.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--image", default="almanac-test-busybox:latest")
    args = parser.parse_args()
    port = free_port()
    almanac_ms: list[float] = []
    server_ms: list[float] = []
    docker_ms: list[float] = []
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
                base_url=base + "/api/v1", timeout=60, headers={"Authorization": f"Bearer {token}"}
            ) as http:
                _wait_for_docker_agent(http)
                tid = http.post(
                    "/tasks",
                    json={"name": "hello-container", "command": "echo hello", "image": args.image},
                ).json()["tid"]
                _docker_once(args.image)  # warm-ups, not counted
                _almanac_once(http, tid)
                for _ in range(args.runs):
                    docker_ms.append(_docker_once(args.image))
                    client, timeline = _almanac_once(http, tid)
                    almanac_ms.append(client)
                    server_ms.append(timeline)
                output = http.get(
                    f"/runs/{http.get('/runs').json()['items'][0]['id']}/logs/download"
                ).text
                assert output == "hello\n", output
        finally:
            server.terminate()
            server.wait(timeout=30)
    ratio = statistics.median(almanac_ms) / statistics.median(docker_ms)
    print(f"container `echo hello` on {args.image}, {args.runs} runs each, alternating")
    print(_line("docker run --rm (CLI)                     ", docker_ms))
    print(_line("almanac force run -> SUCCESS seen by client", almanac_ms))
    print(_line("almanac server timeline (ACTIVE -> SUCCESS)", server_ms))
    print(f"  ratio almanac / docker (medians): {ratio:.2f}   (target <= 1.3)")


if __name__ == "__main__":
    main()
