"""The leader's loops stepped with the injected clock: silent agents are declared lost,
unacknowledged dispatches expire and schedules fire at the right moment, in milliseconds
instead of real time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from app.clock import FrozenClock
from app.db.engine import session_scope
from app.db.runs import create_run, get_run, run_events
from app.db.tables import Agent, Run, Task
from app.domain.states import RunStatus, TriggerKind
from app.hub.hub import AgentHub
from app.scheduler.lifecycle import MAX_DISPATCHES, apply_state
from app.scheduler.planner import plan_tasks
from app.scheduler.service import SchedulerService
from app.settings import Settings

TIMEOUT = 30.0
DEADLINE = 10.0


@pytest.fixture
def scheduler(sqlite_engine: Engine, clock: FrozenClock) -> SchedulerService:
    settings = Settings(
        heartbeat_timeout_seconds=TIMEOUT, accept_deadline_seconds=DEADLINE, local_agent=False
    )
    hub = AgentHub(sqlite_engine, clock, heartbeat_interval=5.0, reports=apply_state)
    service = SchedulerService(sqlite_engine, clock, hub, settings)
    service.leadership.is_leader = True  # what winning the election does on SQLite
    service.started_at = clock.now() - timedelta(hours=1)
    return service


def _run_on(
    engine: Engine, clock: FrozenClock, agent: str, status: RunStatus, retries: int = 0
) -> int:
    with session_scope(engine) as session:
        task = Task(name=f"t-{agent}-{status}", command="true", retry_attempts=retries)
        session.add(task)
        session.add(Agent(name=agent, status="online", last_heartbeat=clock.now()))
        session.flush()
        run = create_run(
            session,
            at=clock.now(),
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec={"command": "true"},
            task=task,
        )
        run.agent, run.dispatched_at, run.status = agent, clock.now(), status
        run.dispatches = 1
        return run.id or 0


def _status(engine: Engine, run_id: int) -> tuple[str, str | None, int]:
    with session_scope(engine) as session:
        run = get_run(session, run_id)
        return run.status, run.reason, run.attempt


def _agent_status(engine: Engine, name: str) -> str:
    with session_scope(engine) as session:
        return session.exec(select(Agent.status).where(Agent.name == name)).one()


def test_a_silent_agent_is_lost_just_after_the_timeout_and_its_run_retried(
    scheduler: SchedulerService, sqlite_engine: Engine, clock: FrozenClock
) -> None:
    run_id = _run_on(sqlite_engine, clock, "mortal", RunStatus.RUNNING, retries=1)
    start = clock.now()
    assert not scheduler.maintenance_once(start + timedelta(seconds=TIMEOUT - 1))
    assert _status(sqlite_engine, run_id) == ("RUNNING", None, 1)
    assert _agent_status(sqlite_engine, "mortal") == "online"

    assert scheduler.maintenance_once(start + timedelta(seconds=TIMEOUT + 1))
    assert _agent_status(sqlite_engine, "mortal") == "offline"
    status, _, attempt = _status(sqlite_engine, run_id)
    assert (status, attempt) == ("ACTIVE", 2)  # attempt 2 waits for a live agent
    with session_scope(sqlite_engine) as session:
        timeline = [(e.attempt, e.status, e.detail) for e in run_events(session, run_id)]
    assert (1, "FAILED", "agent mortal stopped answering") in timeline
    assert not scheduler.maintenance_once(start + timedelta(seconds=TIMEOUT + 2))  # once


def test_without_retries_the_lost_agents_run_ends_failed(
    scheduler: SchedulerService, sqlite_engine: Engine, clock: FrozenClock
) -> None:
    run_id = _run_on(sqlite_engine, clock, "mortal", RunStatus.STARTED)
    scheduler.maintenance_once(clock.now() + timedelta(seconds=TIMEOUT + 1))
    assert _status(sqlite_engine, run_id) == ("FAILED", "agent lost", 1)


def test_agents_get_a_full_timeout_after_the_server_starts_leading(
    scheduler: SchedulerService, sqlite_engine: Engine, clock: FrozenClock
) -> None:
    run_id = _run_on(sqlite_engine, clock, "slow", RunStatus.RUNNING)
    later = clock.now() + timedelta(seconds=TIMEOUT + 5)
    scheduler.started_at = later - timedelta(seconds=5)  # this server has just been elected
    assert not scheduler.maintenance_once(later)
    assert _status(sqlite_engine, run_id)[0] == "RUNNING"
    assert scheduler.maintenance_once(later + timedelta(seconds=TIMEOUT))
    assert _status(sqlite_engine, run_id)[0] == "FAILED"


def test_an_unacknowledged_dispatch_goes_back_then_fails_after_the_last_try(
    scheduler: SchedulerService, sqlite_engine: Engine, clock: FrozenClock
) -> None:
    run_id = _run_on(sqlite_engine, clock, "deaf", RunStatus.TRIGGER)
    start = clock.now()
    assert not scheduler.maintenance_once(start + timedelta(seconds=DEADLINE - 1))
    assert scheduler.maintenance_once(start + timedelta(seconds=DEADLINE + 1))
    assert _status(sqlite_engine, run_id)[0] == "ACTIVE"  # dispatched again by the next pass

    with session_scope(sqlite_engine) as session:  # the last allowed dispatch, unanswered too
        run = get_run(session, run_id)
        run.status, run.agent, run.dispatched_at = "TRIGGER", "deaf", start
        run.dispatches = MAX_DISPATCHES
    scheduler.maintenance_once(start + timedelta(seconds=DEADLINE + 1))
    status, reason, _ = _status(sqlite_engine, run_id)
    assert status == "FAILED"
    assert reason == f"not accepted by an agent after {MAX_DISPATCHES} dispatches"


def test_a_server_that_no_longer_leads_changes_nothing(
    scheduler: SchedulerService, sqlite_engine: Engine, clock: FrozenClock
) -> None:
    run_id = _run_on(sqlite_engine, clock, "mortal", RunStatus.RUNNING)
    scheduler.leadership.is_leader = False
    with pytest.raises(Exception, match="not the scheduler leader"):
        scheduler.maintenance_once(clock.now() + timedelta(hours=1))
    assert _status(sqlite_engine, run_id)[0] == "RUNNING"


def test_the_fire_pass_steps_a_schedule_through_two_days(
    scheduler: SchedulerService, sqlite_engine: Engine, clock: FrozenClock
) -> None:
    """The leader's firing pass with the injected clock: nothing before the trigger time, the
    occurrence ACTIVE at it, the next day's planned at once; a pass that no longer leads
    fires nothing."""
    schedule = {"kind": "times", "times": ["09:00"], "timezone": "UTC"}
    with session_scope(sqlite_engine) as session:
        task = Task(name="daily", command="true", schedule=schedule)
        session.add(task)
        session.flush()
        plan_tasks(session, [task], now=clock.now())  # 2026-03-02 08:00: today's 09:00
        tid = task.id or 0

    def runs() -> list[tuple[str, str]]:
        with session_scope(sqlite_engine) as session:
            rows = session.exec(select(Run).where(Run.task_id == tid).order_by(col(Run.id)))
            return [(r.status, r.trigger_time.strftime("%d %H:%M")) for r in rows if r.trigger_time]

    early, _ = scheduler.fire_once(clock.now() + timedelta(minutes=59))
    assert early.activated == [] and runs() == [("IDLE", "02 09:00")]
    fired, _ = scheduler.fire_once(clock.now() + timedelta(hours=1, seconds=1))
    assert len(fired.activated) == 1
    assert runs() == [("ACTIVE", "02 09:00"), ("IDLE", "03 09:00")]
    scheduler.leadership.is_leader = False
    with pytest.raises(Exception, match="not the scheduler leader"):
        scheduler.fire_once(clock.now() + timedelta(days=1, hours=1, seconds=1))
    assert runs() == [("ACTIVE", "02 09:00"), ("IDLE", "03 09:00")]


def test_a_seconds_schedule_fires_every_ten_seconds_on_time(
    scheduler: SchedulerService, sqlite_engine: Engine, clock: FrozenClock
) -> None:
    """A Quartz `*/10 * * * * *` plans and fires on seconds: nothing truncates to minutes."""
    schedule = {"kind": "cron", "cron": "*/10 * * * * *", "timezone": "UTC"}
    with session_scope(sqlite_engine) as session:
        task = Task(name="ticker", command="true", schedule=schedule)
        session.add(task)
        session.flush()
        plan_tasks(session, [task], now=clock.now())
        tid = task.id or 0

    def runs() -> list[tuple[str, str]]:
        with session_scope(sqlite_engine) as session:
            rows = session.exec(select(Run).where(Run.task_id == tid).order_by(col(Run.id)))
            return [(r.status, r.trigger_time.strftime("%H:%M:%S")) for r in rows if r.trigger_time]

    start = clock.now()
    assert runs() == [("IDLE", "08:00:10")]
    assert scheduler.fire_once(start + timedelta(seconds=9))[0].activated == []
    assert len(scheduler.fire_once(start + timedelta(seconds=10))[0].activated) == 1
    assert len(scheduler.fire_once(start + timedelta(seconds=20))[0].activated) == 1
    assert runs() == [("ACTIVE", "08:00:10"), ("ACTIVE", "08:00:20"), ("IDLE", "08:00:30")]
