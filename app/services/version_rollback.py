"""Rollback: a task or group takes the definition of one of its versions again, through the
same checks and effects as an edit (`change_task` / `change_group`: validation, run
policies, the re-plan, the audit, the timers told), and its dependencies with it. The
result is a new version that names the one it restored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.db import versions as recorder
from app.db.engine import session_scope
from app.db.groups import add_edge, add_group_dependency
from app.db.tables import DependencyEdge, GroupDependency, Task, TaskGroup
from app.db.version_reads import Definitions
from app.db.version_tables import DefinitionVersion
from app.domain.dag_graph import Edge, EdgeCondition
from app.domain.roles import Role
from app.errors import Conflict, InvalidInput
from app.models.group_schemas import GroupUpdate
from app.models.schemas import TaskUpdate
from app.models.version_schemas import VersionPublic
from app.services.actor import Actor
from app.services.groups import change_group, visible_group
from app.services.tasks import change_task, visible_task
from app.services.versions import find_version, read_version

_TASK_EXTRAS = ("upstreams", "env", "secrets")  # restored apart from the update body
_GROUP_EXTRAS = ("edges", "waits_for")


def _wanted(session: Session, kind: str, object_id: int, number: int) -> DefinitionVersion:
    version, _ = find_version(session, kind, object_id, number)
    if version.action == "deleted":
        raise Conflict(f"version {number} records the deletion: roll back to an earlier one")
    return version


def _changes(
    current: dict[str, Any], wanted: dict[str, Any], extras: tuple[str, ...]
) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if k not in extras and current.get(k) != v}


def _group_id(session: Session, instance: str, name: str | None) -> int | None:
    if name is None:
        return None
    gid = session.exec(
        select(TaskGroup.id).where(TaskGroup.instance == instance, TaskGroup.name == name)
    ).first()
    if gid is None:
        raise InvalidInput("group", f"group {name!r} no longer exists in instance {instance!r}")
    return gid


def rollback_task(
    engine: Engine, *, actor: Actor, now: datetime, tid: int, number: int
) -> VersionPublic:
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        task = visible_task(session, actor.scope, tid)
        version = _wanted(session, "task", tid, number)
        wanted = version.definition
        current = Definitions(session, {("task", tid)}).definition("task", task)
        if current == wanted and version.env_sealed == task.env_sealed:
            raise Conflict(f"task {tid} has the definition of version {number} already")
        fields = _changes(current, wanted, _TASK_EXTRAS)
        if "group" in fields:
            fields["group"] = _group_id(session, wanted["instance"], fields["group"])
        body = _validated(TaskUpdate, fields)
        task.env_sealed, task.env = version.env_sealed, {}
        changed = {k: getattr(body, k) for k in body.model_fields_set}
        change_task(
            session, actor=actor, now=now, task=task, changed=changed, action="task.rollback"
        )
        _restore_upstreams(session, task, wanted.get("upstreams", []))
        recorder.mark_rollback(session, "task", tid, number)
    with session_scope(engine) as session:
        return read_version(session, actor=actor, kind="task", object_id=tid, number=task.version)


def _validated(model: type[TaskUpdate] | type[GroupUpdate], fields: dict[str, Any]) -> Any:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:  # a rule added since the version was saved
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidInput(where, str(error["msg"])) from exc


def _restore_upstreams(session: Session, task: Task, wanted: list[dict[str, Any]]) -> None:
    """The task's incoming edges become those of the version (cycles refused as on any edit)."""
    session.flush()
    group = session.get(TaskGroup, task.group_id) if task.group_id is not None else None
    names: dict[str, int] = {}
    if group is not None:
        members = session.exec(select(Task).where(Task.group_id == group.id)).all()
        names = {member.name: member.id or 0 for member in members}
    want: set[tuple[int, str]] = set()
    for edge in wanted:
        if edge["upstream"] not in names or group is None:
            raise InvalidInput(
                "upstreams", f"task {edge['upstream']!r} is no longer in the task's group"
            )
        want.add((names[edge["upstream"]], edge["condition"]))
    existing = session.exec(
        select(DependencyEdge).where(DependencyEdge.downstream_id == task.id)
    ).all()
    kept: set[tuple[int, str]] = set()
    for row in existing:
        if (row.upstream_id, row.condition) in want and row.group_id == task.group_id:
            kept.add((row.upstream_id, row.condition))
        else:
            session.delete(row)
    session.flush()
    for upstream, condition in sorted(want - kept):
        assert group is not None
        add_edge(session, group, Edge(upstream, task.id or 0, EdgeCondition(condition)))


def rollback_group(
    engine: Engine, *, actor: Actor, now: datetime, gid: int, number: int
) -> VersionPublic:
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        group = visible_group(session, actor.scope, gid)
        version = _wanted(session, "group", gid, number)
        wanted = version.definition
        current = Definitions(session, {("group", gid)}).definition("group", group)
        if current == wanted:
            raise Conflict(f"group {gid} has the definition of version {number} already")
        body = _validated(GroupUpdate, _changes(current, wanted, _GROUP_EXTRAS))
        changed = {k: getattr(body, k) for k in body.model_fields_set}
        change_group(
            session, actor=actor, now=now, group=group, changed=changed, action="group.rollback"
        )
        _restore_edges(session, group, wanted.get("edges", []))
        _restore_waits(session, actor, group, wanted.get("waits_for", []))
        recorder.mark_rollback(session, "group", gid, number)
    with session_scope(engine) as session:
        return read_version(session, actor=actor, kind="group", object_id=gid, number=group.version)


def _restore_edges(session: Session, group: TaskGroup, wanted: list[dict[str, Any]]) -> None:
    session.flush()
    members = session.exec(select(Task).where(Task.group_id == group.id)).all()
    names = {member.name: member.id or 0 for member in members}
    want: set[tuple[int, int, str]] = set()
    for edge in wanted:
        for end in ("upstream", "downstream"):
            if edge[end] not in names:
                raise InvalidInput(
                    "edges", f"task {edge[end]!r} is no longer in group {group.name!r}"
                )
        want.add((names[edge["upstream"]], names[edge["downstream"]], edge["condition"]))
    kept: set[tuple[int, int, str]] = set()
    for row in session.exec(select(DependencyEdge).where(DependencyEdge.group_id == group.id)):
        key = (row.upstream_id, row.downstream_id, row.condition)
        if key in want:
            kept.add(key)
        else:
            session.delete(row)
    session.flush()
    for upstream, downstream, condition in sorted(want - kept):
        add_edge(session, group, Edge(upstream, downstream, EdgeCondition(condition)))


def _restore_waits(
    session: Session, actor: Actor, group: TaskGroup, wanted: list[dict[str, Any]]
) -> None:
    want: set[int] = set()
    for item in wanted:
        instance = item["instance"] or group.instance
        gid = session.exec(
            select(TaskGroup.id).where(
                TaskGroup.instance == instance, TaskGroup.name == item["group"]
            )
        ).first()
        if gid is None or not actor.scope.allows(instance):
            raise InvalidInput("waits_for", f"group {item['group']!r} no longer exists")
        want.add(gid)
    rows = session.exec(select(GroupDependency).where(GroupDependency.group_id == group.id)).all()
    for row in rows:
        if row.upstream_group_id not in want:
            session.delete(row)
    session.flush()
    for upstream in sorted(want - {row.upstream_group_id for row in rows}):
        add_group_dependency(session, group, upstream)
