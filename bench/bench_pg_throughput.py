"""PostgreSQL throughput: a server with 1, 2 and 4 agents.

Workload per round: 70 tasks firing every minute (100,000 runs a day) plus a burst of 500
one-shot tasks due in the same second. Prints the trigger delay (trigger time -> ACTIVE)
p50/p99 and how long the burst took to finish, for each number of agents.

    .venv/bin/python bench/bench_pg_throughput.py [--agents 1,2,4] [--burst 500]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from benchlib import PASSWORD, drop_database, free_port, pct, scratch_database
from sqlmodel import col, select

from app.bootstrap import upgrade_database
from app.db.engine import make_engine, session_scope
from app.db.tables import Run, RunEvent, Task


def _round(agents: int, burst: int) -> str:
    url = scratch_database()
    upgrade_database(url)
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as data:
        env = dict(os.environ, ALMANAC_ADMIN_PASSWORD=PASSWORD)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.cli.main",
                    "server",
                    "--port",
                    str(port),
                    "--data-dir",
                    data,
                    "--database-url",
                    url,
                    "--no-local-agent",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        try:
            base = f"http://127.0.0.1:{port}"
            http = _login(base)
            for index in range(agents):
                token = http.post("/agents/tokens", json={"name": f"a{index}"}).json()["token"]
                procs.append(
                    subprocess.Popen(
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
                            f"a{index}",
                            "--data-dir",
                            str(Path(data) / f"a{index}"),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            while sum(a["connected"] for a in http.get("/agents").json()) < agents:
                time.sleep(0.1)
            for index in range(70):
                http.post(
                    "/tasks",
                    json={
                        "name": f"minutely-{index}",
                        "command": "true",
                        "schedule": {"kind": "cron", "cron": "* * * * *"},
                    },
                )
            burst_at = (datetime.now(UTC) + timedelta(seconds=20)).replace(microsecond=0)
            for index in range(burst):
                http.post(
                    "/tasks",
                    json={
                        "name": f"burst-{index}",
                        "command": "true",
                        "schedule": {
                            "kind": "once",
                            "at": burst_at.replace(tzinfo=None).isoformat(),
                        },
                    },
                )
            time.sleep(max(0.0, (burst_at - datetime.now(UTC)).total_seconds()) + 45)
            return _measure(url, agents, burst, burst_at)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=60)
            drop_database(url)


def _login(base: str) -> httpx.Client:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            token = httpx.post(
                base + "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
            ).json()["access_token"]
            return httpx.Client(
                base_url=base + "/api/v1", timeout=60, headers={"Authorization": f"Bearer {token}"}
            )
        except (httpx.TransportError, KeyError, ValueError):
            time.sleep(0.2)
    raise SystemExit("server did not start")


def _measure(url: str, agents: int, burst: int, burst_at: datetime) -> str:
    engine = make_engine(url)
    with session_scope(engine) as session:
        active = session.exec(
            select(Run.trigger_time, RunEvent.at, Task.name)
            .join(RunEvent, col(RunEvent.run_id) == col(Run.id))
            .join(Task, col(Task.id) == col(Run.task_id))
            .where(RunEvent.status == "ACTIVE", Run.trigger_kind == "schedule")
        ).all()
        done = session.exec(
            select(RunEvent.at)
            .join(Run, col(RunEvent.run_id) == col(Run.id))
            .join(Task, col(Task.id) == col(Run.task_id))
            .where(RunEvent.status == "SUCCESS", col(Task.name).startswith("burst-"))
        ).all()
    engine.dispose()

    def delays(prefix: str) -> list[float]:
        return [
            (at - trigger).total_seconds() * 1000
            for trigger, at, name in active
            if trigger and name.startswith(prefix)
        ]

    steady, bursty = delays("minutely-"), delays("burst-")
    finished = len(done)
    span = (max(done) - burst_at).total_seconds() if done else float("nan")
    return (
        f"{agents} agent(s): sustained trigger delay p50 {pct(steady, 50):.1f} ms, p99 "
        f"{pct(steady, 99):.1f} ms ({len(steady)} occurrences); burst of {burst}: trigger "
        f"delay p99 {pct(bursty, 99):.1f} ms, {finished} finished in {span:.1f} s "
        f"({finished / span:.0f} runs/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", default="1,2,4")
    parser.add_argument("--burst", type=int, default=500)
    args = parser.parse_args()
    for count in (int(a) for a in args.agents.split(",")):
        print(_round(count, args.burst), flush=True)


if __name__ == "__main__":
    main()
