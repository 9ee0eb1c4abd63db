"""Median time of forecast(count=1000) for each cron dialect feature (no calendar), plus
the DST walk (interval-like schedules across both 2026 London changes) and a timing of
several schedules with blackouts.

Run: .venv/bin/python bench/bench_cron_dialects.py   (issue target: under 10 ms per forecast)
Prints wall-clock and CPU medians, and the best CPU time of the repeats: on a shared or
virtual machine (where neighbours steal cycles in bursts) the best is the code's own cost.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.domain.schedules import parse_schedule
from app.domain.timing import timing_forecast, timing_of
from app.domain.triggers import Forecast, forecast

AFTER = datetime(2026, 1, 1, tzinfo=UTC)
LONDON = "Europe/London"
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
# Forecasts that cross DST changes: (label, schedule, after)
DST_CASES: list[tuple[str, dict[str, Any], datetime]] = [
    ("hourly across spring", {"kind": "cron", "cron": "0 * * * *"},
     datetime(2026, 3, 15, tzinfo=UTC)),
    ("*/10 s across autumn", {"kind": "cron", "cron": "*/10 * * * * *"},
     datetime(2026, 10, 25, 0, 0, tzinfo=UTC)),
    ("1:30 both passes", {"kind": "times", "times": ["01:30"], "dst_fold": "both"}, AFTER),
    ("every 45 min", {"kind": "frequency", "every_minutes": 45},
     datetime(2026, 10, 20, tzinfo=UTC)),
]  # fmt: skip


def median_ms(run: Callable[[], Forecast], repeats: int = 21) -> tuple[float, float, float, int]:
    found = len(run().occurrences)
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu), min(cpu), found


def main() -> None:
    for cron in CASES:
        schedule = parse_schedule({"kind": "cron", "cron": cron, "timezone": LONDON})
        wall, cpu, best, found = median_ms(lambda s=schedule: forecast(s, AFTER, 1000))
        print(f"{_figures(wall, cpu, best)}  forecast of {found} occurrences: {cron}")
    for label, data, after in DST_CASES:
        schedule = parse_schedule({**data, "timezone": LONDON})
        wall, cpu, best, found = median_ms(lambda s=schedule, a=after: forecast(s, a, 1000))
        print(f"{_figures(wall, cpu, best)}  forecast of {found} occurrences: {label}")
    timing = timing_of(
        {"kind": "cron", "cron": "0 8 * * 1-5", "timezone": LONDON},
        [
            {"kind": "times", "times": ["12:00", "18:00"], "timezone": LONDON},
            {"kind": "cron", "cron": "0 0 L * *", "timezone": "America/New_York"},
        ],
        [
            {"name": "year end", "start_date": "2026-12-24", "end_date": "2027-01-02"},
            {"name": "weekend evenings", "start": "17:00", "end": "23:00", "days": "sat,sun"},
        ],
    )
    assert timing is not None
    wall, cpu, best, found = median_ms(lambda: timing_forecast(timing, AFTER, 1000))
    print(f"{_figures(wall, cpu, best)}  forecast of {found}: 3 schedules, 2 blackouts")


def _figures(wall: float, cpu: float, best: float) -> str:
    return f"{wall:8.2f} ms ({cpu:6.2f} ms CPU, best {best:6.2f})"


if __name__ == "__main__":
    main()
