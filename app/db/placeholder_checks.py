"""Save-time checks of placeholders: an unknown one is refused when the definition is saved
(task create/update, a group's params or members changing), naming the field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlmodel import Session, select

from app.db.sealing import box_or_none, task_env
from app.db.tables import Task, TaskGroup
from app.domain.placeholders import check_fields
from app.errors import InvalidInput


def declared_names(*declarations: Iterable[Mapping[str, Any]]) -> set[str]:
    return {str(d["name"]) for decls in declarations for d in decls}


def check_definition(
    *,
    command: str | None,
    env: Mapping[str, str],
    workdir: str | None,
    mounts: Sequence[str],
    param_names: set[str],
) -> None:
    """InvalidInput naming the first field with a bad placeholder."""
    problems = check_fields(
        command=command, env=env, workdir=workdir, mounts=mounts, param_names=param_names
    )
    if problems:
        raise InvalidInput(*problems[0])


def check_task_placeholders(session: Session, task: Task) -> None:
    """The task as it is now: `${param.NAME}` must be declared by it or by its group."""
    group = session.get(TaskGroup, task.group_id) if task.group_id is not None else None
    env = task_env(task, box_or_none(session) if task.env_sealed else None).env
    check_definition(
        command=task.command,
        env=env,
        workdir=task.workdir,
        mounts=task.mounts,
        param_names=declared_names(task.params, group.params if group else []),
    )


def check_group_placeholders(session: Session, group: TaskGroup) -> None:
    """Every member task still finds the parameters its placeholders name."""
    for task in session.exec(select(Task).where(Task.group_id == group.id)).all():
        try:
            check_task_placeholders(session, task)
        except InvalidInput as exc:
            raise InvalidInput(
                "params", f"task {task.name!r} {exc.field} still uses it: {exc.problem}"
            ) from None
