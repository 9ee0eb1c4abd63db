"""A run history for the scale benchmarks, built once and kept: N finished runs over D days
(500 tasks, 10 of them groups of 10 whose runs come in group runs), each with three events
and a log chunk (failed runs a stderr chunk too), and one planned (IDLE) run per standalone
task. Built with bulk inserts (executemany on SQLite, COPY on PostgreSQL) with the secondary
indexes dropped and rebuilt afterwards, and kept under /tmp (a SQLite file, or a PostgreSQL
database) named after its size, this seeder's version and the schema's newest migration, with
a table that records that it was finished: a cache is reused only when it was.

    .venv/bin/python bench/history_seed.py --runs 1000000 [--days 30] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchlib import ADMIN, PASSWORD
from sqlalchemy import create_engine, text

from app.bootstrap import upgrade_database
from app.security import hash_password

# The task table's columns a seeder fills (the definitions bench seeds tasks the same way).
TASK_COLUMNS = [
    "id",
    "name",
    "description",
    "command",
    "labels",
    "group_id",
    "schedule",
    "active",
    "gpus",
    "mounts",
    "env",
    "retry_attempts",
    "retry_delay_seconds",
    "retry_exponential",
    "concurrency",
    "misfire",
    "misfire_grace_seconds",
    "misfire_max_replays",
    "instance",
    "created_at",
    "updated_at",
]

SEED_VERSION = "1"  # bump when what is seeded changes
CACHE = Path("/tmp/almanac-bench-cache")
TASKS = 500
GROUPS = 10  # tasks 1..100 are in groups of 10; a block of 10 runs is one group run
BLOCK = 10
UNITS = TASKS // BLOCK  # a block of runs goes to one unit: a group, or 10 standalone tasks
STATUSES = ["SUCCESS"] * 90 + ["FAILED"] * 7 + ["TERMINATED"] * 3
CHUNK = 100_000
FMT = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class History:
    url: str
    runs: int
    anchor: datetime  # "now" when it was seeded: the newest runs finished just before
    newest_run: int  # the id of the newest finished run


def sqlite_path(runs: int, days: int) -> Path:
    return CACHE / f"history-{runs}-{days}d-v{SEED_VERSION}-r{schema_head()}.db"


def pg_name(runs: int, days: int) -> str:
    return f"almanac_bench_history_{runs}_{days}d_v{SEED_VERSION}_r{schema_head()}"


def schema_head() -> str:
    """This checkout's newest migration: a cache is kept per schema, so checkouts at other
    revisions (sharing /tmp) never migrate one another's copies."""
    from alembic.script import ScriptDirectory

    from app.bootstrap import alembic_config

    return str(ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head())


def history(runs: int, days: int = 30, *, postgres: bool = False) -> History:
    """The cached history of `runs` runs over `days` days, built first when missing."""
    url = _pg_url(pg_name(runs, days)) if postgres else f"sqlite:///{sqlite_path(runs, days)}"
    found = _finished(url)
    if found is None:
        print(f"seeding {runs:,} runs over {days} days into {url} ...", flush=True)
        began = time.perf_counter()
        _build(url, runs, days, postgres=postgres)
        print(f"seeded in {time.perf_counter() - began:.0f} s", flush=True)
        found = _finished(url)
        assert found is not None
    else:
        print(f"reusing the seeded history in {url}", flush=True)
    anchor, newest = found
    return History(url=url, runs=runs, anchor=anchor, newest_run=newest)


