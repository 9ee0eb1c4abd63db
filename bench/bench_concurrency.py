"""Concurrency: 5,000 runs RUNNING at once on one agent (the built-in one), real processes.

90 % of the runs sleep; 10 % print a numbered line a second (and append it to a file of
their own, the truth the stored log is checked against). With all of them RUNNING, for
`--hold` seconds: the agent's heartbeats (gaps between the stored beats), the Task Runs page,
the dashboard and the runs API (response times), the server's and the agent's CPU and memory.
Then one call kills the whole batch: the time until every run is TERMINATED, and every line a
printer wrote to its file must be in its stored log.

    .venv/bin/python bench/bench_concurrency.py [--runs 5000] [--hold 30] [--profile]

Goals (issue 21): heartbeats, the Task Runs page and the dashboard under 200 ms; killing all
5,000 under 10 s; no log line lost.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from bench_idle_pages import _session
from benchlib import (
    Sampler,
    free_port,
    goal,
    load,
    login,
    machine,
    pct,
    print_profile,
    start_server,
    stop,
)
from sqlalchemy import text

from app.bootstrap import upgrade_database
from app.db.engine import make_engine, session_scope
from app.db.runs import add_runs, new_run, task_spec
from app.db.tables import Task
from app.domain.states import RunStatus, TriggerKind

BATCH = "bench-concurrency"
PRINTER = (
    'i=0; while true; do i=$((i+1)); echo "line $i" | tee -a {lines}/$ALMANAC_RUN_ID; sleep 1; done'
)


def seed(url: str, runs: int, lines: Path) -> None:
    """`runs` ACTIVE runs of one adhoc batch (one kill stops them all), every tenth a printer."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        sleeper = Task(name="sleeper", command="sleep 3600")
        printer = Task(name="printer", command=PRINTER.format(lines=lines))
        session.add_all([sleeper, printer])
        session.flush()
        made = []
        for n in range(runs):
            task = printer if n % 10 == 0 else sleeper
            run = new_run(
                at=now,
                status=RunStatus.ACTIVE,
                trigger_kind=TriggerKind.ADHOC,
                spec=task_spec(task),
                task=task,
                batch_id=BATCH,
            )
            made.append((run, "bench"))
        add_runs(session, made)
    engine.dispose()


def count(url: str, status: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT count(*) FROM run WHERE status = :s"), {"s": status}
        ).scalar_one()
    engine.dispose()
    return int(found)


def outcomes(url: str) -> dict[str, int]:
    """Why the runs are where they are (for a start that did not finish in time)."""
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT status, reason, count(*) FROM run GROUP BY status, reason")
        ).all()
    engine.dispose()
    return {f"{status} ({reason})": int(n) for status, reason, n in rows}


def wait_for(url: str, status: str, wanted: int, timeout: float) -> float | None:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if count(url, status) >= wanted:
            return time.monotonic() - began
        time.sleep(0.25)
    return None


def heartbeat_gaps(url: str, seconds: float) -> list[float]:
    """The gaps between the agent's stored heartbeats over `seconds` (polled)."""
    engine = make_engine(url)
    seen: list[datetime] = []
    deadline = time.monotonic() + seconds
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            beat = connection.execute(text("SELECT max(last_heartbeat) FROM agent")).scalar_one()
            connection.rollback()
            if beat is not None and (not seen or str(beat) != str(seen[-1])):
                seen.append(beat)
            time.sleep(0.2)
    engine.dispose()
    stamps = [datetime.fromisoformat(str(b)) for b in seen]
    return [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]


def timed_get(client: httpx.Client, path: str, **kwargs: Any) -> float:
    began = time.perf_counter()
    response = client.get(path, **kwargs)
    response.raise_for_status()
    return (time.perf_counter() - began) * 1000


def agent_process(server_pid: int) -> psutil.Process | None:
    for child in psutil.Process(server_pid).children():
        with contextlib.suppress(psutil.Error):
            if "agent" in " ".join(child.cmdline()):
                return child
    return None


