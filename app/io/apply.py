"""Writing a checked import plan, inside the caller's transaction, then re-planning schedules.

Order: calendars, groups, tasks (so references exist when they are written), edges, group
dependencies; then deletions, tasks before groups before calendars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.db.calendars import groups_affected, task_ids_affected
from app.db.groups import create_group, delete_group, update_group
from app.db.tables import Calendar, DependencyEdge, GroupDependency, Task, TaskGroup
from app.db.tasks import create_task, delete_task, update_task
from app.domain.events import DefinitionChanged
from app.io.importer import Plan
from app.io.snapshot import Item, Key
from app.scheduler.group_planner import plan_group
from app.scheduler.planner import Calendars, plan_tasks


@dataclass
class Applied:
    """The tasks and groups the import created, changed or deleted: their timers move."""

    tasks: set[int] = field(default_factory=set)
    groups: set[int] = field(default_factory=set)

    def definition_changes(self) -> list[DefinitionChanged]:
        """What the import changed, for the scheduler's timers (after commit)."""
        return [
            *(DefinitionChanged("task", tid) for tid in self.tasks),
            *(DefinitionChanged("group", gid) for gid in self.groups),
        ]


@dataclass
class _Rows:
    session: Session
    calendars: dict[str, Calendar] = field(default_factory=dict)
    groups: dict[tuple[str, str], TaskGroup] = field(default_factory=dict)
    tasks: dict[tuple[str, str], Task] = field(default_factory=dict)

    def load(self) -> _Rows:
        self.calendars = {c.name: c for c in self.session.exec(select(Calendar)).all()}
        self.groups = {(g.instance, g.name): g for g in self.session.exec(select(TaskGroup)).all()}
        self.tasks = {(t.instance, t.name): t for t in self.session.exec(select(Task)).all()}
        return self

    def gid(self, instance: str, name: str | None) -> int | None:
        return None if name is None else self.groups[(instance, name)].id

    def tid(self, instance: str, name: str) -> int:
        return self.tasks[(instance, name)].id or 0


# The document's field -> the row's column, where they differ.
_CALENDAR_COLUMNS = {"include": "include_calendars", "exclude": "exclude_calendars"}


def _calendar_values(item: Item) -> dict[str, Any]:
    fields = (
        "name",
        "description",
        "country",
        "subdivision",
        "categories",
        "skip_weekends",
        "extra_dates",
        "working_dates",
        "include",
        "exclude",
    )
    return {_CALENDAR_COLUMNS.get(k, k): item[k] for k in fields}


def _group_values(item: Item) -> dict[str, Any]:
    keys = (
        "name",
        "description",
        "schedule",
        "schedules",
        "blackouts",
        "active",
        "instance",
        "params",
        "variable_sets",
        "pool",
        "pool_slots",
        "priority",
        "locks",
    )
    return {k: item[k] for k in keys if k in item}


def _task_values(rows: _Rows, item: Item) -> dict[str, Any]:
    values = dict(item)
    values["group"] = rows.gid(item["instance"], item["group"])
    return values


def apply_plan(session: Session, plan: Plan, *, now: datetime) -> Applied:
    d, desired, rows = plan.diff, plan.desired, _Rows(session).load()
    for key in d.create["calendar"]:
        row = Calendar(
            **_calendar_values(desired.of("calendar")[key]), created_at=now, updated_at=now
        )
        session.add(row)
        rows.calendars[key[0]] = row
    for key, fields in d.update["calendar"].items():
        row = rows.calendars[key[0]]
        for name in fields:
            setattr(row, _CALENDAR_COLUMNS.get(name, name), desired.of("calendar")[key][name])
        row.updated_at = now
    session.flush()
    replan_groups: set[int] = set()
    for key in d.create["group"]:
        group = create_group(session, _group_values(desired.of("group")[key]), now=now)
        rows.groups[(key[0], key[1])] = group
        replan_groups.add(group.id or 0)
    for key, fields in d.update["group"].items():
        group = rows.groups[(key[0], key[1])]
        item = desired.of("group")[key]
        update_group(session, group, {f: item[f] for f in fields}, now=now)
        replan_groups.add(group.id or 0)
    replan_tasks: set[int] = set()
    for key in d.create["task"]:
        task = create_task(session, _task_values(rows, desired.of("task")[key]), now=now)
        rows.tasks[(key[0], key[1])] = task
        replan_tasks.add(task.id or 0)
    for key, fields in d.update["task"].items():
        task = rows.tasks[(key[0], key[1])]
        values = _task_values(rows, desired.of("task")[key])
        update_task(session, task, {f: values[f] for f in fields}, now=now)
        replan_tasks.add(task.id or 0)
    _apply_edges(session, plan, rows)
    applied = _deletions(session, plan, rows)
    for key in [*d.update["calendar"]]:
        replan_tasks |= set(task_ids_affected(session, key[0]))
        replan_groups |= {g.id or 0 for g in groups_affected(session, key[0])}
    _replan(session, replan_tasks, replan_groups, applied, now)
    return applied


