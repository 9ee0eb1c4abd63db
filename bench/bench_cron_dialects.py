"""Median time of forecast(count=1000) for each cron dialect feature (no calendar).

Run: .venv/bin/python bench/bench_cron_dialects.py   (issue target: under 10 ms per forecast)
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

from app.domain.schedules import parse_schedule
from app.domain.triggers import forecast

AFTER = datetime(2026, 1, 1, tzinfo=UTC)
CASES = [
    "30 8 * * 1-5",
    "*/10 * * * * *",
    "0 0 12 ? * MON-FRI",
    "0 0 22-2 * * FRI-MON",
    "0 0 L * *",
    "0 0 15W * *",
    "0 0 LW * *",
    "0 0 * * 5L",
    "0 0 * * 1#2",
    "0 0 9 ? * 6#3 2026-2099",
]


def median_ms(cron: str, repeats: int = 11) -> tuple[float, int]:
    schedule = parse_schedule({"kind": "cron", "cron": cron, "timezone": "Europe/London"})
    found = len(forecast(schedule, AFTER, 1000).occurrences)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        forecast(schedule, AFTER, 1000)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), found


def main() -> None:
    for cron in CASES:
        median, found = median_ms(cron)
        print(f"{median:8.2f} ms  forecast of {found} occurrences: {cron}")


if __name__ == "__main__":
    main()
