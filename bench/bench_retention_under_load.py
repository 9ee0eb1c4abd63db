"""Retention under load (issue 21): prune a million expired runs (with their events and logs)
while runs keep firing, and the trigger delay's p99 stays as it was.

A seeded history of N runs over D days (bench/history_seed.py, cached; this benchmark works
on a copy) has half its runs past a retention of D/2 days. A real `almanac server` (built-in
agent) with 4 tasks due every second runs first without retention (the baseline delays),
then again with ALMANAC_RETENTION_DAYS=D/2: its leader starts pruning at once. Progress is
read from the oldest run id left (pruning goes oldest first); the pulses' delays while it
prunes are compared with the baseline.

    .venv/bin/python bench/bench_retention_under_load.py --runs 2000000 [--days 60] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import ADMIN, pct
from history_seed import History, copy_sqlite, history
from serverproc import add_pulses, describe, pulse_delays, running_server
from sqlalchemy import Engine, create_engine, text

PULSES = 4


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2_000_000)
    parser.add_argument(
        "--days", type=int, default=60, help="history span; runs older than half of it go"
    )
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--baseline-s", type=float, default=20)
    parser.add_argument("--budget-s", type=float, default=1800)
    args = parser.parse_args()
    deadline = time.monotonic() + args.budget_s
    threading.Thread(target=_watchdog, args=(args.budget_s + 60,), daemon=True).start()
    seeded = history(args.runs, args.days, postgres=args.postgres)
    retention = args.days / 2
    with _copy(seeded, args.postgres) as url, tempfile.TemporaryDirectory() as data:
        engine = create_engine(url)
        add_pulses(engine, PULSES)
        cutoff = datetime.now(UTC) - timedelta(days=retention)
        expired, last_expired = _expired(engine, cutoff)
        backend = "PostgreSQL" if args.postgres else "SQLite"
        print(f"{backend}: {args.runs:,} runs, {expired:,} past {retention:g} days", flush=True)

        with running_server(url, Path(data)):
            time.sleep(5)  # past the start
            began = datetime.now(UTC)
            time.sleep(args.baseline_s)
            baseline = pulse_delays(engine, began, datetime.now(UTC) - timedelta(seconds=1))
        print(describe("baseline (no retention)", baseline), flush=True)

        env = {"ALMANAC_RETENTION_DAYS": str(retention)}
        with running_server(url, Path(data), env):
            began = datetime.now(UTC)
            started = time.monotonic()
            pruned = _follow(engine, expired, last_expired, started, deadline)
            took = time.monotonic() - started
            during = pulse_delays(engine, began, datetime.now(UTC) - timedelta(seconds=1))
        print(describe("while pruning", during), flush=True)
        engine.dispose()
    rate = pruned / took if took else 0
    print(f"pruned {pruned:,} of {expired:,} expired runs in {took:.0f} s ({rate:,.0f} runs/s)")
    misses = []
    if pruned < expired:
        misses.append(f"pruning stopped at {pruned:,} of {expired:,}")
    calm, busy = baseline["ACTIVE"], during["ACTIVE"]
    if not calm or not busy:
        misses.append("the pulse tasks did not fire in both windows: no delays to compare")
    else:
        if pct(busy, 99) > 1.5 * pct(calm, 99) + 20:
            misses.append(
                f"trigger delay p99 {pct(busy, 99):.0f} ms while pruning against "
                f"{pct(calm, 99):.0f} ms before"
            )
    print("all goals met" if not misses else "goals missed: " + "; ".join(misses))


def _expired(engine: Engine, cutoff: datetime) -> tuple[int, int]:
    """How many runs finished before `cutoff`, and the newest of their ids."""
    bound = (
        cutoff.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        if engine.dialect.name == "sqlite"
        else cutoff
    )
    with engine.connect() as connection:
        count, newest = connection.execute(
            text("SELECT count(*), max(id) FROM run WHERE finished_at < :cut"), {"cut": bound}
        ).one()
    return int(count), int(newest or 0)


def _follow(
    engine: Engine, expired: int, last_expired: int, started: float, deadline: float
) -> int:
    """Print progress until the expired runs are gone, pruning stalls, or the budget ends."""
    pruned, moved_at, shown = 0, time.monotonic(), 0.0
    while True:
        time.sleep(2)
        with engine.connect() as connection:
            oldest = connection.execute(text("SELECT min(id) FROM run")).one()[0] or 0
        now = time.monotonic()
        done = min(expired, max(0, oldest - 1))
        if done > pruned:
            pruned, moved_at = done, now
        if now - shown >= 10:
            shown = now
            print(f"  {now - started:6.0f} s  {pruned:>11,} pruned", flush=True)
        if oldest > last_expired:
            return expired
        if now - moved_at > 60:
            print("  pruning stalled for 60 s (the old retention job stops after 100 batches)")
            return pruned
        if now > deadline:
            print("  out of time")
            return pruned


@contextmanager
def _copy(seeded: History, postgres: bool) -> Iterator[str]:
    """A throwaway copy of the seeded history."""
    if not postgres:
        with tempfile.TemporaryDirectory(prefix="almanac-bench-retention-") as folder:
            began = time.perf_counter()
            copy = copy_sqlite(seeded, Path(folder) / "almanac.db")
            print(f"copied the history in {time.perf_counter() - began:.0f} s", flush=True)
            yield copy.url
        return
    source = seeded.url.rsplit("/", 1)[1]
    name = f"{source}_retention"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
    try:
        yield seeded.url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _watchdog(budget_s: float) -> None:
    time.sleep(budget_s)
    print(f"stopped: over the {budget_s:.0f} s budget", flush=True)
    os._exit(3)


if __name__ == "__main__":
    main()
