"""Throughput curve: sustained runs a minute of `true`, one-shot tasks due evenly, on a real
`almanac server`, SQLite or PostgreSQL, its built-in agent or four agent processes.

For each rate: a fresh database with rate x minutes one-shot tasks due evenly from a start
a little ahead (the timers are loaded at start), the server started, every run waited for;
then trigger -> RUNNING p50/p99/max over all runs and per slice of the duration (does the
delay grow while the tables grow?), the server's CPU (share of one core) and RSS, and the
load average of the (shared) machine before and after.

    .venv/bin/python bench/bench_throughput_curve.py [--rate 1000,4000,10000,20000]
        [--minutes 10] [--db sqlite|postgres] [--agents 1|4] [--slices 5] [--profile]

Goal (issue 21, 2 cores): 20,000 a minute for 10 minutes with p99 under 250 ms and no growth
of the delay. `--profile` runs the server under cProfile and prints where its time went.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from benchlib import (
    Sampler,
    drop_database,
    free_port,
    goal,
    load,
    login,
    machine,
    pct,
    print_profile,
    scratch_database,
    start_server,
    stop,
)
from sqlalchemy import bindparam, select, text, update

from app.bootstrap import upgrade_database
from app.clock import FrozenClock
from app.db.engine import make_engine, session_scope
from app.db.tables import Run, Task
from app.hub.fake_agent import agent_token
from app.scheduler.planner import plan_tasks

P99_GOAL_MS = 250.0
SEED_BATCH = 5000


def seed(url: str, count: int, first: datetime, spacing: float) -> None:
    """`count` one-shot tasks of `true`, the i-th due at first + i x spacing seconds."""
    engine = make_engine(url)
    now = datetime.now(UTC) - timedelta(days=1)  # planned ahead of any start chosen later
    for start in range(0, count, SEED_BATCH):
        with session_scope(engine) as session:
            tasks = [
                Task(
                    name=f"t-{i}",
                    command="true",
                    schedule={
                        "kind": "once",
                        "at": (first + timedelta(seconds=i * spacing))
                        .replace(tzinfo=None)
                        .isoformat(timespec="milliseconds"),
                    },
                )
                for i in range(start, min(count, start + SEED_BATCH))
            ]
            session.add_all(tasks)
            session.flush()
            plan_tasks(session, tasks, now=FrozenClock(now).now())
    engine.dispose()


def shift(url: str, first: datetime) -> None:
    """Move every IDLE occurrence so that the earliest falls due at `first` (seeding takes
    long on a busy machine; an occurrence past its misfire grace at start would be skipped)."""
    engine = make_engine(url)
    with engine.begin() as connection:
        rows = connection.execute(
            select(Run.id, Run.trigger_time).where(Run.status == "IDLE").order_by(Run.id)
        ).all()
        if rows:
            offset = first - _aware(rows[0][1])
            connection.execute(
                update(Run).where(Run.id == bindparam("rid")).values(trigger_time=bindparam("at")),
                [{"rid": rid, "at": _aware(at) + offset} for rid, at in rows],
            )
    engine.dispose()


def delays(url: str) -> list[tuple[datetime, float]]:
    """(trigger time, ms to RUNNING) of every run that reached RUNNING."""
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT run.trigger_time, run_event.at FROM run JOIN run_event "
                "ON run_event.run_id = run.id WHERE run_event.status = 'RUNNING'"
            )
        ).all()
    engine.dispose()
    out = []
    for trigger, at in rows:
        trigger, at = _aware(trigger), _aware(at)
        out.append((trigger, (at - trigger).total_seconds() * 1000))
    return out


def statuses(url: str) -> dict[str, int]:
    """How the runs ended up (SKIPPED: fired more than a minute late, taken as missed)."""
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT status, count(*) FROM run GROUP BY status")).all()
    engine.dispose()
    return {str(status): int(n) for status, n in rows}


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def agents(url: str, base: str, data: Path, count: int) -> list[subprocess.Popen[bytes]]:
    """`count` agent processes dialling the server, each with its own token and spool."""
    engine = make_engine(url)
    started = []
    for n in range(count):
        name = f"agent-{n}"
        token_file = data / f"{name}.token"
        token_file.write_text(agent_token(engine, name, datetime.now(UTC)))
        token_file.chmod(0o600)
        started.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.cli.main",
                    "agent",
                    "--server",
                    base,
                    "--token-file",
                    str(token_file),
                    "--name",
                    name,
                    "--data-dir",
                    str(data / name),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    engine.dispose()
    return started


def one_rate(rate: int, args: argparse.Namespace) -> bool:
    count = int(rate * args.minutes)
    spacing = 60.0 / rate
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        url = scratch_database() if args.db == "postgres" else f"sqlite:///{data / 'almanac.db'}"
        try:
            upgrade_database(url)
            began = time.monotonic()
            seed(url, count, datetime.now(UTC), spacing)
            # The server must be up and its timers loaded before the first is due.
            first = datetime.now(UTC) + timedelta(seconds=args.lead + count / 400)
            shift(url, first)
            print(
                f"\n{rate:,} runs/min for {args.minutes:g} min ({count:,} one-shot tasks, "
                f"{args.db}, {args.agents} agent(s)); seeded in {time.monotonic() - began:.0f} s"
            )
            return _measure(url, data, rate, count, first, spacing, args)
        finally:
            if args.db == "postgres":
                drop_database(url)


def _measure(
    url: str,
    data: Path,
    rate: int,
    count: int,
    first: datetime,
    spacing: float,
    args: argparse.Namespace,
) -> bool:
    port = free_port()
    profile = data / "server.prof" if args.profile else None
    server = start_server(
        data,
        port,
        database_url=url if args.db == "postgres" else None,
        local_agent=args.agents == 1,
        profile=profile,
        log=data / "server.log",
    )
    extra: list[subprocess.Popen[bytes]] = []
    base = f"http://127.0.0.1:{port}"
    try:
        login(base, timeout=300)
        if args.agents > 1:
            extra = agents(url, base, data, args.agents)
        _wait_agents(base, args.agents)
        _wait_timers(data / "server.log")
        ready = datetime.now(UTC) + timedelta(seconds=1)
        before = load()
        last_due = first + timedelta(seconds=count * spacing)
        wait_until = last_due + timedelta(seconds=args.grace)
        with Sampler(server.pid) as sampler:
            while datetime.now(UTC) < wait_until:
                time.sleep(2)
                if datetime.now(UTC) > last_due and len(delays(url)) >= count:
                    break
        found = delays(url)
        print(f"  runs by status at the end: {statuses(url)}")
    finally:
        for agent in extra:
            agent.terminate()
        stop(server)
        for agent in extra:
            agent.wait(timeout=30)
    late = [item for item in found if item[0] < ready]
    if late:
        print(
            f"  {len(late):,} runs fell due before the server and its agents were ready "
            "(start-up on a busy machine ate the lead): left out"
        )
    found = [item for item in found if item[0] >= ready]
    return _report(
        found, count - len(late), max(first, ready), last_due, sampler, before, args, profile
    )


def _wait_timers(log: Path) -> None:
    """The API answers before the leader has loaded its timers: wait for that too."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if "scheduler loaded" in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise SystemExit("the scheduler did not load its timers")


