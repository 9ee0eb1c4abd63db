"""Moving definitions into another instance: a task or a group takes along what is still
ahead of it (planned runs and group runs, alert rules), so nothing of it stays visible to, or
runs in, the instance it left. Finished runs keep the instance they ran in (history)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.db.alert_tables import AlertRule
from app.db.tables import GroupRun, Integration, Run, Task, TaskGroup
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import RunStatus
from app.errors import Conflict, InvalidInput


def move_group(session: Session, group: TaskGroup, instance: str) -> list[Task]:
    """Put `group` and all its tasks into `instance`; the moved tasks are returned."""
    tasks = list(session.exec(select(Task).where(Task.group_id == group.id)).all())
    for task in tasks:
        clash = session.exec(
            select(Task.id).where(Task.name == task.name, Task.instance == instance)
        ).first()
        if clash is not None and clash != task.id:
            raise Conflict(
                f"instance: a task named {task.name!r} already exists in instance {instance!r}"
            )
        task.instance = instance
        session.add(task)
    group.instance = instance
    session.add(group)
    session.exec(
        update(GroupRun)
        .where(col(GroupRun.group_id) == group.id, col(GroupRun.status) == GroupRunStatus.IDLE)
        .values(instance=instance)
    )
    _carry_rules(session, select(AlertRule).where(AlertRule.group_id == group.id), instance)
    carry_task_extras(session, [t.id or 0 for t in tasks], instance)
    return tasks


def carry_task_extras(session: Session, task_ids: Sequence[int], instance: str) -> None:
    """The planned runs and the alert rules of moved tasks follow them into `instance`."""
    if not task_ids:
        return
    session.exec(
        update(Run)
        .where(col(Run.task_id).in_(task_ids), col(Run.status) == RunStatus.IDLE)
        .values(instance=instance)
    )
    _carry_rules(session, select(AlertRule).where(col(AlertRule.task_id).in_(task_ids)), instance)


def _carry_rules(session: Session, stmt: SelectOfScalar[AlertRule], instance: str) -> None:
    for rule in session.exec(stmt).all():
        integration = session.get(Integration, rule.integration_id)
        if integration is not None and integration.instance not in (None, instance):
            raise InvalidInput(
                "instance",
                f"alert rule {rule.id} sends through integration "
                f"{integration.name!r} of instance "
                f"{integration.instance!r}",
            )
        rule.instance = instance
        session.add(rule)