def _edge_ids(rows: _Rows, key: Key) -> tuple[int, int, int]:
    instance, group, up, down = key
    return rows.gid(instance, group) or 0, rows.tid(instance, up), rows.tid(instance, down)


def _group_dep_ids(rows: _Rows, key: Key) -> tuple[int, int]:
    return rows.gid(key[0], key[1]) or 0, rows.gid(key[2], key[3]) or 0


def _apply_edges(session: Session, plan: Plan, rows: _Rows) -> None:
    d, desired = plan.diff, plan.desired
    for key in d.delete["dependency"]:
        _gid, up, down = _edge_ids(rows, key)
        session.exec(
            delete(DependencyEdge).where(
                col(DependencyEdge.upstream_id) == up, col(DependencyEdge.downstream_id) == down
            )
        )
    for key in d.update["dependency"]:
        _gid, up, down = _edge_ids(rows, key)
        row = session.exec(
            select(DependencyEdge).where(
                DependencyEdge.upstream_id == up, DependencyEdge.downstream_id == down
            )
        ).one()
        row.condition = desired.of("dependency")[key]["condition"]
    for key in d.create["dependency"]:
        gid, up, down = _edge_ids(rows, key)
        session.add(
            DependencyEdge(
                group_id=gid,
                upstream_id=up,
                downstream_id=down,
                condition=desired.of("dependency")[key]["condition"],
            )
        )
    for key in d.delete["group_dependency"]:
        gid, upstream = _group_dep_ids(rows, key)
        session.exec(
            delete(GroupDependency).where(
                col(GroupDependency.group_id) == gid,
                col(GroupDependency.upstream_group_id) == upstream,
            )
        )
    for key in d.create["group_dependency"]:
        gid, upstream = _group_dep_ids(rows, key)
        session.add(GroupDependency(group_id=gid, upstream_group_id=upstream))
    session.flush()


def _deletions(session: Session, plan: Plan, rows: _Rows) -> Applied:
    applied = Applied()
    for key in plan.diff.delete["task"]:
        task = rows.tasks.pop((key[0], key[1]))
        applied.tasks.add(task.id or 0)
        delete_task(session, task)
    session.flush()
    for key in plan.diff.delete["group"]:
        group = rows.groups.pop((key[0], key[1]))
        applied.groups.add(group.id or 0)
        delete_group(session, group)
    session.flush()
    for key in plan.diff.delete["calendar"]:
        session.delete(rows.calendars.pop(key[0]))
    session.flush()
    return applied


def _replan(
    session: Session, task_ids: set[int], group_ids: set[int], applied: Applied, now: datetime
) -> None:
    calendars = Calendars(session)
    found = [session.get(Task, tid) for tid in sorted(task_ids - applied.tasks)]
    tasks = [task for task in found if task is not None]
    plan_tasks(session, tasks, now=now, calendars=calendars)  # a few queries for them all
    applied.tasks.update(task.id or 0 for task in tasks)
    for gid in sorted(group_ids - applied.groups):
        group = session.get(TaskGroup, gid)
        if group is not None:
            plan_group(session, group, now=now, calendars=calendars)
            applied.groups.add(gid)
    session.flush()
