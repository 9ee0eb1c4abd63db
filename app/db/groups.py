"""Group rows, membership and dependency edges, with the rules checked on every edit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.db.pools import check_group_admission, lock_dicts
from app.db.tables import (
    DependencyEdge,
    Freeze,
    GroupDependency,
    GroupRun,
    Run,
    Task,
    TaskGroup,
)
from app.db.timing_fields import TIMING_FIELDS, check_timing, timing_values
from app.db.variable_sets import check_variable_sets
from app.domain.dag import CycleError, Edge, EdgeCondition, check_acyclic
from app.domain.group_run_states import GroupRunStatus
from app.errors import Conflict, InvalidInput, NotFound


def get_group(session: Session, gid: int) -> TaskGroup:
    group = session.get(TaskGroup, gid)
    if group is None:
        raise NotFound("group", gid)
    return group


def member_ids(session: Session, gid: int) -> list[int]:
    stmt = select(Task.id).where(Task.group_id == gid).order_by(col(Task.id))
    return [int(t) for t in session.exec(stmt).all() if t is not None]


def group_edges(session: Session, gid: int) -> list[Edge]:
    """The group's edges in the order they were made (three columns: settling and dispatch
    read them after every ended run of a group run)."""
    rows = session.exec(
        select(DependencyEdge.upstream_id, DependencyEdge.downstream_id, DependencyEdge.condition)
        .where(DependencyEdge.group_id == gid)
        .order_by(col(DependencyEdge.id))
    ).all()
    return [Edge(up, down, EdgeCondition(condition)) for up, down, condition in rows]


def task_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(Task.id, Task.name).where(col(Task.id).in_(ids))).all()
    return {int(i): n for i, n in rows if i is not None}


def _check_fields(session: Session, values: dict[str, Any], instance: str, gid: int | None) -> None:
    name = values.get("name")
    if name is not None:
        clash = session.exec(
            select(TaskGroup.id).where(TaskGroup.name == name, TaskGroup.instance == instance)
        ).first()
        if clash is not None and clash != gid:
            raise Conflict(f"name: a group named {name!r} already exists in instance {instance!r}")


def _normalise(values: dict[str, Any]) -> dict[str, Any]:
    if "locks" in values:
        values["locks"] = lock_dicts(values["locks"])
    return timing_values(values)


def set_members(session: Session, group: TaskGroup, tids: Sequence[int]) -> None:
    """Make exactly `tids` the group's tasks; a task belongs to at most one group."""
    wanted = list(dict.fromkeys(tids))
    rows = session.exec(select(Task).where(col(Task.id).in_(wanted))).all() if wanted else []
    found = {t.id: t for t in rows}
    for tid in wanted:
        task = found.get(tid)
        if task is None:
            raise InvalidInput("tasks", f"no task with tid {tid}")
        if task.group_id not in (None, group.id):
            raise Conflict(f"tasks: task {task.name!r} already belongs to group {task.group_id}")
        if task.instance != group.instance:
            raise InvalidInput(
                "tasks",
                f"task {task.name!r} is in instance {task.instance!r}, "
                f"the group in {group.instance!r}",
            )
    leaving = [tid for tid in member_ids(session, group.id or 0) if tid not in found]
    if leaving:
        session.exec(
            delete(DependencyEdge).where(
                col(DependencyEdge.group_id) == group.id,
                col(DependencyEdge.upstream_id).in_(leaving)
                | col(DependencyEdge.downstream_id).in_(leaving),
            )
        )
        session.exec(update(Task).where(col(Task.id).in_(leaving)).values(group_id=None))
    for task in rows:
        task.group_id = group.id


def create_group(session: Session, fields: dict[str, Any], *, now: datetime) -> TaskGroup:
    values = _normalise(dict(fields))
    tids = values.pop("tasks", None) or []
    _check_fields(session, values, values.get("instance", "default"), None)
    check_variable_sets(
        session, values.get("variable_sets") or [], values.get("instance", "default")
    )
    group = TaskGroup(**values, created_at=now, updated_at=now)
    check_timing(session, group.schedule, group.schedules, now=now)
    check_group_admission(session, group)
    session.add(group)
    session.flush()
    set_members(session, group, tids)
    return group


