"""What open pages cost while nothing happens: 50 Task Runs pages, each holding its live
stream (SSE), on a real `almanac server` (SQLite, built-in agent); the server process's CPU
is sampled over an idle period.

    .venv/bin/python bench/bench_idle_pages.py [--pages 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import httpx
import psutil
from benchlib import PASSWORD, free_port


def _session(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    deadline = time.monotonic() + 60
    while True:
        try:
            form = client.get("/login").text
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    token = re.search(r'name="login_token" value="([^"]+)"', form)
    assert token is not None
    client.post(
        "/login",
        data={
            "login_token": token.group(1),
            "next": "/",
            "username": "admin",
            "password": PASSWORD,
        },
    )
    return client


def _hold_stream(client: httpx.Client, stop: threading.Event, opened: list[int]) -> None:
    while not stop.is_set():  # the server ends each stream every 25 s; pages reconnect
        try:
            with client.stream("GET", "/task-runs/events", timeout=None) as response:
                opened.append(response.status_code)
                for _ in response.iter_bytes():
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
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
            env=dict(os.environ, ALMANAC_ADMIN_PASSWORD=PASSWORD),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stop = threading.Event()
        try:
            base = f"http://127.0.0.1:{port}"
            clients = [_session(base) for _ in range(args.pages)]
            opened: list[int] = []
            for client in clients:
                assert client.get("/task-runs").status_code == 200, "not signed in"
                threading.Thread(
                    target=_hold_stream, args=(client, stop, opened), daemon=True
                ).start()
            time.sleep(3)  # streams open, the server settles
            if opened.count(200) < args.pages:
                raise SystemExit(f"only {opened.count(200)} of {args.pages} streams opened")
            process = psutil.Process(server.pid)
            before = process.cpu_times()
            began = time.monotonic()
            time.sleep(args.seconds)
            after = process.cpu_times()
            used = (after.user - before.user) + (after.system - before.system)
            share = used / (time.monotonic() - began) * 100
            print(
                f"{args.pages} open Task Runs pages, idle for {args.seconds:.0f} s: server CPU "
                f"{share:.2f}% of one core (includes the scheduler's 1 s maintenance tick and "
                f"the built-in agent's heartbeats)"
            )
        finally:
            stop.set()
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
