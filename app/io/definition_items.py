"""One row as the export document's item for it: what `GET /export` writes for a calendar,
group or task, and what a definition version keeps (app/db/versions.py)."""

from __future__ import annotations

from sqlmodel import Session

from app.db.sealing import box_or_none, task_env
from app.db.tables import Calendar, Task, TaskGroup
from app.io.snapshot import Item, calendar_item, group_item, task_item
from app.models.io_schemas import CalendarItem, GroupItem, TaskItem


def calendar_row_item(cal: Calendar) -> Item:
    return calendar_item(
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
    )


def group_row_item(group: TaskGroup) -> Item:
    return group_item(
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
    )


_TASK_FIELDS = set(TaskItem.model_fields) - {"group"}


def task_row_item(
    session: Session, task: Task, group_name: str | None, *, reveal_env: bool
) -> Item:
    """Env values masked unless `reveal_env`; secrets named, their values left out."""
    values = task.model_dump(include=_TASK_FIELDS)
    values["group"] = group_name
    sealed = task_env(task, box_or_none(session) if task.env_sealed else None)
    values["env"] = sealed.shown_env(reveal_env)
    values["secrets"] = dict.fromkeys(sealed.secrets)
    return task_item(TaskItem.model_validate(values))
