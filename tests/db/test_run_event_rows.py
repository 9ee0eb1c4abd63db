"""Run events are plain rows queued on the session: the writer is installed by the engine's
construction, never by importing a module, and a reader of the session never misses one."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import select

from app.db.engine import session_scope
from app.db.runs import create_run
from app.db.tables import RunEvent
from app.domain.states import RunStatus, TriggerKind

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

_SCRIPT = """
from sqlalchemy import event
from sqlalchemy.orm import Session

import app.db.runs  # the repository that queues the rows
from app.db import run_event_rows

print(event.contains(Session, "do_orm_execute", run_event_rows._before_reading))
from app.db.engine import make_engine

make_engine("sqlite://")
print(event.contains(Session, "do_orm_execute", run_event_rows._before_reading))
"""


def test_importing_installs_nothing_and_an_engine_installs_the_writer() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


def test_a_query_in_the_same_transaction_sees_the_queued_events(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        run = create_run(
            session,
            at=NOW,
            status=RunStatus.ACTIVE,
            trigger_kind=TriggerKind.MANUAL,
            spec={"command": "true"},
            detail="made in a test",
        )
        seen = session.exec(select(RunEvent).where(RunEvent.run_id == run.id)).all()
        assert [(e.status, e.detail) for e in seen] == [("ACTIVE", "made in a test")]
