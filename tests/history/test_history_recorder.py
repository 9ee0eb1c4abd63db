"""The recorder in the db layer: any write is a version (bulk statements, plain sessions,
renames that change who names the object), the scheduler's own columns are not, objects
older than history get a baseline; and the same on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlmodel import Session, select

from app.db.engine import session_scope
from app.db.tables import DependencyEdge, Run, Task, TaskGroup, User
from app.db.version_tables import DefinitionVersion
from app.models.group_schemas import EdgeBody, GroupCreate, GroupUpdate
from app.models.schemas import TaskCreate, TaskUpdate
from app.services import group_dag, groups, tasks, version_rollback, versions
from app.services.actor import Actor

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ADMIN = Actor(User(id=1, username="ada", role="admin", instances=["*"]), "10.0.0.9", "ui")


def _history(engine: Engine, kind: str, object_id: int) -> list[DefinitionVersion]:
    with Session(engine) as session:
        rows = session.exec(
            select(DefinitionVersion)
            .where(DefinitionVersion.kind == kind, DefinitionVersion.object_id == object_id)
            .order_by(DefinitionVersion.number)  # type: ignore[arg-type]
        ).all()
        return list(rows)


def _task(engine: Engine, name: str, group: int | None = None) -> int:
    body = TaskCreate.model_validate({"name": name, "command": "true", "group": group})
    return tasks.create_task(engine, actor=ADMIN, now=NOW, body=body).tid


def test_edits_edges_and_rollback_on_each_backend(engine: Engine) -> None:
    gid = groups.create_group(
        engine, actor=ADMIN, now=NOW, body=GroupCreate.model_validate({"name": "etl"})
    ).gid
    up, down = _task(engine, "extract", gid), _task(engine, "load", gid)
    edge = EdgeBody(upstream=up, downstream=down, condition="success")
    group_dag.create_edge(engine, actor=ADMIN, now=NOW, gid=gid, body=edge)
    later = NOW + timedelta(minutes=5)
    body = TaskUpdate.model_validate({"command": "make load"})
    tasks.update_task(engine, actor=ADMIN, now=later, tid=down, body=body)
    made = [(v.number, v.action, v.via, v.actor, v.at) for v in _history(engine, "task", down)]
    assert made == [
        (1, "created", "ui", "ada", NOW),
        (2, "updated", "ui", "ada", NOW),
        (3, "updated", "ui", "ada", later),
    ]
    restored = version_rollback.rollback_task(engine, actor=ADMIN, now=later, tid=down, number=1)
    assert (restored.number, restored.rollback_of) == (4, 1)
    assert {c.field for c in restored.diff} == {"command", "upstreams"}
    with Session(engine) as session:
        assert session.exec(select(Task.command).where(Task.id == down)).one() == "true"
    assert group_dag.list_edges(Session(engine), actor=ADMIN, gid=gid) == []
    assert [v.number for v in _history(engine, "group", gid)] == [1, 2, 3]


def test_bulk_statements_and_renames_make_versions_of_who_they_change(
    sqlite_engine: Engine,
) -> None:
    engine = sqlite_engine
    gid = groups.create_group(
        engine, actor=ADMIN, now=NOW, body=GroupCreate.model_validate({"name": "etl"})
    ).gid
    up, down = _task(engine, "extract", gid), _task(engine, "load", gid)
    edge = EdgeBody(upstream=up, downstream=down, condition="done")
    group_dag.create_edge(engine, actor=ADMIN, now=NOW, gid=gid, body=edge)
    # Renaming the upstream changes how `load` and the group name it.
    rename = TaskUpdate.model_validate({"name": "pull"})
    tasks.update_task(engine, actor=ADMIN, now=NOW, tid=up, body=rename)
    assert _history(engine, "task", down)[-1].definition["upstreams"] == [
        {"upstream": "pull", "condition": "done"}
    ]
    assert _history(engine, "group", gid)[-1].definition["edges"][0]["upstream"] == "pull"
    # Renaming the group changes its members' `group`.
    regroup = GroupUpdate.model_validate({"name": "nightly"})
    groups.update_group(engine, actor=ADMIN, now=NOW, gid=gid, body=regroup)
    assert _history(engine, "task", up)[-1].definition["group"] == "nightly"
    # Deleting the group unlinks its tasks with bulk statements: each task records it.
    groups.delete_group(engine, actor=ADMIN, now=NOW, gid=gid)
    last = _history(engine, "task", down)[-1]
    assert (last.definition["group"], last.definition["upstreams"]) == (None, [])
    assert _history(engine, "group", gid)[-1].action == "deleted"


def test_one_transaction_changing_several_groups_gives_each_its_own_edges(
    sqlite_engine: Engine,
) -> None:
    engine = sqlite_engine
    ids: dict[str, int] = {}

    def tasks_in(session: Session, group: TaskGroup, *names: str) -> None:
        made = [Task(name=n, command="true", group_id=group.id) for n in names]
        session.add_all(made)
        session.flush()
        ids.update({t.name: t.id or 0 for t in made})

    def edge(group: TaskGroup, up: str, down: str, condition: str = "success") -> DependencyEdge:
        return DependencyEdge(
            group_id=group.id or 0,
            upstream_id=ids[up],
            downstream_id=ids[down],
            condition=condition,
        )

    with session_scope(engine) as session:
        a, b = TaskGroup(name="a"), TaskGroup(name="b")
        session.add_all([a, b])
        session.flush()
        tasks_in(session, a, "a1", "a2", "a3")
        tasks_in(session, b, "b1", "b2")
        # a3 has two upstreams; b2 one of its group and one from outside it (not part of
        # its definition: export's rule).
        session.add_all(
            [
                edge(a, "a1", "a3"),
                edge(a, "a2", "a3", "done"),
                edge(b, "b1", "b2"),
                edge(b, "a1", "b2"),
            ]
        )
        gids = {"a": a.id or 0, "b": b.id or 0}

    def upstreams(name: str) -> list[tuple[str, str]]:
        last = _history(engine, "task", ids[name])[-1].definition["upstreams"]
        return [(u["upstream"], u["condition"]) for u in last]

    def edges(group: str) -> list[tuple[str, str]]:
        last = _history(engine, "group", gids[group])[-1].definition["edges"]
        return [(e["upstream"], e["downstream"]) for e in last]

    assert upstreams("a3") == [("a1", "success"), ("a2", "done")]
    assert (upstreams("b2"), upstreams("a1"), upstreams("b1")) == ([("b1", "success")], [], [])
    assert (edges("a"), edges("b")) == ([("a1", "a3"), ("a2", "a3")], [("b1", "b2")])
    # Again in one transaction: an edge leaves group a, a task and its edge come into b.
    with session_scope(engine) as session:
        session.delete(
            session.exec(
                select(DependencyEdge).where(DependencyEdge.upstream_id == ids["a2"])
            ).one()
        )
        b = session.get(TaskGroup, gids["b"])
        assert b is not None
        tasks_in(session, b, "b3")
        session.add(edge(b, "b2", "b3", "failed"))
    assert (upstreams("a3"), upstreams("b3")) == ([("a1", "success")], [("b2", "failed")])
    assert (edges("a"), edges("b")) == ([("a1", "a3")], [("b1", "b2"), ("b2", "b3")])
    counts = [len(_history(engine, "task", ids[n])) for n in ("a1", "a2", "a3", "b2", "b3")]
    assert counts == [1, 1, 2, 1, 1]
    assert [len(_history(engine, "group", g)) for g in gids.values()] == [2, 2]


def test_timer_columns_are_no_version_and_a_plain_session_write_is(
    sqlite_engine: Engine,
) -> None:
    tid = _task(sqlite_engine, "load")
    with session_scope(sqlite_engine) as session:
        task = session.get(Task, tid)
        assert task is not None
        task.next_fire_time, task.updated_at = NOW + timedelta(days=1), NOW
    assert len(_history(sqlite_engine, "task", tid)) == 1
    with session_scope(sqlite_engine) as session:
        task = session.get(Task, tid)
        assert task is not None
        task.description = "written by code that knows nothing of history"
    newest = _history(sqlite_engine, "task", tid)[-1]
    assert (newest.number, newest.actor, newest.via) == (2, None, "system")


def test_objects_older_than_history_get_a_baseline_and_runs_name_it(
    sqlite_engine: Engine,
) -> None:
    made = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    with sqlite_engine.begin() as connection:  # as rows written before the recorder existed
        for name in ("old-a", "old-b"):
            connection.execute(
                text(
                    "INSERT INTO task (name, description, command, labels, schedules, blackouts,"
                    " active, gpus, mounts, env, retry_attempts, retry_delay_seconds,"
                    " retry_exponential, concurrency, misfire, misfire_grace_seconds,"
                    " misfire_max_replays, instance, params, variable_sets, locks, version,"
                    " created_at, updated_at) VALUES (:name, '', 'true', '{}', '[]', '[]', 1,"
                    " '[]', '[]', '{}', 0, 0, 0, 'allow', 'run_once', 3600, 10, 'default', '[]',"
                    " '[]', '[]', 0, :at, :at)"
                ),
                {"name": name, "at": made.replace(tzinfo=None)},
            )
    with Session(sqlite_engine) as session:
        ids = {t.name: t.id or 0 for t in session.exec(select(Task)).all()}
    # Read before the server recorded baselines: the read records it.
    with session_scope(sqlite_engine) as session:
        listed = versions.list_versions(session, actor=ADMIN, kind="task", object_id=ids["old-a"])
    assert [(v.number, v.action, v.via, v.at) for v in listed] == [(1, "baseline", "system", made)]
    assert versions.record_baselines(sqlite_engine) == 1  # old-b only
    run = tasks.force_run(sqlite_engine, actor=ADMIN, now=NOW, tid=ids["old-b"])
    assert run.task_version == 1
    with Session(sqlite_engine) as session:
        assert session.get(Run, run.id) is not None
