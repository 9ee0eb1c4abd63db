"""What definition history costs: a burst of task edits and a large import, each timed with
the history recorder on and off (the same work on a fresh database each time).

- edits: N (default 1,000) `update_task` calls, each its own transaction, over 100 tasks
  (each changes the command: a new version when history is on), in blocks with history off
  and on in turn, so load drifting on a shared machine weighs on both; medians of blocks;
- import: the import service with M (default 5,000) new tasks in M/50 groups, one
  transaction, on a fresh database each time, off and on in turn; best of the rounds.

    PYTHONPATH=. .venv/bin/python bench/bench_definition_versions.py \
        [--edits 1000] [--blocks 10] [--tasks 5000] [--rounds 2] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchlib import drop_database, scratch_database
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from app.bootstrap import upgrade_database
from app.db import versions
from app.db.engine import make_engine
from app.db.tables import User
from app.db.version_tables import DefinitionVersion
from app.models.schemas import TaskCreate, TaskUpdate
from app.services import tasks, transfer
from app.services.actor import Actor

ADMIN = Actor(User(id=1, username="bench", role="superadmin", instances=["*"]), "127.0.0.1")
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _edit_blocks(engine: Engine, count: int, blocks: int) -> dict[bool, list[float]]:
    """`count` edits in `blocks` blocks, history on and off in turn (so a machine's load
    drifting during the run weighs on both alike): ms per edit of each block, by mode."""
    tids = [
        tasks.create_task(
            engine, actor=ADMIN, now=NOW, body=TaskCreate(name=f"edit-{i}", command="true")
        ).tid
        for i in range(100)
    ]
    per_block = max(1, count // blocks)
    found: dict[bool, list[float]] = {True: [], False: []}
    n = 0
    for block in range(blocks):
        history = block % 2 == 1
        (versions.install if history else versions.uninstall)()
        start = time.perf_counter()
        for _ in range(per_block):
            body = TaskUpdate.model_validate({"command": f"echo {n}"})
            tasks.update_task(engine, actor=ADMIN, now=NOW, tid=tids[n % len(tids)], body=body)
            n += 1
        found[history].append(1000 * (time.perf_counter() - start) / per_block)
    versions.install()
    return found


def _import(engine: Engine, count: int) -> float:
    document = {
        "format": "almanac/v1",
        "groups": [{"name": f"g{g}"} for g in range(count // 50)],
        "tasks": [
            {
                "name": f"imported-{i}",
                "command": f"echo {i}",
                "group": f"g{i // 50}",
                "schedule": {"kind": "cron", "cron": "0 6 * * *", "timezone": "UTC"},
            }
            for i in range(count)
        ],
    }
    raw = json.dumps(document).encode()
    start = time.perf_counter()
    transfer.import_document(engine, actor=ADMIN, now=NOW, raw=raw, mode="merge", dry_run=False)
    return time.perf_counter() - start


def _fresh(postgres: bool, folder: Path, name: str) -> tuple[str, Callable[[], None]]:
    if postgres:
        url = scratch_database()
        return url, lambda: drop_database(url)
    return f"sqlite:///{folder / name}.db", lambda: None


def _database(postgres: bool, folder: Path, tag: str) -> tuple[Engine, Callable[[], None]]:
    url, drop = _fresh(postgres, folder, tag)
    upgrade_database(url)
    engine = make_engine(url)

    def close() -> None:
        engine.dispose()
        drop()

    return engine, close


def _stored(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(DefinitionVersion)).one())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    print(f"definition history cost on {'PostgreSQL' if args.postgres else 'SQLite'}")
    with tempfile.TemporaryDirectory() as folder:
        engine, close = _database(args.postgres, Path(folder), "edits")
        try:
            blocks = _edit_blocks(engine, args.edits, args.blocks)
            stored = _stored(engine)
        finally:
            close()
        off, on = statistics.median(blocks[False]), statistics.median(blocks[True])
        print(
            f"  {args.edits} edits in {args.blocks} blocks, history off/on in turn:"
            f" median {off:.2f} ms/edit without, {on:.2f} ms/edit with"
            f" (+{on - off:.2f} ms; {stored} versions stored)"
        )
        times: dict[bool, list[float]] = {True: [], False: []}
        for run in range(2 * args.rounds):
            history = run % 2 == 1
            (versions.install if history else versions.uninstall)()
            engine, close = _database(args.postgres, Path(folder), f"import{run}")
            if not history:
                versions.uninstall()  # make_engine installs it
            try:
                times[history].append(_import(engine, args.tasks))
            finally:
                close()
        versions.install()
        off, on = min(times[False]), min(times[True])
        print(
            f"  import of {args.tasks} tasks ({args.tasks // 50} groups), best of"
            f" {args.rounds}: {off:.2f} s without history, {on:.2f} s with"
            f" (+{on - off:.2f} s, {100 * (on - off) / off:+.0f}%)"
        )


if __name__ == "__main__":
    main()