def hold(base: str, url: str, seconds: float) -> bool:
    token = login(base)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    web = _session(base)
    pages: dict[str, list[float]] = {"Task Runs page": [], "dashboard": [], "runs API": []}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pages["Task Runs page"].append(timed_get(web, "/task-runs"))
        pages["dashboard"].append(timed_get(web, "/"))
        pages["runs API"].append(timed_get(api, "/api/v1/runs", params={"status": "RUNNING"}))
        time.sleep(1)
    met = True
    for name, values in pages.items():
        print(
            f"  {name}: median {statistics.median(values):.0f} ms, p99 {pct(values, 99):.0f} ms"
            f", max {max(values):.0f} ms ({len(values)} reads)"
        )
        if name != "runs API":
            met &= goal(f"{name} p99", pct(values, 99), 200, "ms", "see the profile")
    return met


def check_logs(base: str, lines: Path) -> bool:
    token = login(base)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    written = lost = 0
    for path in lines.iterdir():
        truth = path.read_text().splitlines()
        stored = set(api.get(f"/api/v1/runs/{path.name}/logs/download").text.splitlines())
        written += len(truth)
        lost += sum(1 for line in truth if line not in stored)
    print(f"  log lines the printers wrote: {written:,}; missing from the stored logs: {lost}")
    return lost == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--hold", type=float, default=30.0, help="seconds all are RUNNING")
    parser.add_argument("--start-timeout", type=float, default=300.0)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}; {load()}")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        lines = data / "lines"
        lines.mkdir()
        os.chmod(folder, 0o755)  # the runs drop to `nobody`: it must reach the folder
        os.chmod(lines, 0o777)
        url = f"sqlite:///{data / 'almanac.db'}"
        upgrade_database(url)
        seed(url, args.runs, lines)
        profile = data / "server.prof" if args.profile else None
        port = free_port()
        server = start_server(data, port, profile=profile, log=data / "server.log")
        base = f"http://127.0.0.1:{port}"
        met = True
        try:
            login(base, timeout=300)
            took = wait_for(url, "RUNNING", args.runs, args.start_timeout)
            if took is None:
                print(f"NOT MET: only {count(url, 'RUNNING')} of {args.runs} RUNNING in time")
                print(f"  runs by status and reason: {outcomes(url)}")
                return
            print(f"{args.runs:,} RUNNING on one agent, {took:.1f} s after the server took them")
            agent = agent_process(server.pid)
            pids = [server.pid] + ([agent.pid] if agent else [])
            with Sampler(server.pid) as on_server, Sampler(*pids[1:]) as on_agent:
                met &= hold(base, url, args.hold)
                gaps = heartbeat_gaps(url, 12)
            print(f"  server: {on_server.summary()}")
            print(f"  agent process: {on_agent.summary()} ({load()})")
            runs_rss = 0
            for child in agent.children(recursive=True) if agent else []:
                with contextlib.suppress(psutil.Error):  # a printer's `sleep 1` comes and goes
                    runs_rss += child.memory_info().rss
            print(
                f"  the runs' processes: RSS sum {runs_rss / 2**20:.0f} MiB (shared pages counted)"
            )
            if gaps:
                late = max(gaps) - 5.0  # the agent beats every 5 s
                print(f"  heartbeat gaps: {', '.join(f'{g:.2f}' for g in gaps)} s")
                met &= goal("heartbeat lateness (gap - 5 s)", late * 1000, 200, "ms")
            began = time.monotonic()
            token = login(base)
            killed = httpx.post(
                f"{base}/api/v1/adhoc/{BATCH}/kill",
                headers={"Authorization": f"Bearer {token}"},
                timeout=300,
            )
            answered = time.monotonic() - began
            done = wait_for(url, "TERMINATED", args.runs, 120)
            total = answered + (done or 120)
            print(
                f"kill of all {args.runs:,}: call answered in {answered:.1f} s "
                f"(HTTP {killed.status_code}), all TERMINATED after {total:.1f} s ({load()})"
            )
            met &= goal("kill all", total, 10, "s", "see the profile")
            time.sleep(2)  # the last log frames follow the ends
            met &= check_logs(base, lines)
        finally:
            stop(server)
        print("every goal met" if met else "a goal is NOT MET (above)")
        if profile is not None:
            print_profile(profile)


if __name__ == "__main__":
    main()
