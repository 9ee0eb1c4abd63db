"""The database as a Snapshot: what `GET /export` returns, and what an import compares with."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col, select

from app.db.tables import Calendar, DependencyEdge, GroupDependency, Task, TaskGroup
from app.io.definition_items import calendar_row_item, group_row_item, task_row_item
from app.io.snapshot import Snapshot, dependency_item, group_dependency_item
from app.models.io_schemas import DependencyItem, GroupDependencyItem


def _visible(instance: str, instances: Collection[str] | None) -> bool:
    return instances is None or instance in instances


def database_snapshot(
    session: Session, instances: Collection[str] | None = None, *, reveal_env: bool = True
) -> Snapshot:
    """Every calendar, and the groups, tasks and edges of `instances` (None: all of them).
    Env values are masked unless `reveal_env`; secrets are named, their values left out
    (null: "keep what the server holds" when the file is imported again)."""
    snap = Snapshot()
    for cal in session.exec(select(Calendar).order_by(col(Calendar.name))).all():
        snap.add("calendar", calendar_row_item(cal))
    groups = {g.id: g for g in session.exec(select(TaskGroup)).all()}
    for group in groups.values():
        if _visible(group.instance, instances):
            snap.add("group", group_row_item(group))
    tasks = {t.id: t for t in session.exec(select(Task)).all()}
    for task in tasks.values():
        if not _visible(task.instance, instances):
            continue
        owner = groups.get(task.group_id)
        name = owner.name if owner is not None else None
        snap.add("task", task_row_item(session, task, name, reveal_env=reveal_env))
    for edge in session.exec(select(DependencyEdge)).all():
        owner, up, down = (
            groups.get(edge.group_id),
            tasks.get(edge.upstream_id),
            tasks.get(edge.downstream_id),
        )
        if owner is None or up is None or down is None or not _visible(owner.instance, instances):
            continue
        if up.group_id != owner.id or down.group_id != owner.id:
            continue  # left over from a task that moved to another group
        snap.add(
            "dependency",
            dependency_item(
                DependencyItem(
                    group=owner.name,
                    upstream=up.name,
                    downstream=down.name,
                    condition=edge.condition,
                    instance=owner.instance,
                )
            ),
        )
    for dep in session.exec(select(GroupDependency)).all():
        waiting, upstream = groups.get(dep.group_id), groups.get(dep.upstream_group_id)
        if waiting is None or upstream is None:
            continue
        if not (_visible(waiting.instance, instances) and _visible(upstream.instance, instances)):
            continue
        snap.add(
            "group_dependency",
            group_dependency_item(
                GroupDependencyItem(
                    group=waiting.name,
                    upstream_group=upstream.name,
                    instance=waiting.instance,
                    upstream_instance=upstream.instance,
                )
            ),
        )
    return snap
