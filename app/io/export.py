"""The database as a Snapshot: what `GET /export` returns, and what an import compares with."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col, select

from app.db.sealing import box_or_none, task_env
from app.db.tables import Calendar, DependencyEdge, GroupDependency, Task, TaskGroup
from app.io.snapshot import (
    Snapshot,
    calendar_item,
    dependency_item,
    group_dependency_item,
    group_item,
    task_item,
)
from app.models.io_schemas import (
    CalendarItem,
    DependencyItem,
    GroupDependencyItem,
    GroupItem,
    TaskItem,
)


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
        snap.add(
            "calendar",
            calendar_item(
                CalendarItem(
                    name=cal.name,
                    description=cal.description,
                    country=cal.country,
                    subdivision=cal.subdivision,
                    categories=cal.categories,
                    skip_weekends=cal.skip_weekends,
                    extra_dates=cal.extra_dates,
                    working_dates=cal.working_dates,
                    include=cal.include_calendars,
                    exclude=cal.exclude_calendars,
                )
            ),
        )
    groups = {g.id: g for g in session.exec(select(TaskGroup)).all()}
    for group in groups.values():
        if _visible(group.instance, instances):
            snap.add(
                "group",
                group_item(
                    GroupItem.model_validate(
                        {
                            "name": group.name,
                            "description": group.description,
                            "schedule": group.schedule,
                            "schedules": group.schedules,
                            "blackouts": group.blackouts,
                            "active": group.active,
                            "instance": group.instance,
                            "params": group.params,
                            "variable_sets": group.variable_sets,
                            "pool": group.pool,
                            "pool_slots": group.pool_slots,
                            "priority": group.priority,
                            "locks": group.locks,
                        }
                    )
                ),
            )
    tasks = {t.id: t for t in session.exec(select(Task)).all()}
    for task in tasks.values():
        if not _visible(task.instance, instances):
            continue
        values = task.model_dump(include=set(TaskItem.model_fields) - {"group"})
        owner = groups.get(task.group_id)
        values["group"] = owner.name if owner is not None else None
        sealed = task_env(task, box_or_none(session) if task.env_sealed else None)
        values["env"] = sealed.shown_env(reveal_env)
        values["secrets"] = dict.fromkeys(sealed.secrets)
        snap.add("task", task_item(TaskItem.model_validate(values)))
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
