"""Definitions as code at scale: plan and apply of N tasks in F files (default 5,000 tasks in
100 YAML files: one group per file, its tasks chained by edges), on SQLite, through the same
service the REST API calls (app/services/definitions.py).

Figures: reading the files (parse, locate, merge), the first plan (everything created), the
first apply (one transaction), applying again (the no-op), and planning a one-schedule change.

    .venv/bin/python bench/bench_definitions_apply.py                      # 5,000 in 100
    .venv/bin/python bench/bench_definitions_apply.py --tasks 500 --files 10 --format json
    .venv/bin/python bench/bench_definitions_apply.py --profile   # cProfile of the first apply
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.bootstrap import upgrade_database
from app.db.engine import make_engine, session_scope
from app.db.tables import User
from app.definitions.bundle import read_bundle
from app.definitions.files import SourceFile
from app.definitions.yaml_text import yaml_dumps
from app.services.definitions import acting_actor, plan_or_apply

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def make_files(tasks: int, files: int, fmt: str, hour: int = 2) -> list[SourceFile]:
    per_file = max(1, tasks // files)
    made = []
    for f in range(files):
        group = f"group-{f:03d}"
        names = [f"task-{f:03d}-{t:03d}" for t in range(per_file)]
        document: dict[str, Any] = {
            "format": "almanac/v1",
            "groups": [
                {"name": group, "schedule": {"kind": "cron", "cron": f"{f % 60} {hour} * * *"}}
            ],
            "tasks": [
                {"name": n, "command": f"echo {n}", "group": group, "retry_attempts": 1}
                for n in names
            ],
            "dependencies": [
                {"group": group, "upstream": a, "downstream": b}
                for a, b in zip(names, names[1:], strict=False)
            ],
        }
        text = yaml_dumps(document) if fmt == "yaml" else json.dumps(document, indent=2)
        made.append(SourceFile(f"{group}.{fmt}", text))
    return made


def timed(label: str, work: Any) -> Any:
    """Wall time, and this process's CPU time (steadier on a shared machine)."""
    began, cpu = time.perf_counter(), time.process_time()
    result = work()
    wall, used = time.perf_counter() - began, time.process_time() - cpu
    print(f"{label:<34} {wall:8.2f} s wall {used:8.2f} s CPU")
    return result


def profiled(work: Any) -> Any:
    """`work` under cProfile; its top functions (cumulative) printed after."""
    profile = cProfile.Profile()
    result = profile.runcall(work)
    pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml")
    parser.add_argument("--profile", action="store_true", help="cProfile the first apply")
    args = parser.parse_args()
    files = make_files(args.tasks, args.files, args.format)
    size = sum(len(f.content) for f in files)
    print(f"{args.tasks} tasks in {args.files} {args.format} files ({size / 1e6:.1f} MB), SQLite")
    with tempfile.TemporaryDirectory() as data:
        url = f"sqlite:///{Path(data) / 'bench.db'}"
        upgrade_database(url)
        engine = make_engine(url)
        with session_scope(engine) as session:
            user = User(username="bench", password_hash="-", role="superadmin", created_at=NOW)
            session.add(user)
            session.flush()
            session.expunge(user)
        actor = acting_actor(user, origin="apply", address=None)

        def run(files: list[SourceFile], apply: bool) -> Any:
            return plan_or_apply(
                engine,
                actor=actor,
                now=NOW,
                files=files,
                source="file:bench",
                commit=None,
                prune=True,
                apply=apply,
            )

        timed("read files (parse, locate, merge)", lambda: read_bundle(files))
        first = timed("plan (all new)", lambda: run(files, False))
        apply = (lambda: profiled(lambda: run(files, True))) if args.profile else None
        timed("apply (all new, one transaction)", apply or (lambda: run(files, True)))
        again = timed("apply again (no-op)", lambda: run(files, True))
        changed = [*files[:-1], make_files(args.tasks, args.files, args.format, hour=3)[-1]]
        one = timed("plan one schedule change", lambda: run(changed, False))
        print(
            f"first plan: {first.summary}; again: {again.summary}; "
            f"change: {one.summary['update']} update"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
