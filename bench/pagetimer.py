"""What the page benchmarks share: a real server in this process over a given database (no
scheduler, no agent) at a clock moved back to when the data was seeded, a signed-in browser
session, and a timer that, when a page misses its goal, prints the SQL that took the time
with the database's plan of the slowest statement."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from benchlib import PASSWORD, free_port
from sqlalchemy import Engine, event, text

from app.server import create_app
from app.settings import Settings


class ShiftedClock:
    """The wall clock moved back to `anchor` at start: the seeded history stays recent."""

    def __init__(self, anchor: datetime) -> None:
        self.shift = datetime.now(UTC) - anchor

    def now(self) -> datetime:
        return datetime.now(UTC) - self.shift


@dataclass
class StatementLog:
    """SQL statements run while recording, with their time in milliseconds."""

    recording: bool = False
    seen: list[tuple[float, str, Any]] = field(default_factory=list)

    def attach(self, engine: Engine) -> None:
        starts: dict[int, float] = {}

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
            starts[id(cursor)] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
            began = starts.pop(id(cursor), None)
            if self.recording and began is not None and not many:
                self.seen.append(((time.perf_counter() - began) * 1000, sql, params))


@contextmanager
def serve(url: str, data_dir: Path, engine: Engine, anchor: datetime) -> Iterator[str]:
    """A server on `engine` for the duration; yields its base URL."""
    port = free_port()
    settings = Settings(
        host="127.0.0.1", port=port, data_dir=data_dir, database_url=url, local_agent=False
    )
    app = create_app(settings, engine=engine, clock=ShiftedClock(anchor), start_scheduler=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def sign_in(base: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=120)
    token = re.search(r'name="login_token" value="([^"]+)"', http.get("/login").text)
    assert token is not None
    http.post(
        "/login", data={"username": "admin", "password": PASSWORD, "login_token": token.group(1)}
    )
    return http


@dataclass
class PageTimer:
    http: httpx.Client
    engine: Engine
    statements: StatementLog
    repeat: int = 10
    misses: list[str] = field(default_factory=list)

    def page(self, label: str, path: str, goal_ms: float, *, fragment: bool = False) -> None:
        """Time GET `path`; past `goal_ms` (median), say so with where the time went."""
        headers = {"HX-Request": "true"} if fragment else {}
        first = self.http.get(path, headers=headers)  # warm
        if first.status_code == 404:
            print(f"{label:<44} skipped: {path} answers 404 (not built on this branch)")
            return
        assert first.status_code == 200, f"{path}: {first.status_code} {first.text[:300]}"
        samples, cpu = [], []
        for _ in range(self.repeat):
            began, began_cpu = time.perf_counter(), time.process_time()
            response = self.http.get(path, headers=headers)
            samples.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
            assert response.status_code == 200, response.text[:300]
        again = lambda: self.http.get(path, headers=headers)  # noqa: E731
        self.report(label, samples, goal_ms, again, cpu)

    def call(self, label: str, call: Any, goal_ms: float) -> None:
        """Time a direct call (a service read, not over HTTP)."""
        call()
        samples, cpu = [], []
        for _ in range(self.repeat):
            began, began_cpu = time.perf_counter(), time.process_time()
            call()
            samples.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
        self.report(label, samples, goal_ms, call, cpu)

    def report(
        self, label: str, samples: list[float], goal_ms: float, again: Any, cpu: list[float]
    ) -> None:
        """Wall time (the goal's measure) and this process's CPU time per request: the CPU
        time of server, client and SQLite together, which a loaded machine does not inflate
        (PostgreSQL's own work is not in it)."""
        samples.sort()
        median = statistics.median(samples)
        verdict = "ok" if median <= goal_ms else f"MISSED (goal {goal_ms:.0f} ms)"
        print(
            f"{label:<44} median {median:8.1f} ms  max {samples[-1]:8.1f} ms  "
            f"cpu {statistics.median(cpu):7.1f} ms  goal {goal_ms:4.0f} ms  {verdict}",
            flush=True,
        )
        if median > goal_ms:
            self.misses.append(label)
            self.explain(again)

    def explain(self, again: Any) -> None:
        """Run once more recording SQL; print the slowest statements and the top one's plan."""
        self.statements.seen.clear()
        self.statements.recording = True
        began = time.perf_counter()
        try:
            again()
        finally:
            self.statements.recording = False
        total = (time.perf_counter() - began) * 1000
        # SQLite steps a query while its rows are fetched, after the execute hook: time each
        # statement again here, rows and all.
        timed = sorted(
            (
                (rerun(self.engine, sql, params), sql, params)
                for _, sql, params in list(self.statements.seen)
            ),
            key=lambda s: -s[0],
        )
        sql_ms = sum(s[0] for s in timed)
        print(f"    {len(timed)} statements, {sql_ms:.0f} ms of {total:.0f} ms in SQL; slowest:")
        for ms, sql, _params in timed[:3]:
            print(f"    {ms:8.1f} ms  {' '.join(sql.split())[:220]}")
        if timed:
            for line in plan(self.engine, timed[0][1], timed[0][2]):
                print(f"      plan: {line}")


def rerun(engine: Engine, sql: str, params: Any) -> float:
    """Milliseconds to run `sql` and fetch all its rows (read-only statements only)."""
    if not sql.lstrip().upper().startswith("SELECT"):
        return 0.0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        began = time.perf_counter()
        cursor.execute(sql, params)
        cursor.fetchall()
        took = (time.perf_counter() - began) * 1000
        raw.rollback()
    finally:
        raw.close()
    return took


def plan(engine: Engine, sql: str, params: Any) -> list[str]:
    """EXPLAIN QUERY PLAN (SQLite) or EXPLAIN ANALYZE (PostgreSQL) of one statement."""
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN ANALYZE " if postgres else "EXPLAIN QUERY PLAN "
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(prefix + sql, params)
        rows = cursor.fetchall()
        raw.rollback()
    finally:
        raw.close()
    if postgres:
        return [str(r[0]) for r in rows][:14]
    return [str(r[-1]) for r in rows]


def sql_text(engine: Engine, sql: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql)).all()
