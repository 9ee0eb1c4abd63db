"""Combined calendars and crontab reading: median times.

- forecast(count=1000) of a daily 09:00 schedule over a combined calendar ("US federal +
  half days - working Saturdays", with DE/BY public + catholic included too) against the same
  schedule with no calendar;
- a year preview (365 verdicts) of that calendar;
- reading a 3,000-line crontab.

Run: .venv/bin/python bench/bench_calendar_rules.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from app.domain.calendars import CalendarSpec
from app.domain.schedules import parse_schedule
from app.domain.triggers import forecast
from app.io.crontab import read_crontab

AFTER = datetime(2026, 1, 1, tzinfo=UTC)
US = CalendarSpec(name="us", country="US", skip_weekends=True)
BY = CalendarSpec(name="by", country="DE", subdivision="BY", categories=("public", "catholic"))
HALF = CalendarSpec(name="half", extra_dates=frozenset({date(2026, 11, 27), date(2026, 12, 24)}))
SATURDAYS = CalendarSpec(
    name="sat", extra_dates=frozenset(date(2026, 3, 7) + timedelta(weeks=n) for n in range(20))
)
DESK = CalendarSpec(name="desk", include=(US, BY, HALF), exclude=(SATURDAYS,))
CRONTAB = "\n".join(
    ["SHELL=/bin/bash", "MAILTO=ops@example.com", "CRON_TZ=Europe/Berlin"]
    + [f"{n % 60} {n % 24} * * 1-5 /opt/jobs/job{n}.sh --run %input {n}%end" for n in range(3000)]
)


def median_ms(work: Callable[[], object], repeats: int = 11) -> float:
    work()  # warm the holiday tables
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    schedule = parse_schedule({"kind": "times", "times": ["09:00"], "timezone": "Europe/Berlin"})
    plain = median_ms(lambda: forecast(schedule, AFTER, 1000))
    combined = median_ms(lambda: forecast(schedule, AFTER, 1000, DESK))
    first = date(2026, 1, 1)
    preview = median_ms(lambda: [DESK.verdict(first + timedelta(days=n)) for n in range(365)])
    crontab = median_ms(lambda: read_crontab(CRONTAB), repeats=5)
    print(f"{plain:8.2f} ms  forecast of 1000 daily occurrences, no calendar")
    print(f"{combined:8.2f} ms  forecast of 1000 daily occurrences, combined calendar")
    print(f"{preview:8.2f} ms  year preview (365 days) of the combined calendar")
    print(f"{crontab:8.2f} ms  reading a 3,000-line crontab")


if __name__ == "__main__":
    main()
