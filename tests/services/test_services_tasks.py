"""The services called directly, as the web pages call them: the instance scope applied by
the read functions, a refused command that changes nothing, and the role each one checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from support import migrated_sqlite

from app.clock import SystemClock
from app.context import AppContext
from app.db.engine import make_engine, session_scope
from app.db.tables import AuditEvent, Task, User
from app.errors import Forbidden, InvalidInput, NotFound
from app.models.schemas import TaskCreate, TaskUpdate
from app.server import create_app
from app.services import groups, run_reads, tasks
from app.services.actor import Actor
from app.settings import Settings


@pytest.fixture
def context(tmp_path: Path) -> Iterator[AppContext]:
    engine = make_engine(migrated_sqlite(tmp_path / "almanac.db"))
    settings = Settings(data_dir=tmp_path, database_url=str(engine.url), local_agent=False)
    app = create_app(settings, engine=engine, start_scheduler=False)
    yield app.state.context
    engine.dispose()


def _actor(role: str, instances: list[str]) -> Actor:
    return Actor(
        User(id=1, username=f"{role}-{'-'.join(instances)}", role=role, instances=instances)
    )


def _create(context: AppContext, actor: Actor, name: str, instance: str) -> int:
    body = TaskCreate.model_validate({"name": name, "command": "true", "instance": instance})
    created = tasks.create_task(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        body=body,
    )
    return created.tid


def _count(engine: Engine, table: type[Task] | type[AuditEvent]) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def test_reads_apply_the_callers_instance_scope(context: AppContext) -> None:
    admin = _actor("admin", ["*"])
    red = _create(context, admin, "red-job", "red")
    blue = _create(context, admin, "blue-job", "blue")
    reader = _actor("viewer", ["red"])
    with session_scope(context.engine) as session:
        assert [t.tid for t in tasks.list_tasks(session, actor=reader)] == [red]
        assert {t.tid for t in tasks.list_tasks(session, actor=admin)} == {red, blue}
        assert tasks.read_task(session, actor=reader, tid=red).name == "red-job"
        with pytest.raises(NotFound):  # another instance does not exist for the reader
            tasks.read_task(session, actor=reader, tid=blue)
        assert groups.list_groups(session, actor=reader) == []


def test_run_reads_keep_to_the_scope(context: AppContext) -> None:
    admin = _actor("operator", ["*"])
    red = tasks.force_run(
        context.engine,
        actor=admin,
        now=context.clock.now(),
        tid=_create(context, _actor("admin", ["*"]), "r", "red"),
    )
    blue = tasks.force_run(
        context.engine,
        actor=admin,
        now=context.clock.now(),
        tid=_create(context, _actor("admin", ["*"]), "b", "blue"),
    )
    reader = _actor("viewer", ["blue"])
    with session_scope(context.engine) as session:
        shown = run_reads.runs_by_ids(session, actor=reader, ids=[red.id, blue.id])
        assert [r.id for r in shown] == [blue.id]
        with pytest.raises(NotFound):
            run_reads.public_run(session, actor=reader, run_id=red.id)


def test_a_refused_command_changes_nothing(context: AppContext) -> None:
    admin = _actor("admin", ["*"])
    tid = _create(context, admin, "kept", "red")
    tasks_before, audits_before = _count(context.engine, Task), _count(context.engine, AuditEvent)
    outsider = _actor("operator", ["red"])
    with pytest.raises(InvalidInput):  # an instance not granted to the caller
        _create(context, outsider, "elsewhere", "blue")
    with pytest.raises(Forbidden):  # a viewer writes nothing, whoever calls the service
        _create(context, _actor("viewer", ["*"]), "viewer-job", "red")
    with pytest.raises(NotFound):  # a task outside the scope cannot be changed
        tasks.update_task(
            context.engine,
            actor=_actor("admin", ["blue"]),
            now=SystemClock().now(),
            tid=tid,
            body=TaskUpdate(name="renamed"),
        )
    assert _count(context.engine, Task) == tasks_before
    assert _count(context.engine, AuditEvent) == audits_before
    with session_scope(context.engine) as session:
        names = session.exec(select(Task.name).order_by(col(Task.id))).all()
    assert names == ["kept"]


def test_a_command_is_audited_in_the_actors_name(context: AppContext) -> None:
    actor = Actor(User(id=1, username="ops", role="operator", instances=["*"]), "10.0.0.7")
    tid = _create(context, actor, "audited", "default")
    with session_scope(context.engine) as session:
        row = session.exec(select(AuditEvent).where(AuditEvent.action == "task.create")).one()
    assert (row.actor, row.source, row.target_id) == ("ops", "10.0.0.7", str(tid))
