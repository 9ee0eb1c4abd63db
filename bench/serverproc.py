"""What the benchmarks that run a real `almanac server` share: the server as a process (its
timers' load time read from its log), and "pulse" tasks due every second whose trigger
delays show whether other work (a calendar edit, retention) holds up due runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from benchlib import PASSWORD, free_port, pct
from sqlalchemy import Engine, text

PULSE_SCHEDULE = {"kind": "cron", "cron": "* * * * * ?", "timezone": "UTC"}


@contextmanager
def running_server(
    url: str, data: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[str, psutil.Process, float]]:
    """`almanac server` (built-in agent) on `url`; yields its base URL, its process and the
    seconds from launch until its scheduler had loaded its timers."""
    port = free_port()
    launched = time.perf_counter()
    checkout = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "server", "--port", str(port)],
        env=dict(
            os.environ,
            ALMANAC_ADMIN_PASSWORD=PASSWORD,
            ALMANAC_DATA_DIR=str(data),
            ALMANAC_DATABASE_URL=url,
            PYTHONPATH=str(checkout),  # this checkout's `app`, not an installed copy
            **(env or {}),
        ),
        cwd=checkout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    loaded = None
    assert process.stderr is not None
    tail: list[str] = []
    for line in process.stderr:
        tail.append(line)
        if "scheduler loaded" in line:
            loaded = time.perf_counter() - launched
            print("  server: " + line.strip().split("almanac.scheduler", 1)[-1].strip(" :"))
            break
    if loaded is None:
        raise SystemExit("the server ended before loading its timers:\n" + "".join(tail[-20:]))
    logged: deque[str] = deque(maxlen=5000)
    threading.Thread(target=_drain, args=(process.stderr, logged), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}", psutil.Process(process.pid), loaded
    except BaseException:
        lines = list(logged)
        errors = [
            line
            for n, line in enumerate(lines)
            if "ERROR" in line or (line[:1].isalpha() and n and lines[n - 1].startswith("  "))
        ]
        print("the server's errors:\n" + "".join(errors[-20:]), flush=True)
        print("the server's last log lines:\n" + "".join(lines[-40:]), flush=True)
        raise
    finally:
        process.terminate()
        process.wait(timeout=60)


def _drain(stream: Any, logged: deque[str]) -> None:
    for line in stream:
        logged.append(line)


def add_pulses(engine: Engine, count: int) -> None:
    """`count` tasks named pulse-N due every second (unless there already are)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        have = connection.execute(text("SELECT count(*) FROM task WHERE name LIKE 'pulse-%'"))
        for i in range(int(have.one()[0]), count):
            connection.execute(
                text(
                    "INSERT INTO task (name, description, command, labels, schedule, active, gpus,"
                    " mounts, env, retry_attempts, retry_delay_seconds, retry_exponential,"
                    " concurrency, misfire, misfire_grace_seconds, misfire_max_replays,"
                    " instance, created_at, updated_at) VALUES (:name, '', 'true', '{}',"
                    " :schedule, true, '[]', '[]', '{}', 0, 0, false, 'allow', 'run_once', 60,"
                    " 1, 'default', :now, :now)"
                ),
                {"name": f"pulse-{i}", "schedule": json.dumps(PULSE_SCHEDULE), "now": now},
            )


def pulse_delays(engine: Engine, start: datetime, end: datetime) -> dict[str, list[float]]:
    """Milliseconds from trigger to ACTIVE (fired) and to RUNNING of the pulse runs due in
    [start, end)."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT r.trigger_time, e.status, e.at FROM run r JOIN run_event e"
                " ON e.run_id = r.id WHERE r.task_id IN"
                " (SELECT id FROM task WHERE name LIKE 'pulse-%')"
                " AND e.status IN ('ACTIVE', 'RUNNING') AND r.trigger_time >= :start"
                " AND r.trigger_time < :end"
            ),
            {"start": _bind(engine, start), "end": _bind(engine, end)},
        ).all()
    found: dict[str, list[float]] = {"ACTIVE": [], "RUNNING": []}
    for trigger, status, at in rows:
        found[str(status)].append((_aware(at) - _aware(trigger)).total_seconds() * 1000)
    return found


def describe(label: str, delays: dict[str, list[float]]) -> str:
    parts = []
    for status, values in delays.items():
        if values:
            parts.append(
                f"trigger -> {status} p50 {pct(values, 50):6.1f} ms p99 {pct(values, 99):7.1f} ms"
                f" max {max(values):7.1f} ms"
            )
    runs = len(delays.get("ACTIVE", []))
    return f"  {label:<28} {' | '.join(parts) or 'no pulse runs'} ({runs} runs)"


def _bind(engine: Engine, at: datetime) -> Any:
    if engine.dialect.name == "sqlite":
        return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return at


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
