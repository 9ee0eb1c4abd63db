"""History at scale: the Task Runs page, its filters, a run's detail and the dashboard over a
history of N finished runs with their events and logs (issue 21: 10 million runs, pages under
100 ms, dashboard counts under 200 ms; issue 18: Task Runs, grid and Gantt under 150 ms with
100,000 runs). Prints figures and, for each goal missed, the SQL that took the time with its
plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL).

The history is seeded once and kept (bench/history_seed.py: a SQLite file or a PostgreSQL
database under /tmp named after its size); a real server runs in this process on it, no
scheduler, no agent, its clock set back to the seeding time so "last 24 h" means the same.

    .venv/bin/python bench/bench_history_scale.py --runs 1000000 [--postgres] [--repeat 10]
    .venv/bin/python bench/bench_history_scale.py --runs 10000000 --postgres   # the full size

To time another page, add a line to PAGES (paths may use {run}, {old_run}, {gid},
{group_run}); a path that answers 404 is reported as not built and skipped.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from history_seed import BLOCK, GROUPS, UNITS, history
from pagetimer import PageTimer, ShiftedClock, StatementLog, serve, sign_in
from sqlmodel import select

from app.db.engine import make_engine, session_scope
from app.db.tables import User
from app.services import dashboard
from app.services.actor import Actor

# (label, path, goal in ms, as an htmx fragment)
PAGES: list[tuple[str, str, float, bool]] = [
    ("Task Runs, first page", "/task-runs", 100, False),
    ("Task Runs, first page (htmx fragment)", "/task-runs", 100, True),
    ("Task Runs, status=FAILED", "/task-runs?status=FAILED", 100, False),
    ("Task Runs, status=RUNNING (none)", "/task-runs?status=RUNNING", 100, False),
    ("Task Runs, range=24h", "/task-runs?range=24h", 100, False),
    ("Task Runs, search q=task-007", "/task-runs?q=task-007", 100, False),
    ("Task Runs, search with no match", "/task-runs?q=no-such-task", 100, False),
    ("Task Runs, FAILED + q + 7d", "/task-runs?status=FAILED&q=task-007&range=7d", 100, False),
    ("Task Runs, page 100", "/task-runs?page=100", 100, False),
    ("Task Runs, half way down (page {mid_page})", "/task-runs?page={mid_page}", 100, False),
    ("Task Runs, half way down (keyset)", "/task-runs?before={mid_run}", 100, False),
    ("run detail, newest run", "/task-runs/{run}", 100, False),
    ("run detail, an old run", "/task-runs/{old_run}", 100, False),
    ("API GET /api/v1/runs", "/api/v1/runs", 100, False),
    ("API GET /api/v1/runs?status=FAILED", "/api/v1/runs?status=FAILED", 100, False),
    ("API GET /api/v1/runs/{run}", "/api/v1/runs/{run}", 100, False),
    ("dashboard page", "/", 200, False),
    ("group grid (issue 18)", "/groups/{gid}/grid", 150, False),
    ("group run Gantt (issue 18)", "/group-runs/{group_run}/gantt", 150, False),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--budget-s", type=float, default=1800, help="stop after this long")
    args = parser.parse_args()
    _watchdog(args.budget_s)
    seeded = history(args.runs, args.days, postgres=args.postgres)
    engine = make_engine(seeded.url)
    statements = StatementLog()
    statements.attach(engine)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{backend}, {args.runs:,} finished runs over {args.days} days (3 events and a log each)")
    last_group_block = max(b for b in range(args.runs // BLOCK) if b % UNITS < GROUPS)
    names = {
        "run": seeded.newest_run,
        "old_run": max(1, seeded.newest_run // 20),
        "mid_run": seeded.newest_run // 2,
        "mid_page": min(100_000, max(1, args.runs // 100)),
        "gid": 1 + last_group_block % UNITS,
        "group_run": last_group_block + 1,
    }
    with (
        tempfile.TemporaryDirectory(prefix="almanac-bench-history-") as data,
        serve(seeded.url, Path(data), engine, seeded.anchor) as base,
    ):
        http = sign_in(base)
        bearer = {"Authorization": f"Bearer {http.cookies['almanac_session']}"}
        http.headers.update(bearer)
        timer = PageTimer(http, engine, statements, repeat=args.repeat)
        for label, path, goal, fragment in PAGES:
            timer.page(label.format(**names), path.format(**names), goal, fragment=fragment)
        clock = ShiftedClock(seeded.anchor)
        with session_scope(engine) as session:
            admin = session.exec(select(User).where(User.username == "admin")).one()
            session.expunge(admin)
        actor = Actor(admin)

        def counts() -> None:
            with session_scope(engine) as session:
                dashboard.figures(session, actor=actor, now=clock.now())

        timer.call("dashboard counts (service, no HTTP)", counts, 200)
        http.close()
    print(
        "all goals met"
        if not timer.misses
        else f"goals missed: {', '.join(timer.misses)} (plans printed above)"
    )
    engine.dispose()


def _watchdog(budget_s: float) -> None:
    def stop() -> None:
        time.sleep(budget_s)
        print(f"stopped: over the {timedelta(seconds=budget_s)} budget", flush=True)
        os._exit(3)

    threading.Thread(target=stop, daemon=True).start()


if __name__ == "__main__":
    main()
