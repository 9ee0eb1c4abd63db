"""Definition history, read in the caller's scope: a task's or group's versions, one version
with its diff against the one before, and the baseline of objects history has not seen yet."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db import versions as recorder
from app.db.calendars import get_calendar
from app.db.engine import session_scope
from app.db.tables import Calendar, Task, TaskGroup
from app.db.version_reads import versions_of
from app.db.version_tables import DefinitionVersion
from app.domain.definition_diff import diff_definitions
from app.errors import NotFound
from app.models.version_schemas import FieldChangePublic, VersionPublic, VersionSummary
from app.services.actor import Actor
from app.services.groups import visible_group
from app.services.tasks import visible_task

Row = Task | TaskGroup | Calendar
_MODELS: dict[str, type[Task] | type[TaskGroup] | type[Calendar]] = {
    "task": Task,
    "group": TaskGroup,
    "calendar": Calendar,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _baseline(session: Session, kind: str, rows: Sequence[Row]) -> None:
    """Version 1 of rows written before history existed, dated when they last changed."""
    for row in rows:
        at = row.updated_at or row.created_at or _EPOCH
        acting = recorder.Acting(None, "system", None, at)
        recorder.record(session, [(kind, row.id or 0)], acting=acting)


def record_baselines(engine: Engine, batch: int = 500) -> int:
    """Give every task, group and calendar without a version its version 1 (server start)."""
    done = 0
    for kind, model in _MODELS.items():
        while True:
            with session_scope(engine) as session:
                rows = cast(
                    Sequence[Row],
                    session.exec(
                        select(model).where(model.version == 0).order_by(col(model.id)).limit(batch)
                    ).all(),
                )
                _baseline(session, kind, rows)
            done += len(rows)
            if len(rows) < batch:
                break
    return done


def _visible_row(session: Session, actor: Actor, kind: str, object_id: int) -> Row:
    if kind == "task":
        row: Row = visible_task(session, actor.scope, object_id)
    elif kind == "group":
        row = visible_group(session, actor.scope, object_id)
    else:  # calendars are shared by every instance: every reader sees them
        found = session.get(Calendar, object_id)
        if found is None:
            raise NotFound("calendar", object_id)
        row = found
    if row.version == 0:  # seen before the server recorded its baselines
        _baseline(session, kind, [row])
        session.flush()
    return row


def _summary(version: DefinitionVersion, before: DefinitionVersion | None) -> VersionSummary:
    changes = _diff(version, before)
    return VersionSummary(
        kind=version.kind,
        object_id=version.object_id,
        number=version.number,
        name=version.name,
        instance=version.instance,
        action=version.action,
        rollback_of=version.rollback_of,
        actor=version.actor,
        via=version.via,
        source=version.source,
        at=version.at,
        changed=list(dict.fromkeys(c.field.split(".")[0] for c in changes)),
    )


def _diff(version: DefinitionVersion, before: DefinitionVersion | None) -> list[FieldChangePublic]:
    if version.action == "deleted":
        return []
    found = diff_definitions(
        before.definition if before else None, version.definition, version.hidden_changes
    )
    return [
        FieldChangePublic(field=c.field, change=c.change, before=c.before, after=c.after)
        for c in found
    ]


def list_versions(
    session: Session, *, actor: Actor, kind: str, object_id: int
) -> list[VersionSummary]:
    """Newest first."""
    _visible_row(session, actor, kind, object_id)
    rows = versions_of(session, kind, object_id)
    previous: list[DefinitionVersion | None] = [None, *rows[:-1]]
    return [_summary(v, b) for v, b in zip(rows, previous, strict=True)][::-1]


def read_version(
    session: Session, *, actor: Actor, kind: str, object_id: int, number: int
) -> VersionPublic:
    row = _visible_row(session, actor, kind, object_id)
    version, before = find_version(session, kind, object_id, number)
    return VersionPublic(
        **_summary(version, before).model_dump(),
        definition=version.definition,
        diff=_diff(version, before),
        current=row.version,
    )


def find_version(
    session: Session, kind: str, object_id: int, number: int
) -> tuple[DefinitionVersion, DefinitionVersion | None]:
    """The version and the one before it; NotFound when it has no such version."""
    rows = versions_of(session, kind, object_id)
    for index, version in enumerate(rows):
        if version.number == number:
            return version, rows[index - 1] if index else None
    raise NotFound(f"{kind} version", f"{object_id}/{number}")


def version_history(
    session: Session, *, actor: Actor, kind: str, object_id: int, limit: int = 100
) -> list[VersionPublic]:
    """The newest `limit` versions with their definitions and diffs, newest first (the
    history tab)."""
    row = _visible_row(session, actor, kind, object_id)
    rows = versions_of(session, kind, object_id)
    previous: list[DefinitionVersion | None] = [None, *rows[:-1]]
    shown = list(zip(rows, previous, strict=True))[-limit:]
    return [
        VersionPublic(
            **_summary(version, before).model_dump(),
            definition=version.definition,
            diff=_diff(version, before),
            current=row.version,
        )
        for version, before in reversed(shown)
    ]


def task_head(session: Session, *, actor: Actor, tid: int) -> int | None:
    """The task's latest version number; None when it is gone, out of scope or unversioned."""
    try:
        task = visible_task(session, actor.scope, tid)
    except NotFound:
        return None
    return task.version or None


def calendar_id(session: Session, *, actor: Actor, name: str) -> int:
    """The calendar's id for its history (NotFound without one of that name)."""
    return get_calendar(session, name).id or 0
