"""Two transactions changing one task at once on PostgreSQL: the second waits for the
first's row lock, then numbers its version after the first's (no duplicate, no error)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from support import wait_for

from app.db.engine import session_scope
from app.db.tables import Task
from app.db.version_tables import DefinitionVersion


def test_concurrent_edits_of_one_task_get_consecutive_versions(
    engine: Engine, postgres_admin_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: nothing interleaves")
    with session_scope(engine) as session:
        task = Task(name="shared", command="true")
        session.add(task)
        session.flush()
        tid = task.id
    failures: list[BaseException] = []
    first = Session(engine, expire_on_commit=False)
    row = first.get(Task, tid)
    assert row is not None
    row.command = "echo first"
    first.flush()  # holds the row lock

    def second_edit() -> None:
        try:
            with session_scope(engine) as session:
                other = session.get(Task, tid)
                assert other is not None
                other.description = "second"
        except BaseException as exc:  # reported below
            failures.append(exc)

    worker = threading.Thread(target=second_edit)
    worker.start()
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND datname = current_database()"
    )

    def blocked() -> bool:
        # A transaction of its own each time: PostgreSQL keeps one snapshot of the activity
        # view for a whole transaction, so a probe that stayed in one would never see the wait.
        with engine.connect() as probe:
            return int(probe.execute(waiting).scalar_one()) > 0

    wait_for(blocked, timeout=10)
    first.commit()
    first.close()
    worker.join(timeout=20)
    assert failures == []
    with Session(engine) as session:
        numbers = session.exec(
            select(DefinitionVersion.number, DefinitionVersion.definition).where(
                DefinitionVersion.object_id == tid, DefinitionVersion.kind == "task"
            )
        ).all()
    by_number = dict(numbers)
    assert sorted(by_number) == [1, 2, 3]
    assert by_number[3]["description"] == "second" and by_number[3]["command"] == "echo first"