def _wait_agents(base: str, count: int) -> None:
    token = login(base)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = httpx.get(
            base + "/api/v1/agents", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ).json()
        if sum(1 for a in listed if a["connected"]) >= count:
            return
        time.sleep(0.2)
    raise SystemExit("the agents did not connect")


def _report(
    found: list[tuple[datetime, float]],
    count: int,
    first: datetime,
    last_due: datetime,
    sampler: Sampler,
    before: str,
    args: argparse.Namespace,
    profile: Path | None,
) -> bool:
    values = [ms for _, ms in found]
    print(f"  machine {before} before, {load()} after")
    print(f"  server: {sampler.summary()}")
    if not values:
        print("  no run reached RUNNING")
        return False
    print(
        f"  {len(values):,} of {count:,} RUNNING; trigger -> RUNNING p50 {pct(values, 50):.0f} ms,"
        f" p99 {pct(values, 99):.0f} ms, max {max(values):.0f} ms"
    )
    width = (last_due - first) / args.slices
    slices = []
    for n in range(args.slices):
        lo, hi = first + width * n, first + width * (n + 1)
        part = [ms for at, ms in found if lo <= at < hi]
        if part:
            slices.append(pct(part, 99))
            print(
                f"    slice {n + 1}/{args.slices}: "
                f"p50 {pct(part, 50):.0f} ms, p99 {slices[-1]:.0f} ms"
            )
    met = len(values) == count
    if not met:
        print(f"  NOT MET: {count - len(values):,} runs did not reach RUNNING in time")
    met &= goal("p99 trigger -> RUNNING", pct(values, 99), P99_GOAL_MS, "ms", "see the profile")
    if len(slices) >= 2:
        growth = slices[-1] - slices[0]
        met &= goal("growth of p99, last slice - first", growth, 50.0, "ms", "the delay grows")
    if profile is not None:
        print_profile(profile)
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", default="1000,4000,10000,20000", help="runs a minute, a list")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--agents", type=int, choices=(1, 4), default=1)
    parser.add_argument("--slices", type=int, default=5, help="parts of the duration compared")
    parser.add_argument("--grace", type=float, default=60.0, help="seconds after the last due")
    parser.add_argument(
        "--lead", type=float, default=40.0, help="seconds from the seeding's end to the first due"
    )
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}; {load()}")
    results = {rate: one_rate(rate, args) for rate in (int(r) for r in args.rate.split(","))}
    broke = [rate for rate, met in results.items() if not met]
    print(
        "\nsustained with every goal met: "
        + (", ".join(f"{r:,}/min" for r, m in results.items() if m) or "none")
        + (f"; breaks at {min(broke):,}/min" if broke else "")
    )


if __name__ == "__main__":
    main()
