"""Placement benchmark: one dispatch pass with 1,000 agents.

Two scenes, each timed twice: the pure placement step alone (app/domain/placer.py over the
runs a pass reads) and the whole pass as the scheduler runs it (what agents hold and run,
the offline agents, the pages of ready runs, placement, the writes, the commit), on SQLite
in a temporary folder (or `--database-url` for PostgreSQL).

- waiting: 1,000 agents with 8 GPUs each, every GPU held by a running run (8,000 runs), and
  100,000 ACTIVE runs asking one GPU each: nothing can start, every pass says so.
- placing: 1,000 agents with 16 free cores each and 10,000 ACTIVE runs asking 1 core each:
  all placed in one pass.

With `--task-specs` the running runs carry specs as tasks' runs do (a sealed environment of
about 1 KB, a quarter drawing from a pool, a quarter holding a lock) instead of a bare
command. On PostgreSQL the tables are vacuumed and analyzed once filled, as autovacuum would.

    .venv/bin/python bench/bench_placement.py [--agents 1000] [--waiting 100000]
        [--placed 10000] [--repeat 5] [--database-url URL] [--profile] [--task-specs]

Prints milliseconds (median of the repeats, and the best), this process's CPU time and the
load average; with `--profile`, one more pass of each scene under cProfile, by step (the
runs on agents, the pages of ready runs, judging, placement, claiming, starts, reasons,
flush); no assertion. Goal: a pass under 100 ms at this size.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import os
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert
from sqlmodel import Session

from app.bootstrap import upgrade_database
from app.db.engine import make_engine, session_scope
from app.db.pool_tables import Pool
from app.db.tables import Run, RunEvent
from app.domain.admission import admission_columns
from app.domain.capacity import Allocation, capacity_of
from app.domain.placement import AgentSlot
from app.domain.placer import Placer
from app.domain.states import TriggerKind
from app.scheduler.admission import Held, load_held
from app.scheduler.dispatch import DISPATCH_BATCH, allocations, dispatch_pending

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
GIB = 1024**3


def resources(cores: int, gpus: int) -> dict[str, Any]:
    return {
        "cpus": cores,
        "memory_total": 256 * GIB,
        "docker": True,
        "gpus": [{"index": i, "name": "Bench GPU", "memory_total": 80 * GIB} for i in range(gpus)],
    }


def fleet(
    count: int,
    cores: int,
    gpus: int,
    held: dict[str, Allocation],
    running: dict[str, int] | None = None,
) -> list[AgentSlot]:
    """The slots as the hub builds them each pass (capacity read once per connection)."""
    capacity = capacity_of(resources(cores, gpus))
    return [
        AgentSlot(
            name=name,
            labels={"zone": f"z{i % 4}"},
            max_runs=None,
            running=(running or {}).get(name, len(held.get(name, Allocation()).gpus)),
            docker=True,
            capacity=capacity,
            allocated=held.get(name) or Allocation(),
        )
        for i, name in ((i, f"agent-{i:04d}") for i in range(count))
    ]


def _row(i: int, status: str, spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "trigger_kind": TriggerKind.ADHOC,
        "trigger_time": NOW - timedelta(seconds=1_000_000 - i),
        "spec": spec,
        **admission_columns(spec),  # as runs are made (app/db/runs.py)
        "attempt": 1,
        "agent_seq": 0,
        "dispatches": 0,
        "ignore_upstreams": False,
        "params": {},
        "results": {},
        "instance": "default",
        "created_at": NOW,
        **extra,
    }


def held_spec(i: int, like_tasks: bool) -> dict[str, Any]:
    """A running run's spec: bare, or (`--task-specs`) as a task's run carries it: a sealed
    environment of about 1 KB, the task's settings, a quarter drawing from a pool, a quarter
    holding a lock (what the gates read of the runs on agents)."""
    if not like_tasks:
        return {"command": "x"}
    return {
        "command": f"python train.py --config cfg/{i % 50}.yaml",
        "image": "registry.example.com/ml/train:1.2.3",
        "env_sealed": SEALED,
        "workdir": "/srv/ml",
        "run_as_user": None,
        "cpus": None,
        "memory": "16g",
        "gpus": [],
        "gpu_count": 1,
        "mounts": [{"source": "/data", "target": "/data", "read_only": True}],
        "max_run_seconds": 86400,
        "target": None,
        "labels": {"zone": f"z{i % 4}"},
        "task_name": f"train-{i % 50}",
        "concurrency": "allow",
        "pool": HELD_POOL if i % 4 == 0 else None,
        "pool_slots": 1,
        "locks": [{"name": "db-main", "mode": "shared"}] if i % 4 == 1 else [],
        "business_date": "2026-03-02",
        "params": {"model": f"m{i % 7}"},
    }


SEALED = base64.b64encode(random.Random(7).randbytes(768)).decode()
HELD_POOL = "gpu-pool"


def fill(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with session_scope(engine) as session:
        for start in range(0, len(rows), 5000):
            session.exec(insert(Run), params=rows[start : start + 5000])  # type: ignore[call-overload]
    if engine.dialect.name == "postgresql":
        # As autovacuum would (off on some test servers): without statistics the planner
        # reads the page of ready runs by sorting every ACTIVE run (50-70 ms for 100,000)
        # instead of walking the queue's index. SQLite gets none: the server never runs it.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE run")


def empty(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.exec(delete(RunEvent))  # type: ignore[call-overload]
        session.exec(delete(Run))  # type: ignore[call-overload]
        session.exec(delete(Pool))  # type: ignore[call-overload]


def whole_pass(
    engine: Engine, slots: Callable[[Session, Held], list[AgentSlot]]
) -> tuple[float, int]:
    """One pass as SchedulerService._claim runs it, rolled back (so it can be repeated):
    milliseconds and runs placed."""
    started, used = time.perf_counter(), time.process_time()
    with Session(engine) as session:
        held = load_held(session)  # one read of the runs on agents, as the service does
        agents = slots(session, held)
        sends = dispatch_pending(session, now=NOW, agents=agents, held=held)
        session.flush()
        elapsed = (time.perf_counter() - started) * 1000
        session.rollback()
    CPU.append((time.process_time() - used) * 1000)
    return elapsed, len(sends)


CPU: list[float] = []  # this process's CPU time of each whole pass (the machine is shared)
PROFILE = False  # --profile: where one more pass of each scene spends its time

# The steps of a pass, as cProfile names them (file suffix, function): what --profile shows.
STEPS = (
    ("scheduler/admission.py", "load_held", "runs on agents: agents' load, pools, locks, quotas"),
    ("bench_placement.py", "slots", "the agents' slots (the hub's part)"),
    ("scheduler/admission.py", "ready_page", "pages of ready runs, plain rows"),
    ("scheduler/dispatch.py", "_admit", "judging: upstreams, gates, placement (pure)"),
    ("domain/placer.py", "place", "  of which placement (app/domain/placer.py)"),
    ("scheduler/admission.py", "claim", "admitted runs read as ORM rows, locked"),
    ("scheduler/dispatch.py", "_start", "starts: start frame, lifecycle, event"),
    ("scheduler/admission.py", "lookahead", "lookahead behind a waiting head"),
    ("scheduler/admission.py", "write_reasons", "waiting reasons written"),
    ("sqlalchemy/orm/session.py", "flush", "ORM flush (starts)"),
)


def profiled(engine: Engine, slots: Callable[[Session, Held], list[AgentSlot]]) -> None:
    """One more pass under cProfile, timed by this process's CPU clock (the database's own
    work on PostgreSQL is not in it): cumulative milliseconds of each step, inflated by the
    profiler (read them as shares of the pass)."""
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    whole_pass(engine, slots)
    profile.disable()
    CPU.clear()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    whole = sum(row[3] for (_, _, func), row in stats.items() if func == "whole_pass")
    print(f"    {whole * 1000:8.1f} ms CPU  the whole pass, profiled")
    for suffix, name, words in STEPS:
        spent = sum(
            row[3]
            for (file, _, func), row in stats.items()
            if func == name and file.endswith(suffix)
        )
        print(f"    {spent * 1000:8.1f} ms CPU  {words}")


def cpu_note() -> str:
    taken = CPU[:]
    CPU.clear()
    return f"; CPU median {statistics.median(taken):.1f} ms, load {os.getloadavg()[0]:.1f}"


def timed_placement(
    built: list[AgentSlot], specs: list[dict[str, Any]], repeat: int
) -> tuple[float, float, int]:
    """The pure step alone: a Placer over fresh copies of the slots (made untimed, as the
    hub makes them each pass), placing every spec in turn."""
    times, placed = [], 0
    for _ in range(repeat):
        agents = [replace(a, allocated=replace(a.allocated)) for a in built]
        started = time.perf_counter()
        placer = Placer(agents)
        placed = sum(1 for s in specs if not isinstance(placer.place(s), str))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), placed


def scene_waiting(
    engine: Engine, agents: int, waiting: int, repeat: int, like_tasks: bool = False
) -> None:
    empty(engine)
    rows = []
    for a in range(agents):
        for g in range(8):
            alloc = {"cores": 0, "memory": 0, "gpus": [g]}
            spec = held_spec(a * 8 + g, like_tasks)
            rows.append(_row(0, "RUNNING", spec, agent=f"agent-{a:04d}", allocation=alloc))
    if like_tasks:  # the held runs' pool, with a slot for each of them
        with session_scope(engine) as session:
            session.add(Pool(name=HELD_POOL, slots=agents * 8))
    spec = {"command": "train", "gpu_count": 1}
    rows += [_row(i, "ACTIVE", spec) for i in range(waiting)]
    fill(engine, rows)

    with Session(engine) as session:
        held = allocations(session)
    read = min(waiting, DISPATCH_BATCH)  # a page that places nothing ends the pass
    specs = [dict(spec) for _ in range(read)]  # each run's spec is its own dict

    med, best, placed = timed_placement(fleet(agents, 64, 8, held), specs, repeat)
    print(
        f"waiting: pure placement of the {read} runs a pass reads: "
        f"{med:.1f} ms (best {best:.1f}); placed {placed}"
    )

    def slots(session: Session, held: Held) -> list[AgentSlot]:
        return fleet(agents, 64, 8, held.allocated, held.running)

    with session_scope(engine) as session:  # the first pass stores each run's reason
        dispatch_pending(session, now=NOW, agents=slots(session, load_held(session)))
    passes = [whole_pass(engine, slots) for _ in range(repeat)]
    times = [t for t, _ in passes]
    print(
        f"waiting: whole pass, {waiting} ACTIVE runs waiting, {agents * 8} running: "
        f"{statistics.median(times):.1f} ms (best {min(times):.1f}); placed {passes[0][1]}"
        + cpu_note()
    )
    if PROFILE:
        profiled(engine, slots)


def scene_placing(engine: Engine, agents: int, placed: int, repeat: int) -> None:
    empty(engine)
    spec = {"command": "etl", "cpus": 1}
    fill(engine, [_row(i, "ACTIVE", spec) for i in range(placed)])
    specs = [dict(spec) for _ in range(placed)]

    med, best, count = timed_placement(fleet(agents, 16, 0, {}), specs, repeat)
    print(
        f"placing: pure placement of {placed} runs: {med:.1f} ms (best {best:.1f}); placed {count}"
    )

    def slots(session: Session, held: Held) -> list[AgentSlot]:
        return fleet(agents, 16, 0, held.allocated, held.running)

    passes = [whole_pass(engine, slots) for _ in range(repeat)]
    times = [t for t, _ in passes]
    print(
        f"placing: whole pass placing {placed} runs (each dispatched, its event written): "
        f"{statistics.median(times):.1f} ms (best {min(times):.1f}); placed {passes[0][1]}"
        + cpu_note()
    )
    if PROFILE:
        profiled(engine, slots)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--placed", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", action="store_true", help="where one pass spends its time")
    parser.add_argument(
        "--task-specs",
        action="store_true",
        help="the running runs carry specs as tasks' runs do (sealed env, pools, locks)",
    )
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade_database(url)
        engine = make_engine(url)
        print(f"{args.agents} agents, {url.split(':')[0]}, pages of {DISPATCH_BATCH} runs")
        scene_waiting(engine, args.agents, args.waiting, args.repeat, args.task_specs)
        scene_placing(engine, args.agents, args.placed, args.repeat)
        engine.dispose()


if __name__ == "__main__":
    main()
