"""Median time of forecast(count=1000) for calendar-filtered schedules.

Run: .venv/bin/python bench/bench_forecast.py   (target: under 20 ms per forecast)
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from typing import Any

from app.domain.calendars import CalendarSpec
from app.domain.schedules import parse_schedule
from app.domain.triggers import forecast

AFTER = datetime(2026, 1, 1, tzinfo=UTC)
US = CalendarSpec(name="us", country="US", skip_weekends=True)
CASES: list[tuple[str, dict[str, Any]]] = [
    (
        "times 09:00 mon-fri, US holidays + weekends, Europe/Berlin",
        {"kind": "times", "times": ["09:00"], "days": "mon-fri", "timezone": "Europe/Berlin"},
    ),
    (
        "frequency 15 min 08:00-18:00 mon-fri, US calendar, Europe/Berlin",
        {
            "kind": "frequency",
            "every_minutes": 15,
            "window": {"start": "08:00", "end": "18:00"},
            "days": "mon-fri",
            "timezone": "Europe/Berlin",
        },
    ),
    (
        "cron 30 8 * * 1-5, next_open_day, US calendar, America/New_York",
        {
            "kind": "cron",
            "cron": "30 8 * * 1-5",
            "timezone": "America/New_York",
            "on_closed": "next_open_day",
        },
    ),
    (
        "times 09:00 last business day, US calendar, UTC",
        {"kind": "times", "times": ["09:00"], "days": "last business day", "timezone": "UTC"},
    ),
]


def median_ms(data: dict[str, Any], repeats: int = 21) -> tuple[float, int]:
    schedule = parse_schedule(data)
    found = len(forecast(schedule, AFTER, 1000, US).occurrences)  # warms the holiday tables
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        forecast(schedule, AFTER, 1000, US)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), found


def main() -> None:
    for label, data in CASES:
        median, found = median_ms(data)
        print(f"{median:8.2f} ms  forecast of {found} occurrences: {label}")


if __name__ == "__main__":
    main()
