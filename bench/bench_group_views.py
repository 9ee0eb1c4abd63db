"""Group views' speed over a big history: the grid, the Gantt, the heat maps, the group-run
history and the filtered Task Runs page, each read over HTTP from a real server (uvicorn in
this process, no scheduler, no agent). Prints figures; asserts nothing.

A fresh SQLite database (or PostgreSQL with --postgres) gets one group of TASKS tasks in a
diamond-shaped chain, and group runs of all of them spread over a year of business dates
(--runs task runs in all: 100,000 by default), plus a task outside the group with planned
runs. The figures are round trips on loopback.

    .venv/bin/python bench/bench_group_views.py [--runs 100000] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from benchlib import PASSWORD, drop_database, free_port, scratch_database
from sqlalchemy import Engine, insert

from app.bootstrap import upgrade_database
from app.db.engine import make_engine, session_scope
from app.db.tables import DependencyEdge, GroupRun, Run, Task, TaskGroup, User
from app.security import hash_password
from app.server import create_app
from app.settings import Settings

TASKS = 10
STATUSES = ["SUCCESS"] * 90 + ["FAILED"] * 7 + ["SKIPPED"] * 3


def _seed(engine: Engine, runs: int, now: datetime) -> tuple[int, list[int], int]:
    """Returns the group id, its task ids and the number of group runs."""
    with session_scope(engine) as session:
        session.add(
            User(
                username="admin",
                password_hash=hash_password(PASSWORD),
                role="superadmin",
                instances=["*"],
                created_at=now,
            )
        )
        group = TaskGroup(name="nightly", created_at=now)
        session.add(group)
        session.flush()
        gid = group.id or 0
        tids = []
        for i in range(TASKS):
            task = Task(name=f"step-{i:02d}", command="true", group_id=gid, created_at=now)
            session.add(task)
            session.flush()
            tids.append(task.id or 0)
        for i in range(1, TASKS):  # a chain with a side branch every third step
            session.add(
                DependencyEdge(group_id=gid, upstream_id=tids[i - 1], downstream_id=tids[i])
            )
            if i >= 2 and i % 3 == 0:
                session.add(
                    DependencyEdge(group_id=gid, upstream_id=tids[i - 2], downstream_id=tids[i])
                )
    group_runs = runs // TASKS
    span = timedelta(days=365).total_seconds()
    with engine.begin() as connection:
        rows = []
        for g in range(group_runs):
            at = now - timedelta(seconds=span * (1 - g / group_runs))
            rows.append(
                {
                    "group_id": gid,
                    "status": "SUCCESS" if g % 20 else "FAILED",
                    "trigger_kind": "schedule",
                    "trigger_time": at,
                    "business_date": at.date(),
                    "params": {},
                    "created_at": at,
                    "finished_at": at + timedelta(minutes=TASKS),
                    "instance": "default",
                }
            )
        connection.execute(insert(GroupRun), rows)
        first = connection.exec_driver_sql("SELECT min(id) FROM group_run").scalar_one()
        batch: list[dict[str, object]] = []
        for g in range(group_runs):
            at = now - timedelta(seconds=span * (1 - g / group_runs))
            for step, tid in enumerate(tids):
                start = at + timedelta(minutes=step)
                batch.append(
                    {
                        "task_id": tid,
                        "group_run_id": first + g,
                        "status": STATUSES[(g * TASKS + step) % len(STATUSES)],
                        "trigger_kind": "schedule",
                        "trigger_time": at,
                        "dispatched_at": start,
                        "started_at": start + timedelta(seconds=2),
                        "finished_at": start + timedelta(seconds=50),
                        "agent": f"agent-{step % 3}",
                        "attempt": 1,
                        "agent_seq": 0,
                        "spec": {"task_name": f"step-{step:02d}", "command": "true"},
                        "instance": "default",
                        "business_date": at.date(),
                        "params": {},
                        "results": {},
                        "created_at": at,
                        "updated_at": start + timedelta(seconds=50),
                    }
                )
            if len(batch) >= 20_000:
                connection.execute(insert(Run), batch)
                batch = []
        if batch:
            connection.execute(insert(Run), batch)
    return gid, tids, group_runs


def _sign_in(base: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=60)
    token = re.search(r'name="login_token" value="([^"]+)"', http.get("/login").text)
    assert token is not None
    http.post(
        "/login", data={"username": "admin", "password": PASSWORD, "login_token": token.group(1)}
    )
    return http


def _time(label: str, call: Callable[[], httpx.Response], repeat: int = 20) -> None:
    """Wall figures of round trips, with the CPU time this process (server and client) spent
    per request and the load average: the machine may be shared, inflating wall times."""
    call()  # warm
    samples = []
    cpu = time.process_time()
    for _ in range(repeat):
        began = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text[:300]
    cpu_ms = (time.process_time() - cpu) * 1000 / repeat
    samples.sort()
    print(
        f"{label:<52} median {statistics.median(samples):7.1f} ms   "
        f"p95 {samples[int(len(samples) * 0.95) - 1]:7.1f} ms   "
        f"cpu {cpu_ms:6.1f} ms/req   load {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="a scratch PostgreSQL database")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="almanac-bench-groups-"))
    url = scratch_database() if args.postgres else f"sqlite:///{data_dir / 'almanac.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    began = time.perf_counter()
    gid, tids, group_runs = _seed(engine, args.runs, now)
    print(
        f"seeded {group_runs:,} group runs, {group_runs * TASKS:,} runs on "
        f"{engine.dialect.name} in {time.perf_counter() - began:.1f} s"
    )
    if args.postgres:
        # What autovacuum does within a minute of such an insert: without statistics the
        # planner guesses (an agent's runs: a bitmap scan of all 30,000 and a sort).
        with engine.begin() as connection:  # committed: statistics are transactional
            connection.exec_driver_sql("ANALYZE")
        print("ANALYZE done (as autovacuum would)")
    with engine.connect() as connection:
        newest, middle = connection.exec_driver_sql(
            "SELECT max(id), (min(id) + max(id)) / 2 FROM group_run"
        ).one()
    port = free_port()
    settings = Settings(
        host="127.0.0.1", port=port, data_dir=data_dir, database_url=url, local_agent=False
    )
    app = create_app(settings, engine=engine, start_scheduler=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    http = _sign_in(f"http://127.0.0.1:{port}")
    day = (now - timedelta(days=100)).date().isoformat()
    try:
        _time("grid, newest 25 group runs", lambda: http.get(f"/groups/{gid}/grid"))
        _time(
            "grid, a page in the middle (keyset)",
            lambda: http.get(f"/groups/{gid}/grid?before={middle}"),
        )
        _time("grid, oldest page", lambda: http.get(f"/groups/{gid}/grid?before=30"))
        _time("Gantt, newest group run", lambda: http.get(f"/group-runs/{newest}/gantt"))
        _time("Gantt, a group run in the middle", lambda: http.get(f"/group-runs/{middle}/gantt"))
        _time("heat map of the group (a year)", lambda: http.get(f"/groups/{gid}/heatmap"))
        _time("heat map of a task (a year)", lambda: http.get(f"/tasks/{tids[-1]}/heatmap"))
        _time(
            "group-run history, fragment",
            lambda: http.get(f"/groups/{gid}/history", headers={"HX-Request": "true"}),
        )
        _time(
            "group-run history, middle (keyset)",
            lambda: http.get(f"/groups/{gid}/history?before={middle}"),
        )
        _time("Task Runs, group filter", lambda: http.get(f"/task-runs?group={gid}"))
        _time("Task Runs, agent", lambda: http.get("/task-runs?agent=agent-1"))
        _time("Task Runs, agent + kind", lambda: http.get("/task-runs?agent=agent-1&kind=schedule"))
        for column in ("started_at", "finished_at"):
            for order in ("desc", "asc"):
                _time(
                    f"Task Runs, sorted by {column} {order}",
                    lambda c=column, o=order: http.get(f"/task-runs?sort={c}&order={o}"),
                )
        _time(
            "Task Runs, sorted by started_at, page 40",
            lambda: http.get("/task-runs?sort=started_at&page=40"),
        )
        _time("Task Runs, sorted by agent", lambda: http.get("/task-runs?sort=agent"))
        _time("Task Runs, business date", lambda: http.get(f"/task-runs?business_date={day}"))
        _time("Task Runs, jump to a date", lambda: http.get(f"/task-runs?jump={day}"))
        _time(
            "Task Runs, custom range of one day",
            lambda: http.get(f"/task-runs?from={day}&to={day}"),
        )
        _time("Task Runs, upcoming", lambda: http.get("/task-runs?view=upcoming"))
        _time("task list with last-run column", lambda: http.get("/tasks"))
        print(json.dumps({"runs": group_runs * TASKS, "database": engine.dialect.name}))
    finally:
        http.close()
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()
        if args.postgres:
            drop_database(url)


if __name__ == "__main__":
    main()
