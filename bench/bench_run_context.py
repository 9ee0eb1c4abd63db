"""Run context costs: placeholder expansion, and what dispatch adds per run to gather the
context (task, group, calendar, upstream results) and expand the start frame.

1. Pure: expand a command with 8 placeholders (shell-quoted) 100,000 times.
2. SQLite: 200 group runs of a 5-task group (1,000 ACTIVE runs, a calendar on the group);
   build the start frames of all of them without the context (as before) and with it.

    .venv/bin/python bench/bench_run_context.py
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import select

from app.bootstrap import upgrade_database
from app.db.engine import make_engine, session_scope
from app.db.run_inputs import PassCache, context_for
from app.db.tables import Calendar, Run, Task, TaskGroup
from app.domain.calendars import CalendarSpec
from app.domain.placeholders import PlaceholderContext, expand
from app.domain.states import TriggerKind
from app.scheduler.dispatch import start_message
from app.scheduler.group_runs import start_group_run

COMMAND = (
    "load --day ${business_date} --prev ${business_date-1b:%Y%m%d} --region ${param.region} "
    "--task ${task} --group ${group} --run ${run_id} --try ${attempt} --rows ${upstream.a.rows}"
)


def _pure(count: int = 100_000) -> None:
    context = PlaceholderContext(
        business_date=date(2026, 12, 7),
        task="load",
        group="nightly",
        run_id=1,
        params={"region": "; rm -rf /"},
        upstream={"a": {"rows": 10}},
        calendar=CalendarSpec(name="de", country="DE", skip_weekends=True),
    )
    began = time.perf_counter()
    for _ in range(count):
        expand(COMMAND, context, shell=True)
    seconds = time.perf_counter() - began
    print(f"expand 8 placeholders: {seconds / count * 1e6:.1f} us each ({count} expansions)")


def _dispatch(group_runs: int = 200, tasks: int = 5) -> None:
    with tempfile.TemporaryDirectory() as data:
        url = f"sqlite:///{Path(data) / 'a.db'}"
        upgrade_database(url)
        engine = make_engine(url)
        now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
        params = [{"name": "region", "type": "string", "default": "EU"}]
        with session_scope(engine) as session:
            session.add(Calendar(name="de", country="DE", skip_weekends=True))
            schedule = {"kind": "cron", "cron": "0 6 * * *", "calendar": "de"}
            group = TaskGroup(name="g", schedule=schedule, params=params)
            session.add(group)
            session.flush()
            for i in range(tasks):
                session.add(
                    Task(
                        name=f"t{i}",
                        command=COMMAND.replace("a.rows", "t0.rows"),
                        group_id=group.id,
                    )
                )
            session.flush()
            for _ in range(group_runs):
                start_group_run(session, group, now=now, kind=TriggerKind.MANUAL)
        with session_scope(engine) as session:
            runs = session.exec(select(Run)).all()
            began = time.perf_counter()
            for run in runs:
                start_message(run, None)
            plain = time.perf_counter() - began
            cache = PassCache()
            # Once a process: the holidays package loads its country tables on first use.
            CalendarSpec(name="warm", country="DE").is_open(date(2026, 12, 7))
            began = time.perf_counter()
            cache.preload(session, runs)
            for run in runs:
                try:
                    start_message(run, None, context_for(session, run, cache))
                except ValueError:
                    pass  # ${upstream.t0.rows} is missing: the run would fail, still timed
            full = time.perf_counter() - began
        print(
            f"{len(runs)} start frames: {plain * 1000:.0f} ms without context, "
            f"{full * 1000:.0f} ms with context and expansion "
            f"({(full - plain) / len(runs) * 1e6:.0f} us a run more)"
        )
        engine.dispose()


if __name__ == "__main__":
    _pure()
    _dispatch()
