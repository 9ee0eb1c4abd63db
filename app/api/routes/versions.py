"""/tasks/{tid}/versions and /groups/{gid}/versions: definition history, one version with
its diff, and rollback (operators and above; a new version, audited); a calendar's
history (/calendars/{name}/versions) to read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.api.deps import ActorDep, ContextDep, OperatorDep, UserDep
from app.db.engine import session_scope
from app.models.version_schemas import VersionPublic, VersionSummary
from app.services import version_rollback, versions

router = APIRouter(tags=["history"])
Number = Annotated[int, Path(ge=1, description="the version number (1, 2, 3, ...)")]


@router.get("/tasks/{tid}/versions", response_model=list[VersionSummary])
def task_versions(
    tid: int, context: ContextDep, user: UserDep, actor: ActorDep
) -> list[VersionSummary]:
    """The task's versions, newest first."""
    with session_scope(context.engine) as session:
        return versions.list_versions(session, actor=actor, kind="task", object_id=tid)


@router.get("/tasks/{tid}/versions/{number}", response_model=VersionPublic)
def task_version(
    tid: int, number: Number, context: ContextDep, user: UserDep, actor: ActorDep
) -> VersionPublic:
    """The definition of that version and what changed from the one before."""
    with session_scope(context.engine) as session:
        return versions.read_version(
            session, actor=actor, kind="task", object_id=tid, number=number
        )


@router.post("/tasks/{tid}/versions/{number}/rollback", response_model=VersionPublic)
def rollback_task(
    tid: int, number: Number, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> VersionPublic:
    """The task takes version `number`'s definition again; answers the new version."""
    return version_rollback.rollback_task(
        context.engine, actor=actor, now=context.clock.now(), tid=tid, number=number
    )


@router.get("/groups/{gid}/versions", response_model=list[VersionSummary])
def group_versions(
    gid: int, context: ContextDep, user: UserDep, actor: ActorDep
) -> list[VersionSummary]:
    with session_scope(context.engine) as session:
        return versions.list_versions(session, actor=actor, kind="group", object_id=gid)


@router.get("/groups/{gid}/versions/{number}", response_model=VersionPublic)
def group_version(
    gid: int, number: Number, context: ContextDep, user: UserDep, actor: ActorDep
) -> VersionPublic:
    with session_scope(context.engine) as session:
        return versions.read_version(
            session, actor=actor, kind="group", object_id=gid, number=number
        )


@router.post("/groups/{gid}/versions/{number}/rollback", response_model=VersionPublic)
def rollback_group(
    gid: int, number: Number, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> VersionPublic:
    return version_rollback.rollback_group(
        context.engine, actor=actor, now=context.clock.now(), gid=gid, number=number
    )


@router.get("/calendars/{name}/versions", response_model=list[VersionSummary])
def calendar_versions(
    name: str, context: ContextDep, user: UserDep, actor: ActorDep
) -> list[VersionSummary]:
    """A calendar's versions, newest first (calendars change through their own routes)."""
    with session_scope(context.engine) as session:
        cid = versions.calendar_id(session, actor=actor, name=name)
        return versions.list_versions(session, actor=actor, kind="calendar", object_id=cid)


@router.get("/calendars/{name}/versions/{number}", response_model=VersionPublic)
def calendar_version(
    name: str, number: Number, context: ContextDep, user: UserDep, actor: ActorDep
) -> VersionPublic:
    with session_scope(context.engine) as session:
        cid = versions.calendar_id(session, actor=actor, name=name)
        return versions.read_version(
            session, actor=actor, kind="calendar", object_id=cid, number=number
        )
