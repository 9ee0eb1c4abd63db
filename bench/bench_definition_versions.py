"""What definition history costs: a burst of task edits and a large import, each timed with
the history recorder on and off (the same work on a fresh database each time).

- edits: N (default 1,000) `update_task` calls in a row, each its own transaction, over 100
  tasks (each edit changes the command: each is a new version when history is on);
- import: one `POST /import`-equivalent of M (default 5,000) new tasks in one transaction.

    .venv/bin/python bench/bench_definition_versions.py [--edits 1000] [--tasks 5000] [--postgres]
"""

from __future__ import annotations

import argparse
import json
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


def _edits(engine: Engine, count: int) -> float:
    tids = [
        tasks.create_task(
            engine, actor=ADMIN, now=NOW, body=TaskCreate(name=f"edit-{i}", command="true")
        ).tid
        for i in range(100)
    ]
    start = time.perf_counter()
    for n in range(count):
        body = TaskUpdate.model_validate({"command": f"echo {n}"})
        tasks.update_task(engine, actor=ADMIN, now=NOW, tid=tids[n % len(tids)], body=body)
    return time.perf_counter() - start


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


def _measure(work: Callable[[Engine], float], history: bool, postgres: bool, tag: str) -> float:
    (versions.install if history else versions.uninstall)()
    with tempfile.TemporaryDirectory() as folder:
        url, drop = _fresh(postgres, Path(folder), tag)
        try:
            upgrade_database(url)
            engine = make_engine(url)
            if not history:
                versions.uninstall()  # make_engine installs it
            seconds = work(engine)
            with Session(engine) as session:
                rows = session.exec(select(func.count()).select_from(DefinitionVersion)).one()
            print(
                f"  {tag:<8} history {'on ' if history else 'off'}: {seconds:7.2f} s"
                f"  ({rows} versions stored)"
            )
            engine.dispose()
        finally:
            drop()
    versions.install()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"definition history cost on {backend}")
    off = _measure(lambda e: _edits(e, args.edits), False, args.postgres, "edits")
    on = _measure(lambda e: _edits(e, args.edits), True, args.postgres, "edits")
    print(
        f"  {args.edits} edits: {1000 * off / args.edits:.2f} ms/edit without history, "
        f"{1000 * on / args.edits:.2f} ms/edit with (+{1000 * (on - off) / args.edits:.2f} ms)"
    )
    off = _measure(lambda e: _import(e, args.tasks), False, args.postgres, "import")
    on = _measure(lambda e: _import(e, args.tasks), True, args.postgres, "import")
    print(
        f"  import of {args.tasks} tasks: {off:.2f} s without history, {on:.2f} s with "
        f"(+{on - off:.2f} s, {100 * (on - off) / off:.0f}%)"
    )


if __name__ == "__main__":
    main()
