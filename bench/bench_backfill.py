"""Backfill at scale: 1,000 dates of a 5-task group (a chain).

1. Planning, pure: every date of the range through the schedule and a holiday calendar.
   The group's schedule is daily without a calendar, so all 1,000 dates run (5,000 runs).
2. Planning through the service on SQLite: a dry run (nothing stored) and the real one
   (1,000 date rows stored).
3. Dispatch with the loops stepped by hand (no sleeping, a frozen clock) and the in-package
   fake agent speaking the real protocol over the server's agent route: each round is one
   backfill pass, one dispatch pass, and every running run reported SUCCESS. Figures: runs
   per second through the whole server path, and the most group runs unfinished at once.

4. Live (`--live N`): a real `almanac server` with its built-in agent backfills N dates of one
   task of `true`, one date at a time (max_concurrent 1): each date starts when the one before
   ends, not at the next second's tick.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_backfill.py [--cap 50] [--dates 1000]
        [--live 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from benchlib import free_port, load, login, start_server, stop
from sqlmodel import col, func, select

from app.bootstrap import upgrade_database
from app.clock import FrozenClock
from app.db.backfill_tables import Backfill
from app.db.engine import make_engine, session_scope
from app.db.groups import add_edge, create_group
from app.db.tables import GroupRun, Run, Task, User
from app.domain.backfill_plan import plan_dates
from app.domain.calendars import CalendarSpec
from app.domain.dag import Edge
from app.domain.schedules import parse_schedule
from app.hub.fake_agent import FakeAgent, agent_token
from app.models.backfill_schemas import BackfillCreate
from app.server import create_app
from app.services import backfills
from app.services.actor import Actor
from app.settings import Settings

DAILY = {"kind": "times", "times": ["06:00"], "timezone": "Europe/Berlin"}
START = date(2023, 1, 1)
END = START + timedelta(days=999)  # 1,000 dates
OPERATOR = Actor(User(username="bench", password_hash="-", role="operator", instances=["*"]))


def _pure() -> None:
    schedule = parse_schedule({**DAILY, "calendar": "de"})
    germany = CalendarSpec(name="de", country="DE")
    timings = []
    for _ in range(7):
        began = time.perf_counter()
        plans = plan_dates(start=START, end=END, schedule=schedule, calendar=germany)
        timings.append((time.perf_counter() - began) * 1000)
    runs = sum(1 for p in plans if p.action == "run")
    print(
        f"pure plan of {len(plans)} dates ({runs} run, {len(plans) - runs} holidays): "
        f"median {statistics.median(timings):.1f} ms"
    )


def _group(engine_url: str, now: datetime) -> int:
    engine = make_engine(engine_url)
    with session_scope(engine) as session:
        group = create_group(session, {"name": "bench", "schedule": DAILY}, now=now)
        ids = []
        for n in range(5):
            task = Task(name=f"step{n}", command="true", group_id=group.id, target="fake")
            session.add(task)
            session.flush()
            ids.append(task.id or 0)
        for up, down in zip(ids, ids[1:], strict=False):
            add_edge(session, group, Edge(up, down, "success"))
        gid = group.id or 0
    engine.dispose()
    return gid


def _plan_through_service(url: str, gid: int, now: datetime, cap: int) -> int:
    engine = make_engine(url)
    made = 0
    for dry_run in (True, False):
        body = BackfillCreate(
            start=START, end=END, max_concurrent=cap, dry_run=dry_run, confirm=True
        )
        began = time.perf_counter()
        answer = backfills.start_backfill(
            engine, actor=OPERATOR, now=now, body=body, confirm_over=1000, group_id=gid
        )
        took = (time.perf_counter() - began) * 1000
        what = "dry run" if dry_run else "stored"
        print(f"service plan, {what}: {answer.total} dates, {answer.run_count} run: {took:.0f} ms")
        made = answer.id or 0
    engine.dispose()
    return made


async def _dispatch(url: str, data: Path, backfill_id: int, cap: int, now: datetime) -> None:
    clock = FrozenClock(now)
    engine = make_engine(url)
    settings = Settings(data_dir=data, database_url=url, local_agent=False)
    app = create_app(settings, clock=clock, engine=engine, start_scheduler=False)
    context = app.state.context
    scheduler = context.scheduler
    scheduler.leadership.is_leader = True
    scheduler.started_at = now - timedelta(hours=1)
    agent = FakeAgent(
        app, context.hub, token=agent_token(engine, "fake", now), name="fake", clock=clock
    )
    await agent.connect()
    rounds, most, finished = 0, 0, 0
    began, cpu = time.perf_counter(), time.process_time()
    while True:
        rounds += 1
        clock.set(clock.now() + timedelta(seconds=1))
        scheduler.backfill_once(clock.now())
        await scheduler.dispatch_once(clock.now())
        await agent.settle()
        with session_scope(engine) as session:
            running = session.exec(select(Run.id).where(Run.status == "RUNNING")).all()
            open_runs = session.exec(
                select(func.count())
                .select_from(GroupRun)
                .where(col(GroupRun.finished_at).is_(None), GroupRun.trigger_kind == "backfill")
            ).one()
            status = session.exec(select(Backfill.status).where(Backfill.id == backfill_id)).one()
        most = max(most, int(open_runs))
        for run_id in running:
            await agent.finish(int(run_id or 0))
        finished += len(running)
        if status == "done":
            break
    took, cpu = time.perf_counter() - began, time.process_time() - cpu
    await agent.close()
    engine.dispose()
    print(
        f"dispatch, cap {cap}: {finished} runs in {took:.1f} s wall ({finished / took:.0f} runs/s),"
        f" {cpu:.1f} s CPU ({finished / cpu:.0f} runs per CPU second; server, agent and loops in"
        f" one process), {rounds} rounds, at most {most} group runs unfinished at once"
    )


def _live(dates: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = start_server(Path(folder), port)
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            headers = {"Authorization": f"Bearer {login(base[: -len('/api/v1')], timeout=300)}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                while not any(a["connected"] for a in http.get("/agents").json()):
                    time.sleep(0.1)
                body = {"name": "daily", "command": "true", "schedule": DAILY}
                tid = http.post("/tasks", json=body).json()["tid"]
                began = time.perf_counter()
                end = START + timedelta(days=dates - 1)
                made = http.post(
                    f"/tasks/{tid}/backfill",
                    json={"start": str(START), "end": str(end), "max_concurrent": 1},
                ).json()
                while http.get(f"/backfills/{made['id']}").json()["status"] != "done":
                    if time.perf_counter() - began > 30 + dates * 2:
                        raise SystemExit("the live backfill did not finish in time")
                    time.sleep(0.05)
                took = time.perf_counter() - began
        finally:
            stop(server)
    print(
        f"live, one date at a time: {dates} dates of `true` in {took:.2f} s "
        f"({took / dates * 1000:.0f} ms a date; {load()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cap", type=int, default=50)
    parser.add_argument("--dates", type=int, default=1000, help="days in the range")
    parser.add_argument("--live", type=int, default=0, help="dates on a real server instead")
    args = parser.parse_args()
    cap = args.cap
    global END
    END = START + timedelta(days=args.dates - 1)
    if args.live:
        _live(args.live)
        return
    _pure()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        url = f"sqlite:///{data / 'almanac.db'}"
        upgrade_database(url)
        gid = _group(url, now)
        backfill_id = _plan_through_service(url, gid, now, cap)
        asyncio.run(_dispatch(url, data, backfill_id, cap, now))


if __name__ == "__main__":
    main()
