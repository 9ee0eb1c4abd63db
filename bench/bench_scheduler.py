"""Scheduler at scale, on a real `almanac server` (SQLite, built-in agent).

1. 10,000 active task definitions: time for the scheduler to load them at start, and the
   server's RSS once loaded.
2. 1,000 tasks due in the same second: for each, trigger time -> RUNNING event.
3. Lone triggers (one task due at a time): trigger time -> ACTIVE event, p50/p99.

    .venv/bin/python bench/bench_scheduler.py [--tasks 10000] [--burst 1000] [--lone 50]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from benchlib import PASSWORD, free_port, pct
from sqlmodel import col, select

from app.bootstrap import upgrade_database
from app.clock import FrozenClock
from app.db.engine import make_engine, session_scope
from app.db.tables import Run, RunEvent, Task
from app.scheduler.planner import plan_task


def _seed(
    url: str, *, idle: int, burst: int, lone: int, burst_at: datetime, lone_from: datetime
) -> None:
    engine = make_engine(url)
    clock = FrozenClock(datetime.now(UTC))
    with session_scope(engine) as session:
        tasks = [
            Task(
                name=f"idle-{i}",
                command="true",
                schedule={"kind": "cron", "cron": f"{i % 60} 3 * * *"},
            )
            for i in range(idle)
        ]
        local = burst_at.replace(tzinfo=None).isoformat()
        tasks += [
            Task(name=f"burst-{i}", command="true", schedule={"kind": "once", "at": local})
            for i in range(burst)
        ]
        tasks += [
            Task(
                name=f"lone-{i}",
                command="true",
                schedule={
                    "kind": "once",
                    "at": (lone_from + timedelta(milliseconds=300 * i))
                    .replace(tzinfo=None)
                    .isoformat(timespec="milliseconds"),
                },
            )
            for i in range(lone)
        ]
        session.add_all(tasks)
        session.flush()
        for task in tasks:
            plan_task(session, task, now=clock.now())
    engine.dispose()


def _trigger_delays(url: str, prefix: str, status: str) -> list[float]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        stmt = (
            select(Run.trigger_time, RunEvent.at)
            .join(RunEvent, col(RunEvent.run_id) == col(Run.id))
            .join(Task, col(Task.id) == col(Run.task_id))
            .where(col(Task.name).startswith(prefix), RunEvent.status == status)
        )
        rows = session.exec(stmt).all()
    engine.dispose()
    return [(at - trigger).total_seconds() * 1000 for trigger, at in rows if trigger]


def _wait_done(url: str, prefix: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_trigger_delays(url, prefix, "RUNNING")) >= count:
            return
        time.sleep(0.5)
    raise SystemExit(
        f"only {len(_trigger_delays(url, prefix, 'RUNNING'))} of {count} "
        f"{prefix} runs reached RUNNING"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--lone", type=int, default=50)
    parser.add_argument(
        "--lead",
        type=float,
        default=45.0,
        help="seconds from now to the burst (seeding and start-up fit in it)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        url = f"sqlite:///{Path(data) / 'almanac.db'}"
        upgrade_database(url)
        now = datetime.now(UTC).replace(microsecond=0)
        burst_at = now + timedelta(seconds=args.lead)
        lone_from = burst_at + timedelta(seconds=20)
        began = time.monotonic()
        _seed(
            url,
            idle=args.tasks,
            burst=args.burst,
            lone=args.lone,
            burst_at=burst_at,
            lone_from=lone_from,
        )
        print(
            f"seeded {args.tasks} + {args.burst} + {args.lone} tasks in "
            f"{time.monotonic() - began:.1f} s"
        )
        port = free_port()
        env = dict(os.environ, ALMANAC_ADMIN_PASSWORD=PASSWORD)
        log_path = Path(data) / "server.log"
        with open(log_path, "w") as log_file:
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
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        try:
            _report_load(log_path, server.pid, args)
            wait = (lone_from - datetime.now(UTC)).total_seconds() + 0.3 * args.lone + 30
            _wait_done(url, "burst-", args.burst, wait)
            _wait_done(url, "lone-", args.lone, wait)
            burst = _trigger_delays(url, "burst-", "RUNNING")
            phases = ", ".join(
                f"{status} min {min(d):.0f}/p50 {pct(d, 50):.0f}/p99 {pct(d, 99):.0f}"
                for status in ("ACTIVE", "TRIGGER", "STARTED", "RUNNING")
                if (d := _trigger_delays(url, "burst-", status))
            )
            print(f"burst phases (ms after trigger): {phases}")
            lone = _trigger_delays(url, "lone-", "ACTIVE")
            print(
                f"{args.burst} due in the same second, trigger -> RUNNING: "
                f"p50 {pct(burst, 50):.0f} ms, p99 {pct(burst, 99):.0f} ms, "
                f"max {max(burst):.0f} ms"
            )
            print(
                f"lone triggers ({args.lone}), trigger -> ACTIVE: p50 {pct(lone, 50):.1f} ms, "
                f"p99 {pct(lone, 99):.1f} ms, max {max(lone):.1f} ms"
            )
            lone_running = _trigger_delays(url, "lone-", "RUNNING")
            print(
                f"lone triggers, trigger -> RUNNING: p50 {statistics.median(lone_running):.1f}"
                f" ms, p99 {pct(lone_running, 99):.1f} ms"
            )
        finally:
            server.terminate()
            server.wait(timeout=60)


def _report_load(log_path: Path, pid: int, args: argparse.Namespace) -> None:
    deadline = time.monotonic() + 120
    pattern = re.compile(r"scheduler loaded (\d+) timers in ([\d.]+) s")
    while time.monotonic() < deadline:
        match = pattern.search(log_path.read_text())
        if match:
            rss = psutil.Process(pid).memory_info().rss / 2**20
            print(
                f"scheduler loaded {match.group(1)} timers in {float(match.group(2)):.2f} s; "
                f"server RSS {rss:.0f} MiB"
            )
            return
        time.sleep(0.1)
    raise SystemExit("the scheduler did not report its load:\n" + log_path.read_text()[-2000:])


if __name__ == "__main__":
    main()
