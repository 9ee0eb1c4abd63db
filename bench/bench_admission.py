"""Dispatch pass with pools, locks and priorities: 100,000 ACTIVE runs waiting on 1,000 pools
(10 instances, 100 pools each, 2 slots a pool, a quarter of the runs also ask a lock), with
every pool full (2,000 runs on agents) or empty. Prints the pass time (median of the passes;
each pass is rolled back so every pass sees the same queue) and the starts it made.

    .venv/bin/python bench/bench_admission.py [--runs 100000] [--pools 1000] [--passes 5]
    [--database-url URL]   (default: a fresh PostgreSQL database, dropped afterwards;
    sqlite:////tmp/adm.db for SQLite)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from benchlib import drop_database, scratch_database
from sqlalchemy import Engine, insert, text, update
from sqlmodel import Session, col

from app.bootstrap import upgrade_database
from app.db.engine import make_engine
from app.db.pool_tables import Pool
from app.db.tables import Run
from app.domain.admission import admission_columns
from app.domain.placement import AgentSlot
from app.domain.states import RunStatus
from app.scheduler.admission import load_gates
from app.scheduler.dispatch import dispatch_pending

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
INSTANCES = 10
SLOTS = 2


def _spec(pool: str, rng: random.Random) -> dict[str, Any]:
    locks = [{"name": f"db-{rng.randrange(50)}", "mode": rng.choice(("shared", "exclusive"))}]
    return {
        "command": "true",
        "task_name": None,
        "target": None,
        "labels": {},
        "pool": pool,
        "pool_slots": 1,
        "locks": locks if rng.random() < 0.25 else [],
    }


def _seed(engine: Engine, runs: int, pools: int) -> None:
    rng = random.Random(7)
    per_instance = pools // INSTANCES
    names = [(f"team-{i % INSTANCES}", f"pool-{i // INSTANCES}") for i in range(pools)]
    with Session(engine) as session:
        session.execute(
            insert(Pool),
            [{"name": n, "instance": i, "slots": SLOTS, "description": ""} for i, n in names],
        )
        rows = []
        for k in range(runs):
            instance, pool = names[rng.randrange(pools)]
            priority = rng.randint(-5, 5)
            spec = _spec(pool, rng)
            rows.append(
                {
                    "status": RunStatus.ACTIVE.value,
                    "trigger_kind": "manual",
                    "trigger_time": NOW - timedelta(seconds=runs - k),
                    "spec": spec,
                    **admission_columns(spec),  # as runs are made (app/db/runs.py)
                    "instance": instance,
                    "priority": priority,
                    "queue_rank": -priority,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
        for start in range(0, len(rows), 10_000):
            session.execute(insert(Run), rows[start : start + 10_000])
        session.commit()
        session.execute(text("ANALYZE run" if engine.dialect.name == "postgresql" else "ANALYZE"))
        session.commit()
    print(f"seeded {runs:,} ACTIVE runs on {pools:,} pools ({per_instance} per instance)")


def _fill_pools(engine: Engine, pools: int) -> None:
    """Every pool full: its first SLOTS runs (in id order) on an agent."""
    with Session(engine) as session:
        taken: dict[tuple[str, str], int] = {}
        ids = []
        for run_id, instance, spec in session.execute(
            text("SELECT id, instance, spec FROM run ORDER BY id")
        ):
            if isinstance(spec, str):  # SQLite hands the JSON back as text
                spec = json.loads(spec)
            key = (instance, spec["pool"] if isinstance(spec, dict) else "")
            if taken.get(key, 0) < SLOTS:
                taken[key] = taken.get(key, 0) + 1
                ids.append(run_id)
        session.execute(
            update(Run)
            .where(col(Run.id).in_(ids))
            .values(status=RunStatus.RUNNING.value, agent="agent-0", spec=Run.spec)
        )
        session.commit()
        session.execute(text("ANALYZE run" if engine.dialect.name == "postgresql" else "ANALYZE"))
        session.commit()
    print(f"{len(ids):,} runs hold every slot of the {pools:,} pools")


def _passes(engine: Engine, passes: int, agents: list[AgentSlot], *, steady: bool = False) -> None:
    """`steady`: one pass committed first, so the passes timed find every reason already
    written (what a pass costs when nothing changed since the last)."""
    if steady:
        with Session(engine) as session:
            dispatch_pending(session, now=NOW, agents=agents)
            session.commit()
    times, cpu, starts = [], [], 0
    for _ in range(passes):
        with Session(engine) as session:
            began, used = time.perf_counter(), time.process_time()
            sends = dispatch_pending(session, now=NOW, agents=agents)
            session.flush()
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - used)
            starts = len(sends)
            session.rollback()
    print(
        f"  pass: median {statistics.median(times) * 1000:.1f} ms, "
        f"min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms; "
        f"{starts} starts in a pass; this process's CPU median "
        f"{statistics.median(cpu) * 1000:.1f} ms ({os.getloadavg()[0]:.1f} load)"
    )


def _load_time(engine: Engine, passes: int) -> None:
    """The gates' own fixed cost in a pass: pools, quotas and what the held runs hold."""
    times = []
    for _ in range(passes):
        with Session(engine) as session:
            began = time.perf_counter()
            load_gates(session)
            times.append(time.perf_counter() - began)
    print(f"  of which loading the gates: median {statistics.median(times) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--pools", type=int, default=1_000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or scratch_database()
    try:
        upgrade_database(url)
        engine = make_engine(url)
        _seed(engine, args.runs, args.pools)
        agents = [
            AgentSlot(name=f"agent-{i}", labels={}, max_runs=None, running=0, docker=False)
            for i in range(10)
        ]
        print("pools empty (a pass fills every pool it reaches: 2 runs a pool):")
        _passes(engine, args.passes, agents)
        _fill_pools(engine, args.pools)
        print("pools full, first pass (every run read waits; its reason is written):")
        _passes(engine, args.passes, agents)
        print("pools full, steady (reasons already written, nothing changed):")
        _passes(engine, args.passes, agents, steady=True)
        _load_time(engine, args.passes)
        engine.dispose()
    finally:
        if args.database_url is None:
            drop_database(url)


if __name__ == "__main__":
    main()
