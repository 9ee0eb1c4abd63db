"""Web UI speed: the Task Runs page over 1,000,000 runs, a live update reaching an open page,
and a log viewer page of a 1,000,000-line log. Prints figures; asserts nothing.

A real server (uvicorn in this process, no scheduler, no agent) on a fresh SQLite database:
runs are bulk-inserted (30 days of history over 50 tasks), a signed-in session reads the pages
over HTTP. Times are round trips on loopback (server time plus well under a millisecond).

    .venv/bin/python bench/bench_task_runs_page.py [--runs 1000000] [--log-lines 1000000]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import uvicorn
from benchlib import PASSWORD, free_port
from sqlalchemy import Engine

from app.bootstrap import upgrade_database
from app.db.engine import make_engine, session_scope
from app.db.logs import append_chunk
from app.db.run_commands import apply
from app.db.runs import get_run
from app.db.tables import Task, User
from app.domain import run_commands as c
from app.security import hash_password
from app.server import create_app
from app.settings import Settings

TASKS = 50
STATUSES = ["SUCCESS"] * 90 + ["FAILED"] * 7 + ["TERMINATED"] * 3


def _seed(engine: Engine, runs: int, now: datetime) -> None:
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
        for i in range(TASKS):
            session.add(Task(name=f"task-{i:02d}", command="true", created_at=now, updated_at=now))
    span = timedelta(days=30).total_seconds()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        batch = []
        for i in range(runs):
            at = now - timedelta(seconds=span * (1 - i / runs))
            stamp = at.replace(tzinfo=None).isoformat(sep=" ")
            done = (at + timedelta(seconds=3)).replace(tzinfo=None).isoformat(sep=" ")
            task = i % TASKS
            batch.append(
                (
                    task + 1,
                    STATUSES[i % len(STATUSES)],
                    "schedule",
                    stamp,
                    stamp,
                    done,
                    "agent-1",
                    1,
                    0,
                    json.dumps({"task_name": f"task-{task:02d}", "command": "true"}),
                    "default",
                    stamp,
                    done,
                )
            )
            if len(batch) == 50_000:
                _insert(cursor, batch)
                batch = []
        if batch:
            _insert(cursor, batch)
        raw.commit()
    finally:
        raw.close()


def _insert(cursor: object, rows: Sequence[tuple[object, ...]]) -> None:
    cursor.executemany(  # type: ignore[attr-defined]
        "INSERT INTO run (task_id, status, trigger_kind, trigger_time, started_at, finished_at,"
        " agent, attempt, agent_seq, spec, instance, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _seed_log(engine: Engine, run_id: int, lines: int) -> None:
    offset, chunk, per_chunk = 0, [], 4000
    with session_scope(engine) as session:
        for n in range(1, lines + 1):
            chunk.append(f"{n:07d} processing record {n} of the nightly batch: ok\n")
            if len(chunk) == per_chunk or n == lines:
                data = "".join(chunk).encode()
                append_chunk(
                    session, run_id=run_id, attempt=1, stream="stdout", offset=offset, data=data
                )
                offset += len(data)
                chunk = []


def _sign_in(base: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=60)
    token = re.search(r'name="login_token" value="([^"]+)"', http.get("/login").text)
    assert token is not None
    http.post(
        "/login", data={"username": "admin", "password": PASSWORD, "login_token": token.group(1)}
    )
    return http


def _time(label: str, call: Callable[[], httpx.Response], repeat: int = 20) -> None:
    call()  # warm
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text[:300]
    samples.sort()
    print(
        f"{label:<48} median {statistics.median(samples):7.1f} ms   "
        f"p95 {samples[int(len(samples) * 0.95) - 1]:7.1f} ms"
    )


def _live_latency(base: str, http: httpx.Client, engine: Engine, samples: int) -> None:
    """Open the page's stream, change a run shown on page 1, time until its row arrives."""
    page = http.get("/task-runs")
    seq = re.search(r"seq=(\d+)", page.text)
    ids = [int(m) for m in re.findall(r'<tr id="run-(\d+)"', page.text)][:samples]
    latencies: list[float] = []
    with (
        httpx.Client(base_url=base, timeout=30, cookies=http.cookies) as stream_client,
        stream_client.stream(
            "GET", f"/task-runs/events?seq={seq.group(1) if seq else 0}"
        ) as events,
    ):
        lines = events.iter_lines()
        next(lines)  # "retry: ..." opens the stream
        for run_id in ids:
            sent: list[float] = []

            def change(run_id: int = run_id, sent: list[float] = sent) -> None:
                with session_scope(engine) as session:
                    run = get_run(session, run_id, lock=True)
                    apply(session, run, c.Rerun("bench"), now=datetime.now(UTC))
                    sent.append(time.perf_counter())

            threading.Thread(target=change).start()
            for line in lines:
                if f'id="run-{run_id}" data-status="ACTIVE"' in line:
                    latencies.append((time.perf_counter() - sent[0]) * 1000)
                    break
    latencies.sort()
    print(
        f"{'live update: commit -> row on the open page':<48} median "
        f"{statistics.median(latencies):7.1f} ms   max {latencies[-1]:7.1f} ms "
        f"({len(latencies)} updates)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--log-lines", type=int, default=1_000_000)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="almanac-bench-web-"))
    url = f"sqlite:///{data_dir / 'almanac.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    began = time.perf_counter()
    _seed(engine, args.runs, now)
    print(f"seeded {args.runs:,} runs in {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    log_run = args.runs  # the newest run carries the big log
    _seed_log(engine, log_run, args.log_lines)
    print(f"seeded a {args.log_lines:,}-line log in {time.perf_counter() - began:.1f} s")

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
    base = f"http://127.0.0.1:{port}"
    http = _sign_in(base)
    fragment = {"HX-Request": "true"}
    try:
        _time("Task Runs, first page (full page)", lambda: http.get("/task-runs"))
        _time("Task Runs, first page (fragment)", lambda: http.get("/task-runs", headers=fragment))
        _time("Task Runs, status=FAILED", lambda: http.get("/task-runs?status=FAILED"))
        _time("Task Runs, range=24h", lambda: http.get("/task-runs?range=24h"))
        _time("Task Runs, search q=task-07", lambda: http.get("/task-runs?q=task-07"))
        _time("Task Runs, page 100", lambda: http.get("/task-runs?page=100"))
        _live_latency(base, http, engine, 20)
        pages = -(-args.log_lines // 500)
        bearer = {"Authorization": f"Bearer {http.cookies['almanac_session']}"}
        for path in (
            f"/api/v1/runs/{log_run}",
            f"/api/v1/runs/{log_run}/logs?page=1",
            f"/api/v1/runs/{log_run}/outputs",
        ):
            _time("  API " + path, partial(http.get, path, headers=bearer), repeat=5)
        _time(
            "log viewer, first page (500 lines)",
            lambda: http.get(f"/task-runs/{log_run}/log?stream=stdout&page=1"),
        )
        _time(
            f"log viewer, middle page ({pages // 2})",
            lambda: http.get(f"/task-runs/{log_run}/log?stream=stdout&page={pages // 2}"),
        )
        _time(
            f"log viewer, last page ({pages})",
            lambda: http.get(f"/task-runs/{log_run}/log?stream=stdout&page={pages}"),
        )
        _time("run detail page with its log", lambda: http.get(f"/task-runs/{log_run}"))
        _time(
            "log search over all lines ('record 99999')",
            lambda: http.get(f"/task-runs/{log_run}/log/search?q=record%2099999"),
            repeat=3,
        )
    finally:
        http.close()
        server.should_exit = True
        thread.join(timeout=30)


if __name__ == "__main__":
    main()
