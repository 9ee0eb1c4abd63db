"""Leadership is fenced on the lock itself: two real servers on one PostgreSQL; the leader's
lock session is ended from outside (pg_terminate_backend), as a broken connection would."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from run_moves import create_run_in
from sqlalchemy import create_engine, text
from support import (
    LiveServer,
    drop_postgres_database,
    fresh_postgres_database,
    start_live_server,
    wait_for,
)

from app.clock import SystemClock
from app.db.engine import session_scope
from app.db.runs import get_run
from app.domain.states import RunStatus, TriggerKind
from app.scheduler.service import SchedulerService

LOCK_KEY = 0x616C6D61


@pytest.fixture
def database(postgres_admin_url: str) -> Iterator[str]:
    url = fresh_postgres_database(postgres_admin_url)
    yield url
    drop_postgres_database(postgres_admin_url, url)


def _scheduler(live: LiveServer) -> SchedulerService:
    scheduler = live.server.config.app.state.context.scheduler
    assert isinstance(scheduler, SchedulerService)
    return scheduler


def _role(live: LiveServer) -> str:
    return str(httpx.get(live.url + "/api/v1/health", timeout=10).json()["scheduler"])


def _end_lock_session(url: str) -> None:
    """End the backend that holds the scheduler lock, from outside, as a broken link would."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        pids = (
            connection.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory'"
                    " AND objid::bigint = :key AND database ="
                    " (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"key": LOCK_KEY},
            )
            .scalars()
            .all()
        )
        assert len(pids) == 1, pids
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
    engine.dispose()


def test_the_old_leader_says_standby_before_the_new_one_says_leader(
    database: str, tmp_path: Path
) -> None:
    first = start_live_server(tmp_path / "first", database_url=database, local_agent=False)
    second = start_live_server(tmp_path / "second", database_url=database, local_agent=False)
    try:
        wait_for(lambda: _role(first) == "leader", timeout=10)
        assert _role(second) == "standby"
        # The old leader would probe its lock only every 30 s, the standby campaigns every
        # 20 ms: without fencing on the lock, both would say leader for seconds.
        _scheduler(first).leadership.poll_seconds = 30
        _scheduler(second).leadership.poll_seconds = 0.02
        time.sleep(1.2)  # both are past the sleeps they began with the old intervals

        _end_lock_session(database)
        samples: list[tuple[str, str]] = []

        def taken_over() -> bool:
            new = _role(second)  # asked first: the old leader's answer comes after it
            old = _role(first)
            samples.append((old, new))
            assert (old, new) != ("leader", "leader"), samples
            return new == "leader"

        wait_for(taken_over, timeout=10, interval=0.005)
        assert samples[-1] == ("standby", "leader")
        assert _role(first) == "standby"
    finally:
        second.stop()
        first.stop()
        for live in (first, second):
            live.engine.dispose()


def test_a_leader_only_action_after_the_lock_is_lost_does_nothing(
    database: str, tmp_path: Path
) -> None:
    live = start_live_server(tmp_path / "only", database_url=database, local_agent=False)
    scheduler = _scheduler(live)
    release, frozen = threading.Event(), threading.Event()

    def freeze() -> None:  # the leader's event loop stalls: it cannot notice anything
        frozen.set()
        release.wait(timeout=30)

    try:
        wait_for(lambda: _role(live) == "leader", timeout=10)
        assert scheduler._loop is not None
        scheduler._loop.call_soon_threadsafe(freeze)
        assert frozen.wait(timeout=10)
        time.sleep(0.2)  # a maintenance pass already in a worker thread finishes
        _end_lock_session(database)
        now = SystemClock().now()
        with session_scope(live.engine) as session:  # a dispatch never acknowledged
            run = create_run_in(
                session,
                RunStatus.TRIGGER,
                at=now - timedelta(hours=1),
                agent="gone",
                trigger_kind=TriggerKind.ADHOC,
                spec={"command": "true"},
            )
            session.add(run)
            session.flush()
            run_id = run.id or 0

        refused: Exception | None = None
        try:  # leader-only: expire unacknowledged dispatches, declare silent agents lost
            scheduler.maintenance_once()
        except Exception as exc:
            refused = exc
        with session_scope(live.engine) as session:
            after = get_run(session, run_id)
        assert after.status == RunStatus.TRIGGER.value  # untouched: it no longer leads
        assert type(refused).__name__ == "NotLeader", refused
        assert scheduler.role == "standby"  # said at once, not after a probe
    finally:
        release.set()
        live.stop()
        live.engine.dispose()
