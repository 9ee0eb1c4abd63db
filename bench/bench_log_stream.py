"""Log streaming: 100 MB through an agent, complete and in bounded memory; line latency.

Starts a real `almanac server` (SQLite, no built-in agent) and a real `almanac agent` process
in a temporary directory, then measures:

1. volume: a task writes 100 MiB to stdout (`yes ... | head -c`); the run must end SUCCESS,
   the stored size must equal it and the sha256 of GET /runs/{id}/logs/download must equal the
   sha256 of the generated content. The agent process's peak RSS (psutil, sampled every 20 ms)
   is printed: target < 100 MB.
2. latency: a task prints a line with its own timestamp every 100 ms; the bench reads
   GET /runs/{id}/logs every 10 ms and notes when each line first shows up. p50/p99 of
   (seen - printed) are printed: target 100 ms.

    .venv/bin/python bench/bench_log_stream.py [--mib 100] [--lines 150]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx
import psutil
from benchlib import PASSWORD, free_port, login

LINE = "almanac log line 0123456789 abcdefghijklmnopqrstuvwxyz"


def _wait(predicate: object, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


class PeakRss:
    """Samples a process's resident set every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.peak = self._process.memory_info().rss
        self.at_start = self.peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _force(http: httpx.Client, name: str, command: str) -> int:
    tid = http.post("/tasks", json={"name": name, "command": command, "target": "bench"}).json()[
        "tid"
    ]
    return int(http.post(f"/tasks/{tid}/run").json()["id"])


def _end(http: httpx.Client, run_id: int) -> dict[str, object]:
    while (run := http.get(f"/runs/{run_id}").json())["status"] not in (
        "SUCCESS",
        "FAILED",
        "TERMINATED",
    ):
        time.sleep(0.05)
    return dict(run)


def volume(http: httpx.Client, agent_pid: int, mib: int) -> None:
    size = mib * 1024 * 1024
    line = (LINE + "\n").encode()
    expected = hashlib.sha256((line * (size // len(line) + 1))[:size]).hexdigest()
    rss = PeakRss(agent_pid)
    began = time.perf_counter()
    run_id = _force(http, "volume", f"yes {shlex.quote(LINE)} | head -c {size}")
    run = _end(http, run_id)
    took = time.perf_counter() - began
    rss.stop()
    if run["status"] != "SUCCESS":
        raise SystemExit(f"the volume run ended {run['status']}: {run['reason']}")
    stored = http.get(f"/runs/{run_id}/logs", params={"page_size": 1}).json()["total_bytes"]
    digest = hashlib.sha256()
    downloaded = 0
    with http.stream("GET", f"/runs/{run_id}/logs/download") as response:
        for chunk in response.iter_bytes():
            digest.update(chunk)
            downloaded += len(chunk)
    print(f"volume: {mib} MiB on stdout through one agent")
    print(f"  force run -> SUCCESS: {took:.1f} s ({mib / took:.0f} MiB/s end to end)")
    print(
        f"  stored {stored} bytes, downloaded {downloaded}, generated {size}: "
        f"{'equal' if stored == downloaded == size else 'DIFFERENT'}"
    )
    same = "equals" if digest.hexdigest() == expected else "DIFFERS FROM"
    print(f"  sha256 of the download {same} the generated content ({expected[:16]}...)")
    print(
        f"  agent peak RSS: {rss.peak / 2**20:.1f} MiB (at start {rss.at_start / 2**20:.1f} MiB;"
        " target < 100 MB)"
    )


def latency(http: httpx.Client, lines: int) -> None:
    script = (
        "import time\n"
        f"for i in range({lines}):\n"
        "    print(i, repr(time.time()), flush=True)\n"
        "    time.sleep(0.1)\n"
    )
    run_id = _force(http, "latency", f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}")
    seen: dict[int, float] = {}
    printed: dict[int, float] = {}
    while len(seen) < lines:
        page = http.get(f"/runs/{run_id}/logs", params={"page_size": 5000}).json()
        now = time.time()
        for text in page["lines"]:
            number, stamp = text.split()
            if int(number) not in seen:
                seen[int(number)] = now
                printed[int(number)] = float(stamp)
        time.sleep(0.01)
    _end(http, run_id)
    delays = sorted((seen[i] - printed[i]) * 1000 for i in seen)
    p99 = delays[min(len(delays) - 1, round(0.99 * len(delays)) - 1)]
    print(f"latency: {lines} lines, one every 100 ms, read via GET /runs/{{id}}/logs every 10 ms")
    print(
        f"  printed -> readable: p50 {statistics.median(delays):.1f} ms, p99 {p99:.1f} ms, "
        f"max {delays[-1]:.1f} ms (target 100 ms; includes up to 10 ms of polling)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--lines", type=int, default=150)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
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
                f"{data}/server",
                "--no-local-agent",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        agent = None
        try:
            token = login(base)
            with httpx.Client(
                base_url=base + "/api/v1", timeout=120, headers={"Authorization": f"Bearer {token}"}
            ) as http:
                agent_token = http.post("/agents/tokens", json={"name": "bench"}).json()["token"]
                agent = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "app.cli.main",
                        "agent",
                        "--server",
                        base,
                        "--token",
                        agent_token,
                        "--name",
                        "bench",
                        "--data-dir",
                        f"{data}/agent",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                _wait(lambda: any(a["connected"] for a in http.get("/agents").json()), "the agent")
                volume(http, agent.pid, args.mib)
                latency(http, args.lines)
        finally:
            for process in (agent, server):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)


if __name__ == "__main__":
    main()