def update_group(
    session: Session, group: TaskGroup, changed: dict[str, Any], *, now: datetime
) -> TaskGroup:
    values = _normalise(dict(changed))
    for required in ("name", "active", "instance"):
        if required in values and values[required] is None:
            raise InvalidInput(required, "must not be null")
    tids = values.pop("tasks", None)
    _check_fields(session, values, values.get("instance") or group.instance, group.id)
    if "variable_sets" in values or "instance" in values:
        values["variable_sets"] = list(values.get("variable_sets", group.variable_sets) or [])
        check_variable_sets(
            session, values["variable_sets"], values.get("instance") or group.instance
        )
    for required in ("pool_slots", "priority"):
        if required in values and values[required] is None:
            raise InvalidInput(required, "must not be null")
    for key, value in values.items():
        setattr(group, key, [] if key in ("params", "locks") and value is None else value)
    if set(values) & set(TIMING_FIELDS):
        check_timing(session, group.schedule, group.schedules, now=now)
    check_group_admission(session, group)
    group.updated_at = now
    if tids is not None:
        set_members(session, group, tids)
    session.flush()
    return group


def delete_group(session: Session, group: TaskGroup) -> None:
    """Delete the group; its tasks stay as standalone tasks, its history stays."""
    gid = group.id
    session.exec(delete(DependencyEdge).where(col(DependencyEdge.group_id) == gid))
    session.exec(
        delete(GroupDependency).where(
            (col(GroupDependency.group_id) == gid) | (col(GroupDependency.upstream_group_id) == gid)
        )
    )
    session.exec(delete(Freeze).where(col(Freeze.group_id) == gid))
    session.exec(update(Task).where(col(Task.group_id) == gid).values(group_id=None))
    idle = list(
        session.exec(
            select(GroupRun.id).where(
                GroupRun.group_id == gid, GroupRun.status == GroupRunStatus.IDLE
            )
        ).all()
    )
    if idle:
        session.exec(delete(GroupRun).where(col(GroupRun.id).in_(idle)))
    session.exec(
        update(Run)
        .where(col(Run.group_run_id).in_(select(GroupRun.id).where(GroupRun.group_id == gid)))
        .values(group_run_id=None)
    )
    session.exec(delete(GroupRun).where(col(GroupRun.group_id) == gid))
    session.delete(group)


def add_edge(session: Session, group: TaskGroup, edge: Edge) -> DependencyEdge:
    """Add `edge` when both ends are in the group and the graph stays acyclic."""
    members = member_ids(session, group.id or 0)
    for field, tid in (("upstream", edge.upstream), ("downstream", edge.downstream)):
        if tid not in members:
            raise InvalidInput(field, f"task {tid} is not in group {group.name!r}")
    edges = group_edges(session, group.id or 0)
    names = task_names(session, members)
    if any((e.upstream, e.downstream) == (edge.upstream, edge.downstream) for e in edges):
        up, down = (
            names.get(edge.upstream, edge.upstream),
            names.get(edge.downstream, edge.downstream),
        )
        raise Conflict(f"edge {up!r} -> {down!r} already exists")
    try:
        check_acyclic(members, [*edges, edge], names)
    except CycleError as exc:
        raise Conflict(str(exc)) from exc
    row = DependencyEdge(
        group_id=group.id or 0,
        upstream_id=edge.upstream,
        downstream_id=edge.downstream,
        condition=edge.condition.value,
    )
    session.add(row)
    session.flush()
    return row


def remove_edge(session: Session, group: TaskGroup, upstream: int, downstream: int) -> None:
    row = session.exec(
        select(DependencyEdge).where(
            DependencyEdge.group_id == group.id,
            DependencyEdge.upstream_id == upstream,
            DependencyEdge.downstream_id == downstream,
        )
    ).first()
    if row is None:
        raise NotFound("edge", f"{upstream} -> {downstream}")
    session.delete(row)


def upstream_groups(session: Session, gid: int) -> list[int]:
    stmt = select(GroupDependency.upstream_group_id).where(GroupDependency.group_id == gid)
    return sorted(int(g) for g in session.exec(stmt).all())


def add_group_dependency(session: Session, group: TaskGroup, upstream_gid: int) -> None:
    """`group` waits for `upstream_gid`'s run of the same business date; no cycles."""
    upstream = get_group(session, upstream_gid)
    if upstream.id == group.id:
        raise InvalidInput("upstream_group", "a group cannot wait for itself")
    pairs = session.exec(select(GroupDependency.upstream_group_id, GroupDependency.group_id)).all()
    edges = [Edge(int(u), int(d)) for u, d in pairs]
    if any((e.upstream, e.downstream) == (upstream_gid, group.id) for e in edges):
        raise Conflict(f"group {group.name!r} already waits for {upstream.name!r}")
    nodes = {n for e in edges for n in (e.upstream, e.downstream)} | {upstream_gid, group.id or 0}
    names = {g.id or 0: g.name for g in session.exec(select(TaskGroup)).all()}
    try:
        check_acyclic(nodes, [*edges, Edge(upstream_gid, group.id or 0)], names)
    except CycleError as exc:
        raise Conflict(str(exc)) from exc
    session.add(GroupDependency(group_id=group.id or 0, upstream_group_id=upstream_gid))