def copy_sqlite(source: History, target: Path) -> History:
    """A scratch copy of a SQLite history (for benchmarks that delete from it)."""
    path = Path(source.url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return History(f"sqlite:///{target}", source.runs, source.anchor, source.newest_run)


def _pg_url(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def _finished(url: str) -> tuple[datetime, int] | None:
    """(anchor, newest run id) when a finished cache is at `url`."""
    if url.startswith("sqlite"):
        if not Path(url.removeprefix("sqlite:///")).exists():
            return None
    else:
        admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            name = url.rsplit("/", 1)[1]
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
        admin.dispose()
        if not exists:
            return None
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT key, value FROM bench_seed")).all()
            rows = {str(k): str(v) for k, v in found}
    except Exception:  # no table: an unfinished build
        return None
    finally:
        engine.dispose()
    if rows.get("version") != SEED_VERSION or "anchor" not in rows:
        return None
    return datetime.fromisoformat(rows["anchor"]), int(rows["newest_run"])


def _build(url: str, runs: int, days: int, *, postgres: bool) -> None:
    if postgres:
        name = url.rsplit("/", 1)[1]
        admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    else:
        CACHE.mkdir(exist_ok=True)
        path = Path(url.removeprefix("sqlite:///"))
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
    upgrade_database(url)
    anchor = datetime.now(UTC).replace(microsecond=0)
    writer: Writer = PgWriter(url) if postgres else SqliteWriter(url)
    try:
        _definitions(writer, anchor)
        indexes = writer.drop_indexes(["run", "run_event", "log_chunk", "group_run"])
        _history(writer, runs, days, anchor)
        began = time.perf_counter()
        writer.restore_indexes(indexes)
        print(f"  indexes rebuilt in {time.perf_counter() - began:.0f} s", flush=True)
        writer.finish()
        writer.execute("CREATE TABLE bench_seed (key VARCHAR(40) PRIMARY KEY, value TEXT)")
        writer.rows(
            "bench_seed",
            ["key", "value"],
            [("version", SEED_VERSION), ("anchor", anchor.isoformat()), ("newest_run", runs)],
        )
        writer.commit()
    finally:
        writer.close()


def _stamp(at: datetime, postgres: bool) -> str:
    return at.strftime(FMT) + ("+00" if postgres else "")


def _definitions(writer: Writer, anchor: datetime) -> None:
    at = _stamp(anchor, writer.postgres)
    writer.rows(
        "app_user",
        [
            "username",
            "password_hash",
            "role",
            "instances",
            "disabled",
            "timezone",
            "must_change_password",
            "failed_logins",
            "created_at",
        ],
        [("admin", hash_password(PASSWORD), "superadmin", '["*"]', False, "UTC", False, 0, at)],
    )
    writer.rows(
        "task_group",
        ["id", "name", "description", "active", "instance", "created_at", "updated_at"],
        [(g + 1, f"group-{g:02d}", "", True, "default", at, at) for g in range(GROUPS)],
    )
    writer.rows(
        "task",
        TASK_COLUMNS,
        [
            (
                t + 1,
                f"task-{t:03d}",
                "",
                "true",
                "{}",
                _group_of(t + 1),
                None,
                True,
                "[]",
                "[]",
                "{}",
                0,
                0.0,
                False,
                "allow",
                "run_once",
                60.0,
                1,
                "default",
                at,
                at,
            )
            for t in range(TASKS)
        ],
    )
    writer.commit()


def _group_of(task_id: int) -> int | None:
    return (task_id - 1) // BLOCK + 1 if task_id <= GROUPS * BLOCK else None


RUN_COLUMNS = [
    "id",
    "task_id",
    "group_run_id",
    "status",
    "trigger_kind",
    "trigger_time",
    "dispatched_at",
    "started_at",
    "finished_at",
    "agent",
    "exit_code",
    "attempt",
    "agent_seq",
    "spec",
    "instance",
    "created_at",
    "updated_at",
]
EVENT_COLUMNS = ["run_id", "attempt", "status", "at", "detail"]
LOG_COLUMNS = ["run_id", "attempt", "stream", "offset", "data", "line_start", "line_count"]
GROUP_RUN_COLUMNS = [
    "id",
    "group_id",
    "status",
    "trigger_kind",
    "trigger_time",
    "created_at",
    "finished_at",
    "instance",
]


def _history(writer: Writer, runs: int, days: int, anchor: datetime) -> None:
    pg = writer.postgres
    specs = [json.dumps({"task_name": f"task-{t:03d}", "command": "true"}) for t in range(TASKS)]
    span = timedelta(days=days).total_seconds()
    start = anchor - timedelta(days=days)
    began = time.perf_counter()
    for low in range(0, runs, CHUNK):
        run_rows: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        logs: list[tuple[Any, ...]] = []
        group_runs: list[tuple[Any, ...]] = []
        for i in range(low, min(runs, low + CHUNK)):
            run_id = i + 1
            block, slot = divmod(i, BLOCK)
            unit = block % UNITS
            task = unit * BLOCK + slot  # 0-based
            at = start + timedelta(seconds=span * i / runs)
            trig, began_at = _stamp(at, pg), _stamp(at + timedelta(seconds=1), pg)
            done = _stamp(at + timedelta(seconds=3), pg)
            status = STATUSES[(i * 7919) % len(STATUSES)]
            group_run = None
            if unit < GROUPS:
                group_run = block + 1
                if slot == 0:
                    group_runs.append(
                        (group_run, unit + 1, "SUCCESS", "schedule", trig, trig, done, "default")
                    )
            exit_code = {"SUCCESS": 0, "FAILED": 1}.get(status)
            run_rows.append(
                (
                    run_id,
                    task + 1,
                    group_run,
                    status,
                    "schedule",
                    trig,
                    trig,
                    began_at,
                    done,
                    "agent-1",
                    exit_code,
                    1,
                    0,
                    specs[task],
                    "default",
                    trig,
                    done,
                )
            )
            events.append((run_id, 1, "TRIGGER", trig, ""))
            events.append((run_id, 1, "RUNNING", began_at, "started on agent-1"))
            events.append((run_id, 1, status, done, f"exit code {exit_code}"))
            out = f"run {run_id} step 1 of 2: ok\nrun {run_id} done\n".encode()
            logs.append((run_id, 1, "stdout", 0, out, 0, 2))
            if status == "FAILED":
                logs.append((run_id, 1, "stderr", 0, b"error: the step failed\n", 0, 1))
        writer.rows("group_run", GROUP_RUN_COLUMNS, group_runs)
        writer.rows("run", RUN_COLUMNS, run_rows)
        writer.rows("run_event", EVENT_COLUMNS, events)
        writer.rows("log_chunk", LOG_COLUMNS, logs)
        writer.commit()
        done_n = min(runs, low + CHUNK)
        rate = done_n / (time.perf_counter() - began)
        print(f"  {done_n:>11,} runs  ({rate:,.0f} runs/s)", flush=True)
    # The next planned run of each standalone task, due over the coming hour.
    idle = []
    for t in range(GROUPS * BLOCK, TASKS):
        due = _stamp(anchor + timedelta(seconds=7 * (t + 1)), pg)
        idle.append(
            (
                runs + t + 1,
                t + 1,
                None,
                "IDLE",
                "schedule",
                due,
                None,
                None,
                None,
                None,
                None,
                1,
                0,
                specs[t],
                "default",
                _stamp(anchor, pg),
                _stamp(anchor, pg),
            )
        )
    writer.rows("run", RUN_COLUMNS, idle)
    writer.commit()


class Writer:
    postgres = False

    def rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def execute(self, sql: str) -> None:
        raise NotImplementedError

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """After the bulk load: statistics (and sequences on PostgreSQL)."""

    def drop_indexes(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        raise NotImplementedError

    def restore_indexes(self, indexes: list[tuple[str, str]]) -> None:
        for _name, sql in indexes:
            self.execute(sql)
        self.commit()


class SqliteWriter(Writer):
    def __init__(self, url: str) -> None:
        self.connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        self.connection.execute("PRAGMA journal_mode=OFF")
        self.connection.execute("PRAGMA synchronous=OFF")
        self.connection.execute("PRAGMA cache_size=-500000")

    def rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            marks = ", ".join("?" * len(columns))
            names = ", ".join(f'"{c}"' for c in columns)
            self.connection.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)

    def execute(self, sql: str) -> None:
        self.connection.execute(sql)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self.connection.execute(sql).fetchall())

    def commit(self) -> None:
        self.connection.commit()

    def close(self) -> None:
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.close()

    def finish(self) -> None:
        """No ANALYZE: the server never runs it, so its planner works without statistics."""

    def drop_indexes(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        names = ", ".join(f"'{t}'" for t in tables)
        found = self.query(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({names})"
        )
        for name, _sql in found:
            self.execute(f'DROP INDEX "{name}"')
        self.commit()
        return [(str(n), str(s)) for n, s in found]


class PgWriter(Writer):
    postgres = True

    def __init__(self, url: str) -> None:
        import psycopg

        self.connection = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))

    def rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in columns)
        with (
            self.connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def execute(self, sql: str) -> None:
        self.connection.execute(sql)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self.connection.execute(sql).fetchall())

    def commit(self) -> None:
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()

    def finish(self) -> None:
        for table in ("run", "run_event", "log_chunk", "group_run", "task", "task_group"):
            self.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 1) FROM {table}))"
            )
        self.commit()
        self.connection.autocommit = True
        self.execute("VACUUM ANALYZE")
        self.connection.autocommit = False

    def drop_indexes(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        names = ", ".join(f"'{t}'" for t in tables)
        found = self.query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            f" AND tablename IN ({names}) AND indexname NOT IN"
            " (SELECT conindid::regclass::text FROM pg_constraint WHERE conindid <> 0)"
        )
        for name, _sql in found:
            self.execute(f'DROP INDEX "{name}"')
        self.commit()
        return [(str(n), str(s)) for n, s in found]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    found = history(args.runs, args.days, postgres=args.postgres)
    print(found)


if __name__ == "__main__":
    main()
