"""The writer's managed marks: one UPDATE per file and kind, and the objects the session
already holds carry the values written (as the session's own synchronisation would leave
them), so nothing read after the marks in the same transaction is stale."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy import select as core_select
from sqlmodel import Session, select

from app.db.engine import session_scope
from app.db.tables import Task, TaskGroup
from app.definitions import writer
from app.definitions.bundle import read_bundle
from app.definitions.files import SourceFile
from app.definitions.planner import DefinitionsPlan, plan_definitions
from app.definitions.writer import write_plan
from app.io.apply import apply_plan

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ETL = """\
format: almanac/v1
groups:
  - {name: etl, schedule: {kind: cron, cron: "0 2 * * *"}}
tasks:
  - {name: extract, command: "echo e", group: etl}
  - {name: load, command: "echo %s", group: etl}
dependencies:
  - {group: etl, upstream: extract, downstream: load}
"""
MARKS = ("managed_by", "managed_file", "managed_commit")


def _plan(session: Session, path: str, load: str, commit: str) -> DefinitionsPlan:
    bundle = read_bundle([SourceFile(path, ETL % load)])
    return plan_definitions(
        session, bundle, source="sync:prod", commit=commit, prune=False, granted=None
    )


def test_objects_in_the_session_carry_the_marks_written(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(sqlite_engine) as session:
        write_plan(session, _plan(session, "defs/etl.yaml", "l", "c1"), now=NOW)
    with session_scope(sqlite_engine) as session:
        held = [*session.exec(select(Task)).all(), *session.exec(select(TaskGroup)).all()]
        # The file moves, and `load` changes: all get the new file, `load` the new commit.
        plan = _plan(session, "defs/moved.yaml", "l2", "c2")
        expired = next(t for t in held if isinstance(t, Task) and t.name == "extract")

        def import_then_expire(*args: Any, **kwargs: Any) -> Any:
            applied = apply_plan(*args, **kwargs)
            session.expire(expired, ["name"])  # its key unloaded: it must read its marks again
            return applied

        monkeypatch.setattr(writer, "apply_plan", import_then_expire)
        write_plan(session, plan, now=NOW)
        assert not session.dirty  # the marks are loaded state, not changes to flush
        for model in (Task, TaskGroup):
            columns = [model.__table__.c[m] for m in ("name", *MARKS)]  # type: ignore[attr-defined]
            stored = {
                r[0]: tuple(r[1:]) for r in session.connection().execute(core_select(*columns))
            }
            for obj in (o for o in held if isinstance(o, model)):
                assert tuple(getattr(obj, m) for m in MARKS) == stored[obj.name]
    assert stored == {"etl": ("sync:prod", "defs/moved.yaml", "c1")}
    with Session(sqlite_engine) as session:
        marks = {t.name: (t.managed_file, t.managed_commit) for t in session.exec(select(Task))}
    assert marks == {"extract": ("defs/moved.yaml", "c1"), "load": ("defs/moved.yaml", "c2")}
